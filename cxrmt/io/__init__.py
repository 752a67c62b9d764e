"""Image readers and atomic writers: PNG/TIFF/JPEG/GIF, DICOM, JSRT `.IMG`, SCR, paired layout.

Every reader returns display polarity (bone bright) and raises ImageFormatError naming the file.
"""

import os

from ..errors import ImageFormatError
from .dicom import has_dicm, is_dicom, read_dicom
from .header import DEFAULT_MAX_PIXELS
from .jsrt import read_jsrt_img, read_raw_polarity_png, read_scr_mask
from .paired import PairedCase, PairedDataset, write_case, write_cases_csv
from .radiograph import Radiograph
from .raster import read_mask, read_raster
from .writers import atomic_path, write_png

__all__ = ["DEFAULT_MAX_PIXELS", "ImageFormatError", "PairedCase", "PairedDataset", "Radiograph",
           "atomic_path", "read_image", "read_image_bytes", "read_jsrt_img", "read_mask",
           "read_raster", "read_raw_polarity_png", "read_scr_mask", "write_case",
           "write_cases_csv", "write_png"]


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
