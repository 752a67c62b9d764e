"""PNG / TIFF / JPEG / GIF readers over OpenCV (a base dependency)."""

import os
import warnings

import cv2
import numpy as np

from ..errors import ImageFormatError
from .radiograph import Radiograph

_WHITE = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def _check_complete(path, data: bytes) -> None:
    # libjpeg pads a truncated JPEG with grey and only warns; catch truncation ourselves.
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]:
        raise ImageFormatError(path, "truncated PNG (no IEND chunk at the end)")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:]:
        raise ImageFormatError(path, "truncated JPEG (no end-of-image marker)")


def decode(path) -> np.ndarray:
    """The file's samples as OpenCV decodes them (H, W) or (H, W, C), BGR order."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ImageFormatError(path, f"cannot open ({exc.strerror})") from exc
    if not data:
        raise ImageFormatError(path, "empty file")
    _check_complete(path, data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None and data[:3] == b"GIF":
        img = _decode_gif_pillow(path)
    if img is None:
        raise ImageFormatError(path, "not a readable PNG/TIFF/JPEG/GIF image or corrupt")
    return img


def _decode_gif_pillow(path):
    # OpenCV < 4.11 has no GIF decoder; Pillow (dev extra) does.
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def to_gray(path, img: np.ndarray) -> np.ndarray:
    """Drop alpha; colour becomes luminance (with a warning); grey stored as RGB passes as is."""
    if img.ndim == 2:
        return img
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ImageFormatError(path, f"unsupported sample layout {img.shape}")
    bgr = img[:, :, :3]
    if (bgr[:, :, 0] == bgr[:, :, 1]).all() and (bgr[:, :, 1] == bgr[:, :, 2]).all():
        return np.ascontiguousarray(bgr[:, :, 0])
    warnings.warn(f"{os.fspath(path)}: colour image converted to luminance", stacklevel=3)
    return cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)


def read_raster(path, invert: bool = False) -> Radiograph:
    """Read an 8- or 16-bit grayscale (or colour, converted) raster image."""
    pixels = to_gray(path, decode(path))
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
