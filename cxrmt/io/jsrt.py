"""The official JSRT, SCR and BSE-JSRT distributions (all in raw JSRT polarity or as masks)."""

import os
import re

import numpy as np

from ..errors import ImageFormatError
from .header import DEFAULT_MAX_PIXELS, check_pixels
from .radiograph import Radiograph
from .raster import read_mask, read_raster

JSRT_SIZE = 2048
JSRT_SPACING_MM = 0.175
JSRT_WHITE = 4095  # 12 bits stored in big-endian uint16
SCR_ORGAN_DIRS = {"heart": "heart", "left lung": "left_lung", "right lung": "right_lung",
                  "left_lung": "left_lung", "right_lung": "right_lung"}
_ID = re.compile(r"(JPC[LN]N\d{3})", re.IGNORECASE)


def read_jsrt_img(path, *, max_pixels=DEFAULT_MAX_PIXELS) -> Radiograph:
    """A raw JSRT `.IMG`, inverted to display polarity (the file has bone dark)."""
    check_pixels(path, (JSRT_SIZE, JSRT_SIZE), max_pixels)  # the format has one fixed size
    expected = JSRT_SIZE * JSRT_SIZE * 2
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ImageFormatError(path, f"cannot open ({exc.strerror})") from exc
    if size != expected:
        raise ImageFormatError(path, f"JSRT .IMG must be {expected} bytes "
                               f"(2048x2048 big-endian uint16), file has {size}")
    raw = np.fromfile(path, dtype=">u2").reshape(JSRT_SIZE, JSRT_SIZE)
    if int(raw.max()) > JSRT_WHITE:
        raise ImageFormatError(path, f"value {int(raw.max())} exceeds 12 bits: "
                               "not a JSRT .IMG (wrong byte order?)")
    display = (JSRT_WHITE - raw.astype(np.uint16)).astype(np.uint16)
    return Radiograph(display, JSRT_WHITE, (JSRT_SPACING_MM, JSRT_SPACING_MM), os.fspath(path),
                      {"source": "jsrt-img"})


def case_id(filename: str) -> str | None:
    """The JSRT case id (JPCLNxxx / JPCNNxxx) inside a file name, upper-cased, or None."""
    m = _ID.search(os.path.basename(filename))
    return m.group(1).upper() if m else None


def nodule_status(cid: str) -> str:
    """'yes' for JPCLN (lung nodule) cases, 'no' for JPCNN."""
    return "yes" if cid.upper().startswith("JPCLN") else "no"


def index_jsrt(folder) -> dict:
    """{case id: path} of the `.IMG` files under `folder` (recursive)."""
    return _index(folder, (".img",))


def index_png_layout(folder) -> dict:
    """{case id: path} of the PNGs of a BSE-JSRT / Kaggle JSRT folder (recursive)."""
    return _index(folder, (".png",))


def index_scr(folder) -> dict:
    """{(organ, case id): path} of SCR `.gif` masks in folders named heart / left lung /
    right lung (any depth: the official release has fold1/masks/... and fold2/masks/...)."""
    out = {}
    for root, _, files in os.walk(folder):
        organ = SCR_ORGAN_DIRS.get(os.path.basename(root).lower())
        for name in files:
            cid = case_id(name)
            if organ and cid and name.lower().endswith((".gif", ".png")):
                out[(organ, cid)] = os.path.join(root, name)
    return out


def _index(folder, suffixes) -> dict:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{os.fspath(folder)}: no such directory")
    out = {}
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            cid = case_id(name)
            if cid and name.lower().endswith(suffixes):
                out.setdefault(cid, os.path.join(root, name))
    return out


def read_raw_polarity_png(path) -> Radiograph:
    """A BSE-JSRT / Kaggle JSRT PNG (bone dark), inverted to display polarity."""
    return read_raster(path, invert=True)


def read_scr_mask(path) -> np.ndarray:
    """An SCR mask (1024x1024 GIF) as a bool array."""
    return read_mask(path)
