"""cxrmt.io.png.decode against OpenCV's libpng and Pillow, on PNGs made here row filter by row
filter (a plain numpy filter per the PNG specification, section 9), and against None (OpenCV's
turn) for every PNG it must not read itself."""
import io
import struct
import subprocess
import sys
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from cxrmt import kernels
from cxrmt.io import png, read_image
from test_io_safety import _chunk as chunk

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("deflate")

SIG = b"\x89PNG\r\n\x1a\n"


def ihdr(h, w, depth=8, colour=0, interlace=0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace))


def raw_rows(pixels: np.ndarray) -> np.ndarray:
    """(H, bytes per row) uint8 as PNG stores them: 16-bit big-endian, RGB interleaved."""
    if pixels.dtype == np.uint16:
        pixels = pixels.astype(">u2")
    return np.ascontiguousarray(pixels).view(np.uint8).reshape(pixels.shape[0], -1)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows: np.ndarray, types, bpp: int) -> bytes:
    """The filtered stream of `rows` with filter types[y] on row y: a loop over bytes, as the
    specification writes it (the decoder under test is C++)."""
    out, above = bytearray(), [0] * rows.shape[1]
    for y, row in enumerate(rows.tolist()):
        t = types[y % len(types)]
        out.append(t)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b, c = above[i], (above[i - bpp] if i >= bpp else 0)
            pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[t]
            out.append((x - pred) % 256)
        above = row
    return bytes(out)


def make_png(pixels: np.ndarray, types=(0, 1, 2, 3, 4), idat_size=None, extra=b"",
             level=6) -> bytes:
    """A PNG of `pixels` (grey or RGB, 8/16-bit) with the given filter types; the stream split
    into IDAT chunks of `idat_size` bytes; `extra` chunks before the IDATs."""
    colour = 2 if pixels.ndim == 3 else 0
    depth = 16 if pixels.dtype == np.uint16 else 8
    bpp = (3 if colour == 2 else 1) * depth // 8
    stream = zlib.compress(filter_rows(raw_rows(pixels), types, bpp), level)
    size = idat_size or len(stream)
    idats = b"".join(chunk(b"IDAT", stream[i:i + size]) for i in range(0, len(stream), size))
    return SIG + ihdr(*pixels.shape[:2], depth, colour) + extra + idats + chunk(b"IEND", b"")


def opencv(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return img[..., ::-1] if img.ndim == 3 else img


def pillow(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)))


def images():
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (1, 9), (7, 1), (5, 3), (23, 37)]:
        yield f"grey8-{shape}", rng.integers(0, 256, shape).astype(np.uint8)
        yield f"grey16-{shape}", rng.integers(0, 65536, shape).astype(np.uint16)
        yield f"rgb8-{shape}", rng.integers(0, 256, (*shape, 3)).astype(np.uint8)
        yield f"rgb16-{shape}", rng.integers(0, 65536, (*shape, 3)).astype(np.uint16)
    yield "grey12-smooth", (np.add.outer(np.arange(40), np.arange(50)) * 40).astype(np.uint16)


CASES = dict(images())


@pytest.mark.parametrize("types", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0)],
                         ids=["none", "sub", "up", "average", "paeth", "mixed"])
@pytest.mark.parametrize("name", CASES)
def test_every_filter_and_depth_as_opencv_and_pillow_read_it(name, types):
    pixels = CASES[name]
    data = make_png(pixels, types)
    got = png.decode(data)
    assert got is not None and got.dtype == pixels.dtype and got.shape == pixels.shape
    assert np.array_equal(got, pixels) and np.array_equal(got, opencv(data))
    if not name.startswith("rgb16"):   # Pillow reads 16-bit RGB as 8-bit
        assert np.array_equal(got, pillow(data))


