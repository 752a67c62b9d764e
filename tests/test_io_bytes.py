"""`read_image_bytes`: a file in memory reads as the same file on disk does."""

import numpy as np
import pytest

from cxrmt.io import ImageFormatError, read_image, read_image_bytes
from cxrmt.io.writers import write_png
from test_runtime_fixtures import chest


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_bytes_read_as_the_file(tmp_path, dtype):
    px = chest(40, 30).astype(dtype) if dtype == np.uint16 else (chest(40, 30) >> 4).astype(dtype)
    write_png(tmp_path / "a.png", px)
    rg = read_image_bytes((tmp_path / "a.png").read_bytes(), "upload.png", invert=True)
    np.testing.assert_array_equal(rg.pixels, np.iinfo(dtype).max - px)
    assert rg.pixels.dtype == dtype and rg.white == np.iinfo(dtype).max and rg.path == "upload.png"


def test_dicom_bytes_read_as_the_file(tmp_path):
    pytest.importorskip("pydicom")
    from test_io_dicom import make_dicom
    path = make_dicom(tmp_path / "a.dcm", chest(24, 32), "MONOCHROME1", PixelSpacing=[0.2, 0.3])
    want, got = read_image(path), read_image_bytes(path.read_bytes())
    np.testing.assert_array_equal(got.pixels, want.pixels)
    assert got.spacing_mm == (0.2, 0.3) and got.meta == want.meta and got.white == 1.0


def test_bad_bytes_name_the_source(tmp_path):
    write_png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    data = (tmp_path / "a.png").read_bytes()
    with pytest.raises(ImageFormatError, match="^req-7: truncated PNG"):
        read_image_bytes(data[:-20], "req-7")
    with pytest.raises(ImageFormatError, match="^<bytes>: not a readable"):
        read_image_bytes(b"hello world, not an image")
    with pytest.raises(ImageFormatError, match="empty file"):
        read_image_bytes(b"")
    with pytest.raises(ImageFormatError, match="expected the file's bytes, got str"):
        read_image_bytes("a.png")
    head = bytes(128) + b"DICM" + b"\x00" * 20               # a DICOM preamble, then nothing
    with pytest.raises(ImageFormatError, match="^x.dcm: DICOM file has no pixel data"):
        read_image_bytes(head, "x.dcm")
