"""Image sizes from file headers, against the shapes OpenCV and Pillow decode (odd sizes, both
TIFF byte orders, every JPEG flavour Pillow writes)."""

import io
import struct

import cv2
import numpy as np
import pytest

from cxrmt.io.header import image_size, tiff_pages

SHAPES = [(1, 1), (37, 53), (301, 7), (4, 1029)]


def _image(shape, dtype=np.uint8, channels=None):
    n = int(np.prod(shape)) * (channels or 1)
    a = (np.arange(n) * 31 % 251).astype(dtype)
    return a.reshape(shape if channels is None else (*shape, channels))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_opencv_files(shape, suffix):
    ok, buf = cv2.imencode(suffix, _image(shape))
    data = buf.tobytes()
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    assert image_size(data) == decoded.shape[:2]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fmt,opts", [("JPEG", {"progressive": True}), ("JPEG", {}),
                                      ("GIF", {}), ("BMP", {}), ("TIFF", {}),
                                      ("TIFF", {"compression": "tiff_deflate"}), ("PNG", {})])
def test_pillow_files(shape, fmt, opts):
    Image = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    Image.fromarray(_image(shape)).save(buf, fmt, **opts)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        assert image_size(buf.getvalue()) == np.asarray(im).shape[:2]


def test_big_endian_and_multipage_tiff():
    Image = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    Image.new("I;16B", (53, 37)).save(buf, "TIFF")
    assert buf.getvalue()[:2] == b"MM"
    assert image_size(buf.getvalue()) == (37, 53)
    shapes = [(37, 53), (301, 7), (4, 1029)]
    ok, buf = cv2.imencodemulti(".tif", [_image(s) for s in shapes])
    assert tiff_pages(buf.tobytes()) == shapes
    assert image_size(buf.tobytes()) == (4, 1029)   # the largest page


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00", b"GIF89a",
                                  b"II*\x00\xff\xff\xff\x7f", b"BM", b"P5 3 3 255\n",
                                  b"MM\x00*\x00\x00\x00\x08\x00\x01"])
def test_unknown_or_damaged_headers_give_none(data):
    assert image_size(data) is None


def test_hostile_tiff_chain_is_walked_quickly():
    # Page 1 is 7 x 5; its next-IFD pointer loops back to itself, and a second copy of the
    # header claims 65535 entries: both end the walk.
    ifd = struct.pack("<H", 2) + struct.pack("<HHII", 256, 4, 1, 7) \
        + struct.pack("<HHII", 257, 4, 1, 5) + struct.pack("<I", 8)
    assert tiff_pages(b"II*\x00" + struct.pack("<I", 8) + ifd) == [(5, 7)]
    huge = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535) + bytes(64)
    assert tiff_pages(huge) == []
