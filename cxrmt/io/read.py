"""`read_image`: any supported radiograph by content and suffix (DICOM, JSRT `.IMG`, PNG/TIFF/JPEG/
GIF), from a path or from bytes in memory."""

import os

from ..errors import ImageFormatError
from .dicom import read_dicom
from .header import DEFAULT_MAX_PIXELS, has_dicm, is_dicom
from .jsrt import read_jsrt_img
from .radiograph import Radiograph
from .raster import read_raster


def read_image(path, invert: bool = False, *, max_pixels=DEFAULT_MAX_PIXELS,
               strict: bool = False) -> Radiograph:
    """Read any supported radiograph, choosing the reader by content and suffix.

    `invert=True` reverses the polarity once more, for inputs that break the conventions.
    `max_pixels` (DEFAULT_MAX_PIXELS, 100 megapixels; None for no limit) refuses larger images
    from their header, before decoding. `strict=True` refuses what would otherwise be changed
    with a warning (a colour image made grey, the first page of a multi-page TIFF, DICOM values
    above BitsStored).
    """

    if not os.path.isfile(path):
        raise ImageFormatError(path, "no such file")
    try:
        if is_dicom(path):
            return read_dicom(path, invert=invert, max_pixels=max_pixels, strict=strict)
        if os.fspath(path).lower().endswith(".img"):
            rg = read_jsrt_img(path, max_pixels=max_pixels)
            return rg.inverted() if invert else rg
        return read_raster(path, invert=invert, max_pixels=max_pixels, strict=strict)
    except MemoryError as exc:   # a large image under the limit on a small machine: this file
        raise ImageFormatError(path, "not enough memory to read it") from exc


def read_image_bytes(data: bytes, name: str = "<bytes>", invert: bool = False, *,
                     max_pixels=DEFAULT_MAX_PIXELS, strict: bool = False) -> Radiograph:
    """`read_image` for a file already in memory (an upload, a served request): a DICOM (by
    its DICM preamble) or a PNG/TIFF/JPEG/GIF, decoded by the same readers. `name` stands
    for the path in errors and in the Radiograph. Raw JSRT `.IMG` files need `read_image`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageFormatError(name, f"expected the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    try:
        if has_dicm(data):
            return read_dicom(name, invert=invert, max_pixels=max_pixels, strict=strict,
                              data=data)
        return read_raster(name, invert=invert, max_pixels=max_pixels, strict=strict, data=data)
    except MemoryError as exc:
        raise ImageFormatError(name, "not enough memory to read it") from exc
