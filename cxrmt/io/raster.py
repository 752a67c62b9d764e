"""PNG / TIFF / JPEG / GIF readers: plain PNGs through cxrmt.io.png, everything else (and any PNG
that reader leaves) through OpenCV (a base dependency, imported only then: it costs ~30 ms of a
command's start)."""

import io
import os
import warnings

import numpy as np

from ..errors import ImageFormatError
from . import png
from .codec_messages import codec_messages
from .header import DEFAULT_MAX_PIXELS, check_pixels, image_size, tiff_pages
from .radiograph import Radiograph

_WHITE = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def _check_complete(path, data: bytes) -> None:
    # libjpeg pads a truncated JPEG with grey and only warns; catch truncation ourselves.
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]:
        raise ImageFormatError(path, "truncated PNG (no IEND chunk at the end)")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise ImageFormatError(path, "truncated JPEG (no end-of-image marker)")


def decode(path, *, max_pixels=DEFAULT_MAX_PIXELS, strict: bool = False,
           data: bytes | None = None) -> np.ndarray:
    """The file's samples as OpenCV decodes them (H, W) or (H, W, C), BGR order.

    Images above `max_pixels` (None: no limit) are refused from their header, before decoding.
    A multi-page TIFF gives its first page with a warning, or is refused when `strict`.
    `data`: the file's bytes, already in memory (`path` then only names them in errors).
    """
    if data is None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ImageFormatError(path, f"cannot open ({exc.strerror})") from exc
    if not data:
        raise ImageFormatError(path, "empty file")
    _check_complete(path, data)
    check_pixels(path, image_size(data), max_pixels)
    _check_pages(path, data, strict)
    img = _png(data) if data[:8] == png.SIGNATURE else None
    if img is None:
        img = _imdecode(path, data)
    if img is None and data[:3] == b"GIF":
        img = _decode_gif_pillow(path, data)
    if img is None:
        raise ImageFormatError(path, "not a readable PNG/TIFF/JPEG/GIF image or corrupt")
    check_pixels(path, img.shape[:2], max_pixels)  # formats whose header we do not parse
    return img


def _check_pages(path, data, strict):
    pages = len(tiff_pages(data))
    if pages > 1:
        problem = f"multi-page TIFF ({pages} pages)"
        if strict:
            raise ImageFormatError(path, f"{problem}: cxrmt reads one image; refused (strict)")
        warnings.warn(f"{os.fspath(path)}: {problem}: using page 1", stacklevel=4)


def _png(data):
    """cxrmt.io.png's decode in OpenCV's channel order (BGR), or None."""
    img = png.decode(data)
    return np.ascontiguousarray(img[:, :, ::-1]) if img is not None and img.ndim == 3 else img


def _imdecode(path, data):
    """cv2.imdecode with its failures (OpenCV's own pixel cap, memory) as per-file errors and
    libpng's/libjpeg's messages on stderr as part of the error, or as a warning."""
    import cv2

    notes = []
    try:
        with codec_messages(notes):
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageFormatError(path, _cv2_problem(exc, notes)) from exc
    except MemoryError as exc:
        raise ImageFormatError(path, "not enough memory to decode it") from exc
    if img is None and notes:
        raise ImageFormatError(path, f"corrupt image ({'; '.join(notes)})")
    for note in notes:
        warnings.warn(f"{os.fspath(path)}: {note}", stacklevel=5)
    return img


def _cv2_problem(exc, notes) -> str:
    detail = f" ({'; '.join(notes)})" if notes else ""
    if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
        return ("image is above OpenCV's own pixel limit (raise it with the environment "
                "variable OPENCV_IO_MAX_IMAGE_PIXELS)" + detail)
    if "Insufficient memory" in str(exc):
        return "not enough memory to decode it" + detail
    return f"OpenCV cannot decode it: {exc.err}{detail}"


def _decode_gif_pillow(path, data: bytes):
    # OpenCV < 4.11 has no GIF decoder; Pillow (dev extra) does.
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("L"))
    except (Image.DecompressionBombError, OSError, MemoryError) as exc:
        raise ImageFormatError(path, f"cannot decode GIF ({exc})") from exc


def _is_grey(bgr) -> bool:
    """Whether B == G == R everywhere, a band of rows at a time (no full-size temporaries;
    stops at the first colour band)."""
    rows = max(1, (1 << 20) // max(1, bgr.shape[1]))
    for r in range(0, bgr.shape[0], rows):
        band = bgr[r:r + rows]
        if not ((band[:, :, 0] == band[:, :, 1]).all() and (band[:, :, 1] == band[:, :, 2]).all()):
            return False
    return True


def to_gray(path, img: np.ndarray, strict: bool = False) -> np.ndarray:
    """Drop alpha; colour becomes luminance (with a warning; refused when `strict`); grey
    stored as RGB passes as is."""
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ImageFormatError(path, f"unsupported sample layout {img.shape}")
    if _is_grey(img[:, :, :3]):
        return np.ascontiguousarray(img[:, :, 0])
    if strict:
        raise ImageFormatError(path, "colour image: cxrmt reads grey radiographs; refused (strict)")
    warnings.warn(f"{os.fspath(path)}: colour image converted to luminance", stacklevel=3)
    import cv2

    # BGRA2GRAY ignores alpha, so the 4-channel image needs no 3-channel copy first.
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def read_raster(path, invert: bool = False, *, max_pixels=DEFAULT_MAX_PIXELS,
                strict: bool = False, data: bytes | None = None) -> Radiograph:
    """Read an 8- or 16-bit grayscale (or colour, converted) raster image.

    `max_pixels` (None: no limit) refuses larger images before decoding; `strict` refuses what
    would otherwise be altered with a warning (colour, extra TIFF pages). `data`: the file's
    bytes when they are already in memory (`path` names them).
    """
    pixels = to_gray(path, decode(path, max_pixels=max_pixels, strict=strict, data=data), strict)
    if pixels.dtype not in _WHITE:
        raise ImageFormatError(path, f"unsupported sample type {pixels.dtype} (need 8 or 16 bit)")
    rg = Radiograph(pixels, _WHITE[pixels.dtype], None, os.fspath(path))
    return rg.inverted() if invert else rg


def read_mask(path, shape=None) -> np.ndarray:
    """A binary mask (any 8/16-bit format, GIF included): True where the pixel is bright."""
    gray = to_gray(path, decode(path))
    if shape is not None and gray.shape != tuple(shape):
        raise ImageFormatError(path, f"mask is {gray.shape}, expected {tuple(shape)}")
    return gray > (_WHITE.get(gray.dtype, 1) // 2)
