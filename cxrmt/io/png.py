"""PNG encoding on a fast deflate: ISA-L's (the `isal` package) where installed, else zlib.

On a 2048² radiograph's outputs deflate is nearly all of a PNG's cost, and zlib's level 1 runs
at ~60-70 MB/s on noisy image rows here (the overlay: ~180 ms); ISA-L's level 1 takes ~35 ms for
a smaller file (bench/bench_png.py). The format is plain PNG (IHDR, IDAT, IEND; 8/16-bit grey
or 8-bit RGB; filter Up on every row), which every reader decodes. Rows are filtered and
deflated in bands, so a 20000² image needs no full-size temporary beyond its own pixels.
"""

import struct
import zlib

import numpy as np

try:   # ISA-L: levels 0-3, zlib's stream format
    from isal import isal_zlib as _deflate

    DEFLATE, MAX_LEVEL = "isal", 3
except ImportError:   # pragma: no cover - exercised where isal has no wheel
    _deflate, DEFLATE, MAX_LEVEL = zlib, "zlib", 9

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTER_UP = 2
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