def test_what_opencv_writes_and_chunks_split_anyhow():
    """OpenCV's own files (adaptive filters), IDATs of 1 byte and an empty IDAT between."""
    pixels = CASES["grey16-(23, 37)"]
    data = cv2.imencode(".png", pixels)[1].tobytes()
    assert np.array_equal(png.decode(data), pixels)
    tiny = make_png(pixels, idat_size=1)
    assert np.array_equal(png.decode(tiny), pixels)
    at = tiny.index(b"IDAT") - 4
    empty = tiny[:at] + chunk(b"IDAT", b"") + tiny[at:]
    assert np.array_equal(png.decode(empty), pixels)


def test_ancillary_chunks_are_ignored_as_opencv_does():
    """Text, time, gamma, significant bits, a broken ICC profile: the pixels come back as
    stored (OpenCV applies none of them either); an RGB's suggested palette too."""
    pixels = CASES["grey16-(23, 37)"]
    extra = (chunk(b"tEXt", b"Software\0test") + chunk(b"gAMA", struct.pack(">I", 45455))
             + chunk(b"sBIT", b"\x0c") + chunk(b"iCCP", b"bad\0\0" + zlib.compress(b"x" * 9)))
    data = make_png(pixels, extra=extra)
    assert np.array_equal(png.decode(data), pixels)
    assert np.array_equal(png.decode(data), opencv(data))
    rgb = CASES["rgb8-(5, 3)"]
    data = make_png(rgb, extra=chunk(b"PLTE", bytes(range(6))))
    assert np.array_equal(png.decode(data), rgb)


def _with_header(data: bytes, **fields) -> bytes:
    w, h, depth, colour, method, filt, lace = struct.unpack(">IIBBBBB", data[16:29])
    vals = dict(w=w, h=h, depth=depth, colour=colour, method=method, filt=filt, lace=lace)
    vals.update(fields)
    body = struct.pack(">IIBBBBB", *vals.values())
    return data[:8] + chunk(b"IHDR", body) + data[33:]


def _replace_crc(data: bytes, kind: bytes, delta=1) -> bytes:
    at = data.index(kind) - 4
    (n,) = struct.unpack(">I", data[at:at + 4])
    crc_at = at + 8 + n
    (crc,) = struct.unpack(">I", data[crc_at:crc_at + 4])
    return data[:crc_at] + struct.pack(">I", (crc + delta) % 2**32) + data[crc_at + 4:]


def _plain() -> bytes:
    return make_png(CASES["grey8-(23, 37)"])


def _stream(raw: bytes, damage=None) -> bytes:
    """A 23 x 37 grey PNG whose one IDAT holds zlib(raw), `damage`d first (CRCs stay right)."""
    stream = zlib.compress(raw)
    if damage is not None:
        stream = damage(stream)
    return SIG + ihdr(23, 37) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


