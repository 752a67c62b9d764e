"""PNG/TIFF/JPEG/GIF readers and the atomic writer."""

import os
import warnings

import cv2
import numpy as np
import pytest

from cxrmt.io import ImageFormatError, read_image, read_mask, write_png
from cxrmt.io import writers


def _ramp(dtype, shape=(37, 53)):
    top = np.iinfo(dtype).max
    return (np.arange(np.prod(shape)) * 7919 % (top + 1)).astype(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_round_trip_and_invert(tmp_path, dtype):
    a = _ramp(dtype)
    write_png(tmp_path / "a.png", a)
    rg = read_image(tmp_path / "a.png")
    assert rg.pixels.dtype == dtype and np.array_equal(rg.pixels, a)
    assert rg.white == np.iinfo(dtype).max
    inv = read_image(tmp_path / "a.png", invert=True)
    assert np.array_equal(inv.pixels.astype(np.int64), np.iinfo(dtype).max - a.astype(np.int64))


def test_tiff16_written_by_opencv(tmp_path):
    a = _ramp(np.uint16)
    assert cv2.imwrite(str(tmp_path / "a.tif"), a)
    assert np.array_equal(read_image(tmp_path / "a.tif").pixels, a)


def test_jpeg_close_to_source(tmp_path):
    a = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))
    assert cv2.imwrite(str(tmp_path / "a.jpg"), a, [cv2.IMWRITE_JPEG_QUALITY, 100])
    px = read_image(tmp_path / "a.jpg").pixels
    assert px.shape == a.shape and np.abs(px.astype(int) - a).max() <= 2


def test_rgb_becomes_luminance_with_warning(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50  # R, G, B
    cv2.imwrite(str(tmp_path / "c.png"), rgb[..., ::-1])  # OpenCV writes BGR
    with pytest.warns(UserWarning, match="luminance"):
        px = read_image(tmp_path / "c.png").pixels
    assert np.all(px == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50))


def test_grey_stored_as_rgba_is_silent(tmp_path):
    g = _ramp(np.uint8)
    rgba = np.dstack([g, g, g, np.full_like(g, 255)])
    cv2.imwrite(str(tmp_path / "g.png"), rgba)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(read_image(tmp_path / "g.png").pixels, g)


def test_palette_png_and_gif_mask(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    idx = (np.arange(16 * 16) % 4).astype(np.uint8).reshape(16, 16)
    im = Image.fromarray(idx, mode="P")
    im.putpalette([0, 0, 0, 80, 80, 80, 160, 160, 160, 255, 255, 255] + [0] * 756)
    im.save(tmp_path / "p.png")
    assert np.array_equal(read_image(tmp_path / "p.png").pixels,
                          np.array([0, 80, 160, 255], np.uint8)[idx])
    mask = np.zeros((32, 32), bool)
    mask[5:20, 8:30] = True
    Image.fromarray(mask.astype(np.uint8) * 255).convert("1").save(tmp_path / "m.gif")
    assert np.array_equal(read_mask(tmp_path / "m.gif"), mask)


@pytest.mark.parametrize("suffix,cut", [(".png", 40), (".jpg", 40), (".png", None)])
def test_corrupt_files_name_the_file(tmp_path, suffix, cut):
    a = _ramp(np.uint8, (64, 64))
    path = tmp_path / f"bad{suffix}"
    ok, buf = cv2.imencode(suffix, a)
    data = buf.tobytes()
    path.write_bytes(data[: len(data) - cut] if cut else b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageFormatError, match="bad"):
        read_image(path)


def test_missing_and_empty(tmp_path):
    with pytest.raises(ImageFormatError, match="no such file"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageFormatError, match="empty.png: empty file"):
        read_image(tmp_path / "empty.png")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    write_png(path, np.full((4, 4), 7, np.uint8))
    before = path.read_bytes()

    def boom(*_):
        raise OSError("disk full")

    monkeypatch.setattr(writers.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_png(path, np.full((4, 4), 9, np.uint8))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary left behind


def test_writer_rejects_bad_arrays_without_creating_files(tmp_path):
    with pytest.raises(ValueError, match="x.png"):
        write_png(tmp_path / "x.png", np.zeros((4, 4), np.float32))
    assert os.listdir(tmp_path) == []


def test_written_files_get_the_usual_mode(tmp_path):
    import os
    import numpy as np
    from cxrmt.io.writers import write_png
    mask = os.umask(0o022)
    os.umask(mask)
    path = tmp_path / "x.png"
    write_png(path, np.zeros((2, 2), np.uint8))
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)


def test_group_write_is_all_or_nothing(tmp_path):
    """Ctrl-C while the third file of an input's outputs is written: none of them appears."""
    contents = {tmp_path / "a.png": b"a", tmp_path / "b.png": b"b", tmp_path / "c.png": None}
    with pytest.raises(TypeError):      # fh.write(None) fails, as an interrupt would, mid-way
        writers.write_files(contents)
    assert os.listdir(tmp_path) == []
    writers.write_files({tmp_path / "a.png": b"a", tmp_path / "b.png": b"b"})
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]
    assert (tmp_path / "b.png").read_bytes() == b"b"
