"""PNG encoding and decoding on a fast deflate: ISA-L's (the `isal` package) where installed,
else zlib.

On a 2048² radiograph's outputs deflate is nearly all of a PNG's cost, and zlib's level 1 runs
at ~60-70 MB/s on noisy image rows here (the overlay: ~180 ms); ISA-L's level 1 takes ~35 ms for
a smaller file (bench/bench_png.py). The format is plain PNG (IHDR, IDAT, IEND; 8/16-bit grey
or 8-bit RGB; filter Up on every row), which every reader decodes. Rows are filtered and
deflated in bands, so a 20000² image needs no full-size temporary beyond its own pixels.

`decode` reads the PNGs radiographs come as (8/16-bit grey or RGB, not interlaced) with
libdeflate's inflate (the `deflate` package) and the core's row unfiltering: a 2048² 16-bit film
in about half OpenCV's time, without importing OpenCV, and with the GIL released for all but a
millisecond (so it overlaps model loading and inference). Anything else, or anything it finds
wrong (a CRC, the stream, the length), or no `deflate` installed, it leaves to OpenCV (None),
whose decoder and messages the raster reader then uses.
"""

import struct
import zlib

import numpy as np

from cxrmt import kernels

try:   # libdeflate: inflate into a buffer of the image's size, the GIL released throughout
    import deflate as _libdeflate

    INFLATE = "libdeflate"
except ImportError:   # pragma: no cover - exercised where deflate has no wheel
    _libdeflate, INFLATE = None, "opencv"

try:   # ISA-L: levels 0-3, zlib's stream format
    from isal import isal_zlib as _deflate

    DEFLATE, MAX_LEVEL = "isal", 3
except ImportError:   # pragma: no cover - exercised where isal has no wheel
    _deflate, DEFLATE, MAX_LEVEL = zlib, "zlib", 9

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTER_UP = 2
CHANNELS = {0: 1, 2: 3}   # colour types decode reads: grey, RGB
# Critical chunks decode knows (PLTE: a suggested palette for an RGB image); an ancillary one
# that changes what OpenCV returns (tRNS: an alpha channel) also goes to OpenCV.
_KNOWN, _TO_OPENCV = {b"IHDR", b"IDAT", b"IEND", b"PLTE"}, {b"tRNS"}
BAND_BYTES = 1 << 22   # raw bytes filtered and deflated at a time
DEFAULT_LEVEL = 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(data, zlib.crc32(kind)))


def _rows(pixels: np.ndarray) -> np.ndarray:
    """(n, bytes per row) uint8 rows of a band as PNG stores them (16 bits big-endian)."""
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2")   # PNG's byte order (a copy of the band only)
    return np.ascontiguousarray(pixels).view(np.uint8).reshape(pixels.shape[0], -1)


def encode(pixels: np.ndarray, level: int = DEFAULT_LEVEL) -> bytes:
    """PNG bytes of a (H, W) uint8/uint16 grey or (H, W, 3) uint8 RGB image. `level` 0-9:
    deflate effort (ISA-L has 0-3 and takes min(level, 3); 0 still Huffman-codes there)."""
    grey = pixels.ndim == 2 and pixels.dtype in (np.uint8, np.uint16)
    rgb = pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.dtype == np.uint8
    if not (grey or rgb) or min(pixels.shape[:2]) < 1:
        raise ValueError(f"need a non-empty (H, W) uint8/uint16 or (H, W, 3) uint8 array, got "
                         f"{pixels.dtype} {pixels.shape}")
    if not 0 <= int(level) <= 9:
        raise ValueError(f"PNG level must be 0-9, got {level}")
    height, width = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    header = struct.pack(">IIBBBBB", width, height, depth, 2 if rgb else 0, 0, 0, 0)
    return b"".join((SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", _idat(pixels, min(int(level), MAX_LEVEL))),
                     _chunk(b"IEND", b"")))


def _idat(pixels: np.ndarray, level: int) -> bytes:
    """The zlib stream of the image's Up-filtered rows, made band by band."""
    stream = _deflate.compressobj(level)
    row_bytes = pixels[0].nbytes
    band = max(1, BAND_BYTES // row_bytes)
    out, above = [], np.zeros(row_bytes, np.uint8)   # the row above the first is zeros
    for top in range(0, pixels.shape[0], band):
        rows = _rows(pixels[top:top + band])
        filtered = np.empty((rows.shape[0], row_bytes + 1), np.uint8)
        filtered[:, 0] = FILTER_UP
        # Up: each byte minus the one above it, mod 256
        np.subtract(rows[0], above, out=filtered[0, 1:])
        np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
        above = rows[-1].copy()
        out.append(stream.compress(filtered))
    out.append(stream.flush())
    return b"".join(out)


def decode(data) -> np.ndarray | None:
    """The image in PNG bytes `data`: (H, W) grey or (H, W, 3) RGB, uint8 or uint16 (host order),
    for 8/16-bit grey or RGB without interlacing or transparency, every chunk's CRC and the
    stream checked; None for any other PNG, or a damaged one (OpenCV's to decode or to refuse)."""
    view = memoryview(data)
    header = _header(view) if _libdeflate is not None else None
    if header is None:
        return None
    height, width, depth, channels = header
    idat = _idat_chunks(view)
    if idat is None:
        return None
    want = height * (1 + width * channels * depth // 8)
    raw = _inflate(idat, want)
    if raw is None:
        return None
    try:
        return kernels.png_unfilter(raw, height, width, channels, depth)
    except ValueError:   # an unknown filter type
        return None


def _header(view) -> tuple | None:
    """(height, width, depth, channels) of a PNG decode reads, from its IHDR; else None."""
    if len(view) < 33 or view[:8] != SIGNATURE or view[12:16] != b"IHDR" or \
            struct.unpack_from(">I", view, 8)[0] != 13:
        return None
    width, height, depth, colour, method, filtering, interlace = struct.unpack_from(
        ">IIBBBBB", view, 16)
    plain = (method, filtering, interlace) == (0, 0, 0)
    if depth not in (8, 16) or colour not in CHANNELS or not plain or not (width and height):
        return None
    return height, width, depth, CHANNELS[colour]


def _idat_chunks(view) -> list | None:
    """The IDAT chunks' data (one run of them), every chunk's CRC checked up to IEND; None for a
    chunk decode leaves to OpenCV, a bad CRC, or a truncated file."""
    parts, pos, ended_run = [], 8, False
    while pos + 12 <= len(view):
        (length,) = struct.unpack_from(">I", view, pos)
        kind = bytes(view[pos + 4:pos + 8])
        end = pos + 12 + length
        if end > len(view):
            return None
        body = view[pos + 8:end - 4]
        (crc,) = struct.unpack_from(">I", view, end - 4)
        if _libdeflate.crc32(body, _libdeflate.crc32(kind)) != crc:
            return None
        critical = not kind[0] & 0x20
        if kind in _TO_OPENCV or (critical and kind not in _KNOWN):
            return None
        if kind == b"IDAT":
            if ended_run:
                return None   # IDAT chunks must be consecutive
            parts.append(body)
        elif parts:
            ended_run = True
        if kind == b"IEND":
            return parts or None
        pos = end
    return None


def _inflate(parts: list, want: int) -> bytes | None:
    """Exactly `want` bytes of the zlib stream in `parts`, or None (a damaged stream, or one of
    another length: libdeflate never writes beyond `want` + 1, so a stream that holds more than
    the image cannot take memory)."""
    try:
        raw = _libdeflate.zlib_decompress(b"".join(parts), want + 1)
    except _libdeflate.DeflateError:
        return None
    return raw if len(raw) == want else None