ROW = 1 + 37
LEFT_TO_OPENCV = {
    "interlaced": lambda: _with_header(_plain(), lace=1),
    "palette": lambda: _with_header(_plain(), colour=3),
    "grey-alpha": lambda: _with_header(_plain(), colour=4),
    "1-bit": lambda: _with_header(_plain(), depth=1),
    "bad-filter-method": lambda: _with_header(_plain(), filt=1),
    "transparency": lambda: make_png(CASES["grey8-(23, 37)"], extra=chunk(b"tRNS", b"\0\0")),
    "unknown-critical-chunk": lambda: make_png(CASES["grey8-(23, 37)"],
                                               extra=chunk(b"ZZZZ", b"?")),
    "ihdr-crc": lambda: _replace_crc(_plain(), b"IHDR"),
    "idat-crc": lambda: _replace_crc(_plain(), b"IDAT"),
    "ancillary-crc": lambda: _replace_crc(
        make_png(CASES["grey8-(23, 37)"], extra=chunk(b"tEXt", b"a\0b")), b"tEXt"),
    "truncated": lambda: _plain()[:-20],
    "no-iend": lambda: _plain()[:-12],
    "split-idat-run": lambda: (lambda d, at: d[:at] + chunk(b"tEXt", b"a\0b") + d[at:])(
        make_png(CASES["grey8-(23, 37)"], idat_size=50),
        make_png(CASES["grey8-(23, 37)"], idat_size=50).index(b"IDAT", 100) - 4),
    "stream-short": lambda: _stream(bytes(23 * ROW - 1)),
    "stream-long": lambda: _stream(bytes(23 * ROW + 1)),
    "stream-adler": lambda: _stream(bytes(23 * ROW), lambda s: s[:-1] + bytes([s[-1] ^ 1])),
    "stream-cut": lambda: _stream(bytes(23 * ROW), lambda s: s[:len(s) // 2]),
    "stream-not-zlib": lambda: _stream(bytes(23 * ROW), lambda s: b"\x00\x00" + s[2:]),
    "unknown-filter-type": lambda: _stream(b"\x05" + bytes(23 * ROW - 1)),
    "not-png": lambda: b"GIF89a" + bytes(40),
    "zero-width": lambda: _with_header(_plain(), w=0),
}


@pytest.mark.parametrize("name", LEFT_TO_OPENCV)
def test_left_to_opencv(name):
    assert png.decode(LEFT_TO_OPENCV[name]()) is None


def test_a_bad_crc_anywhere_is_found_by_the_readers_crc_check():
    """The mutated CRC cases really are bad: zlib's CRC-32 disagrees with the file."""
    data = LEFT_TO_OPENCV["idat-crc"]()
    at = data.index(b"IDAT") - 4
    (n,) = struct.unpack(">I", data[at:at + 4])
    (stored,) = struct.unpack(">I", data[at + 8 + n:at + 12 + n])
    assert zlib.crc32(data[at + 4:at + 8 + n]) != stored


def test_a_bomb_is_never_inflated_beyond_the_image():
    """A stream that holds 64 MB behind a 23 x 37 header: refused, and memory stays small."""
    data = SIG + ihdr(23, 37) + chunk(b"IDAT", zlib.compress(bytes(64 << 20), 9)) \
        + chunk(b"IEND", b"")
    tracemalloc.start()
    try:
        assert png.decode(data) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(data) + (1 << 20)


def test_unfilter_names_the_row_of_an_unknown_filter_type():
    raw = bytes([0, 1, 2]) + bytes([7, 1, 2])
    with pytest.raises(ValueError, match="row 1: unknown filter type 7"):
        kernels.png_unfilter(raw, 2, 2, 1, 8)
    with pytest.raises(ValueError, match="expected 6 bytes"):
        kernels.png_unfilter(raw[:-1], 2, 2, 1, 8)


def test_read_image_takes_either_path_to_the_same_pixels(tmp_path):
    """A plain PNG (this reader) and an interlaced one (OpenCV, written by Pillow) of the same
    image read the same; damaged files still get OpenCV's message."""
    pixels = CASES["grey16-(23, 37)"]
    (tmp_path / "plain.png").write_bytes(make_png(pixels))
    Image.fromarray(CASES["grey8-(23, 37)"]).save(tmp_path / "lace.png", interlace=1)
    assert np.array_equal(read_image(tmp_path / "plain.png").pixels, pixels)
    assert np.array_equal(read_image(tmp_path / "lace.png").pixels, CASES["grey8-(23, 37)"])
    rgb_grey = np.repeat(pixels[..., None], 3, axis=2)
    (tmp_path / "rgb.png").write_bytes(make_png(rgb_grey))
    assert np.array_equal(read_image(tmp_path / "rgb.png").pixels, pixels)
    colour = CASES["rgb8-(23, 37)"]
    (tmp_path / "colour.png").write_bytes(make_png(colour))
    with pytest.warns(UserWarning, match="colour image converted"):
        got = read_image(tmp_path / "colour.png").pixels
    assert np.array_equal(got, cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY))


def test_reading_a_plain_png_does_not_load_opencv(tmp_path):
    (tmp_path / "a.png").write_bytes(make_png(CASES["grey16-(23, 37)"]))
    code = ("import sys; from cxrmt.io import read_image; "
            f"read_image({str(tmp_path / 'a.png')!r}); print('cv2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
