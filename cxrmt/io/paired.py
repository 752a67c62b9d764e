"""cxrmt's paired layout (the layout of ../shared/data/jsrt-bse-scr):

    images/<ID>.png  bone_suppressed/<ID>.png  masks/{right_lung,left_lung,heart}/<ID>.png
    cases.csv (id, nodule, ..., sha256 of each file)
"""

import csv
import io
import os
from dataclasses import dataclass

import numpy as np

from ..contract import MASK_ORGANS
from ..errors import ImageFormatError
from .digest import sha256_file
from .raster import read_mask, read_raster
from .writers import write_png, write_text

_SHA_KEYS = {"image": "sha256_image", "bone_suppressed": "sha256_bone_suppressed",
             **{o: f"sha256_{o}" for o in MASK_ORGANS}}


@dataclass
class PairedCase:
    """One case: radiograph and bone-suppressed image (uint8, display polarity), bool masks."""

    case_id: str
    image: np.ndarray
    bone_suppressed: np.ndarray
    masks: dict  # organ -> (H, W) bool
    nodule: str | None = None


def case_paths(root, cid: str) -> dict:
    """{part: path} of the five files of a case."""
    paths = {"image": os.path.join(root, "images", f"{cid}.png"),
             "bone_suppressed": os.path.join(root, "bone_suppressed", f"{cid}.png")}
    for organ in MASK_ORGANS:
        paths[organ] = os.path.join(root, "masks", organ, f"{cid}.png")
    return paths


class PairedDataset:
    """Read access to a paired-layout folder."""

    def __init__(self, root):
        self.root = os.fspath(root)
        if not os.path.isdir(os.path.join(self.root, "images")):
            raise FileNotFoundError(f"{self.root}: not a paired-layout folder (no images/)")
        self.rows = self._read_rows()
        self.ids = sorted(self.rows)

    def _read_rows(self) -> dict:
        csv_path = os.path.join(self.root, "cases.csv")
        if not os.path.exists(csv_path):
            names = sorted(os.listdir(os.path.join(self.root, "images")))
            return {n[:-4]: {"id": n[:-4]} for n in names if n.endswith(".png")}
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and "id" not in rows[0]:
            raise ImageFormatError(csv_path, "cases.csv has no 'id' column")
        return {r["id"]: r for r in rows}

    def nodule(self, cid: str) -> str | None:
        return self.rows[cid].get("nodule") or None

    def load(self, cid: str, verify: bool = False) -> PairedCase:
        """Load a case; missing or mis-sized files raise ImageFormatError naming the file."""
        paths = case_paths(self.root, cid)
        for part, path in paths.items():
            if not os.path.exists(path):
                raise ImageFormatError(path, f"missing {part} file of case {cid}")
            if verify:
                self._verify(cid, part, path)
        image = _gray8(paths["image"])
        bone = _gray8(paths["bone_suppressed"])
        if bone.shape != image.shape:
            raise ImageFormatError(paths["bone_suppressed"],
                                   f"size {bone.shape} differs from the radiograph {image.shape}")
        masks = {o: read_mask(paths[o], image.shape) for o in MASK_ORGANS}
        return PairedCase(cid, image, bone, masks, self.nodule(cid))

    def _verify(self, cid, part, path):
        want = self.rows[cid].get(_SHA_KEYS[part])
        if want and sha256_file(path) != want:
            raise ImageFormatError(path, f"SHA-256 differs from cases.csv ({part} of {cid})")


def _gray8(path) -> np.ndarray:
    rg = read_raster(path)
    if rg.pixels.dtype == np.uint16:  # accept 16-bit files; the model works on 8-bit scale
        return np.round(rg.pixels / 257.0).astype(np.uint8)
    return rg.pixels


def write_case(root, case: PairedCase) -> dict:
    """Write the five PNGs of a case atomically; return their SHA-256 keyed as in cases.csv."""
    paths = case_paths(root, case.case_id)
    arrays = {"image": case.image, "bone_suppressed": case.bone_suppressed,
              **{o: case.masks[o].astype(np.uint8) * 255 for o in MASK_ORGANS}}
    shas = {}
    for part, arr in arrays.items():
        write_png(paths[part], arr)
        shas[_SHA_KEYS[part]] = sha256_file(paths[part])
    return shas


def write_cases_csv(root, rows: list, extra_fields=()) -> None:
    """Write cases.csv atomically: id, nodule, extra fields, then the SHA-256 columns."""
    fields = ["id", "nodule", *extra_fields, *_SHA_KEYS.values()]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(os.path.join(root, "cases.csv"), buf.getvalue())


def resize_area(img: np.ndarray, size: int) -> np.ndarray:
    """Area-average resize to size x size (the shared data's reduction)."""
    import cv2   # loaded when needed: it costs ~30 ms of every command's start

    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
