"""Image readers and atomic writers: PNG/TIFF/JPEG/GIF, DICOM, JSRT `.IMG`, SCR, paired layout.

Every reader returns display polarity (bone bright) and raises ImageFormatError naming the file.
Names load with their module on first use (PEP 562), so that a command's argument parser, which
reads a constant or two of `cxrmt.io.header` and `cxrmt.io.layout`, does not load numpy and every
codec: `cxrmt infer` opens its model meanwhile.
"""

from .._optional import lazy_names
from ..errors import ImageFormatError
from .header import DEFAULT_MAX_PIXELS

# name -> the submodule that defines it
_LAZY = {"PairedCase": "paired", "PairedDataset": "paired", "write_case": "paired",
         "write_cases_csv": "paired", "Radiograph": "radiograph", "atomic_path": "writers",
         "write_png": "writers", "read_image": "read", "read_image_bytes": "read",
         "read_jsrt_img": "jsrt", "read_raw_polarity_png": "jsrt", "read_scr_mask": "jsrt",
         "read_mask": "raster", "read_raster": "raster"}

__all__ = ["DEFAULT_MAX_PIXELS", "ImageFormatError", *sorted(_LAZY)]


__getattr__ = lazy_names(__name__, _LAZY)


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
