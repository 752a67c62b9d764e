"""cxrmt.io.png against two independent PNG decoders (OpenCV's libpng, which checks every CRC
and the zlib stream's Adler-32, and Pillow), for each kind of image cxrmt writes."""
import io
import struct
import zlib

import cv2
import numpy as np
import pytest

from cxrmt.io import png
from cxrmt.io.writers import encode_png

Image = pytest.importorskip("PIL.Image")


def _images():
    rng = np.random.default_rng(0)
    yield "grey8", rng.integers(0, 256, (37, 53)).astype(np.uint8)
    yield "grey16", rng.integers(0, 65536, (29, 31)).astype(np.uint16)
    yield "grey12", (rng.integers(0, 4096, (40, 17)) * 1).astype(np.uint16)
    yield "rgb", rng.integers(0, 256, (23, 45, 3)).astype(np.uint8)
    yield "one_pixel", np.array([[200]], np.uint8)
    yield "one_row_rgb", rng.integers(0, 256, (1, 300, 3)).astype(np.uint8)
    yield "flat_labels", np.repeat(np.arange(4, dtype=np.uint8), 500).reshape(40, 50)
    yield "strided", rng.integers(0, 65536, (60, 80)).astype(np.uint16)[::2, 1::3]


CASES = dict(_images())


def _decoders(data: bytes, rgb: bool):
    cv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return (cv[..., ::-1] if rgb else cv), np.array(Image.open(io.BytesIO(data)))


@pytest.mark.parametrize("level", [0, 1, 3, 9])
@pytest.mark.parametrize("name", CASES)
def test_decoders_give_back_the_pixels(name, level):
    pixels = CASES[name]
    for decoded in _decoders(png.encode(pixels, level), pixels.ndim == 3):
        assert decoded.dtype == pixels.dtype and np.array_equal(decoded, pixels)


def test_bands_join_into_one_stream(monkeypatch):
    """Images larger than a band: rows filtered across band edges use the row above."""
    monkeypatch.setattr(png, "BAND_BYTES", 3 * 45 * 5 + 7)   # bands of 5 rows
    rgb = CASES["rgb"]
    cv, pil = _decoders(png.encode(rgb), True)
    assert np.array_equal(cv, rgb) and np.array_equal(pil, rgb)


def test_zlib_fallback_writes_the_same_pixels(monkeypatch):
    monkeypatch.setattr(png, "_deflate", zlib)
    monkeypatch.setattr(png, "MAX_LEVEL", 9)
    grey = CASES["grey16"]
    assert np.array_equal(_decoders(png.encode(grey, 6), False)[0], grey)


def test_chunks_by_hand():
    """Signature, IHDR fields, CRCs, one zlib stream whose rows all use the Up filter."""
    grey = np.array([[1, 2, 3], [5, 5, 0]], np.uint16)
    data = png.encode(grey)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + n
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (3, 2, 16, 0, 0, 0, 0)
    raw = zlib.decompress(chunks[1][1])
    # row 0: Up of zeros above = the big-endian samples; row 1: bytewise differences mod 256
    assert raw == bytes([2, 0, 1, 0, 2, 0, 3]) + bytes([2, 0, 4, 0, 3, 0, 253])


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((0, 4), np.uint8), np.zeros((4, 4, 3), np.uint16)])
def test_unsupported_arrays_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="out.png: need a non-empty"):
        encode_png(bad, "out.png")


def test_level_out_of_range():
    with pytest.raises(ValueError, match="level must be 0-9"):
        png.encode(CASES["grey8"], 10)
