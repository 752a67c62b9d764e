"""Readers against hostile and odd raster files: decompression bombs refused before decoding,
decoder failures as per-file errors, multi-page TIFFs, libpng's own messages."""

import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zlib

import cv2
import numpy as np
import pytest

from cxrmt.io import ImageFormatError, Radiograph, read_image, write_png
from cxrmt.io import raster


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(path, side: int, complete: bool = False):
    """A valid 8-bit grey PNG of side x side zeros; `complete=False` stores only its first row
    (a few hundred bytes: enough for any test that must not decode it)."""
    z = zlib.compressobj(9)
    row = bytes(side + 1)                       # filter byte + samples
    idat = b"".join(z.compress(row) for _ in range(side if complete else 1)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path


def test_bomb_is_refused_with_size_limit_and_option(tmp_path):
    path = bomb_png(tmp_path / "bomb.png", 60000)
    assert path.stat().st_size < 1000
    with pytest.raises(ImageFormatError, match=r"bomb.png: image is 60000 x 60000 pixels "
                       r"\(3,600,000,000\), above the limit of 100,000,000 pixels.*--max-pixels"):
        read_image(path)


def test_limit_is_an_option(tmp_path):
    a = np.zeros((37, 53), np.uint8)
    write_png(tmp_path / "a.png", a)
    with pytest.raises(ImageFormatError,
                       match=r"a.png: image is 53 x 37 pixels \(1,961\), above the limit of 1,000"):
        read_image(tmp_path / "a.png", max_pixels=1000)
    assert read_image(tmp_path / "a.png", max_pixels=37 * 53).pixels.shape == (37, 53)


def test_opencvs_own_cap_is_a_per_file_error(tmp_path):
    path = bomb_png(tmp_path / "bomb.png", 60000)
    with pytest.raises(ImageFormatError, match=r"bomb.png: .*OPENCV_IO_MAX_IMAGE_PIXELS"):
        read_image(path, max_pixels=None)       # past our limit, OpenCV's still refuses


# In a child whose address space is capped 150 MB above what it uses after the imports:
# decoding the 16384^2 PNG (256 MiB) cannot happen there, so the limit's message proves the
# refusal came before decoding, and without a limit the failed allocation is a per-file error.
CAPPED = textwrap.dedent("""
    import resource, sys
    from cxrmt.io import ImageFormatError, read_image
    used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (used + (150 << 20), resource.RLIM_INFINITY))
    for kwargs in ({}, {"max_pixels": None}):
        try:
            read_image(sys.argv[1], **kwargs)
        except ImageFormatError as exc:
            print(exc)
""")


def test_refused_before_decoding_and_memory_errors_are_per_file(tmp_path):
    path = bomb_png(tmp_path / "big.png", 16384, complete=True)
    assert path.stat().st_size < 1_000_000
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", CAPPED, str(path)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert "big.png: image is 16384 x 16384 pixels" in first
    assert second.startswith(f"{path}: ") and "memory" in second


def test_multipage_tiff_warns_or_is_refused_when_strict(tmp_path):
    pages = [np.full((20, 30), 10 * k, np.uint8) for k in range(3)]
    path = tmp_path / "m.tif"
    assert cv2.imwritemulti(str(path), pages)
    with pytest.warns(UserWarning, match=r"m.tif: multi-page TIFF \(3 pages\): using page 1"):
        assert np.array_equal(read_image(path).pixels, pages[0])
    with pytest.raises(ImageFormatError, match=r"m.tif: multi-page TIFF \(3 pages\)"):
        read_image(path, strict=True)
    assert cv2.imwrite(str(tmp_path / "one.tif"), pages[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(read_image(tmp_path / "one.tif", strict=True).pixels, pages[1])


def _png_bytes():
    return cv2.imencode(".png", (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64))[1] \
        .tobytes()


def _opencv_png(extra=b"") -> bytes:
    """A 64 x 64 PNG at 1 bit per pixel, which only OpenCV reads (cxrmt.io.png leaves it), with
    `extra` chunks before its pixels."""
    rows = np.packbits(np.indices((64, 64)).sum(0) % 2 == 0, axis=1)   # a checkerboard
    stream = zlib.compress(np.hstack([np.zeros((64, 1), np.uint8), rows]).tobytes())
    ihdr = struct.pack(">IIBBBBB", 64, 64, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", stream)
            + _chunk(b"IEND", b""))


def test_libpng_error_goes_into_the_message_not_the_terminal(tmp_path, capfd):
    data = bytearray(_png_bytes())
    at = data.find(b"IDAT")
    data[at + 4 + int.from_bytes(data[at - 4:at], "big")] ^= 0xFF   # break IDAT's CRC
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ImageFormatError, match=r"crc.png: .*libpng error: IDAT: CRC error"):
        read_image(tmp_path / "crc.png")
    assert "libpng" not in capfd.readouterr().err


def test_libpng_warning_becomes_a_warning(tmp_path, capfd):
    iccp = _chunk(b"iCCP", b"bad\0\0" + zlib.compress(b"x" * 200))   # a profile too short
    (tmp_path / "iccp.png").write_bytes(_opencv_png(iccp))
    with pytest.warns(UserWarning, match=r"iccp.png: libpng warning: iCCP"):
        pixels = read_image(tmp_path / "iccp.png").pixels
    assert pixels.shape == (64, 64) and set(np.unique(pixels)) == {0, 255}
    assert "libpng" not in capfd.readouterr().err


def test_other_output_during_decoding_still_reaches_stderr(tmp_path, capfd, monkeypatch):
    (tmp_path / "a.png").write_bytes(_opencv_png())
    real = cv2.imdecode

    def chatty(buf, flags):
        os.write(2, b"libpng warning: odd chunk\nsomeone else's line\n")
        return real(buf, flags)

    monkeypatch.setattr(cv2, "imdecode", chatty)
    with pytest.warns(UserWarning, match="a.png: libpng warning: odd chunk"):
        read_image(tmp_path / "a.png")
    assert capfd.readouterr().err == "someone else's line\n"


def _peak(fn, *args):
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_invert_and_grey_check_make_no_full_size_temporaries():
    a = np.zeros((512, 512), np.uint16)
    rg = Radiograph(a, 65535)
    assert _peak(rg.inverted) < 1.2 * a.nbytes      # the result only (was float64: 4x more)
    rgb = np.zeros((512, 512, 3), np.uint16)
    assert _peak(raster.to_gray, "x.png", rgb) < 1.2 * a.nbytes


def test_libjpeg_warning_becomes_a_warning(tmp_path, capfd):
    data = cv2.imencode(".jpg", np.full((32, 32), 100, np.uint8))[1].tobytes()
    (tmp_path / "x.jpg").write_bytes(data[:-2] + b"\x00\x00\x00" + data[-2:])  # junk before EOI
    with pytest.warns(UserWarning, match=r"x.jpg: Corrupt JPEG data: \d+ extraneous bytes"):
        assert read_image(tmp_path / "x.jpg").pixels.shape == (32, 32)
    assert "Corrupt" not in capfd.readouterr().err


def test_memory_error_after_decoding_is_a_per_file_error(tmp_path, monkeypatch):
    write_png(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))

    def no_memory(*_):
        raise MemoryError

    monkeypatch.setattr(raster, "to_gray", no_memory)
    with pytest.raises(ImageFormatError, match="a.png: not enough memory"):
        read_image(tmp_path / "a.png")
