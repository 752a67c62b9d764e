"""Convert the official JSRT (.IMG), SCR (.gif masks) and BSE-JSRT (.png) distributions into the
paired layout, one case at a time (a few tens of MB in memory at any moment)."""

import logging

import cv2
import numpy as np

from ..contract import MASK_ORGANS
from ..errors import ImageFormatError
from ..io.jsrt import (
    index_jsrt,
    index_png_layout,
    index_scr,
    nodule_status,
    read_jsrt_img,
    read_raw_polarity_png,
    read_scr_mask,
)
from ..io.paired import PairedCase, write_case, write_cases_csv

log = logging.getLogger(__name__)


def _to8(unit: np.ndarray, size: int) -> np.ndarray:
    small = cv2.resize(unit.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return np.round(np.clip(small, 0.0, 1.0) * 255.0).astype(np.uint8)


def _mask(path, size: int) -> np.ndarray:
    m = read_scr_mask(path).astype(np.float32)
    return cv2.resize(m, (size, size), interpolation=cv2.INTER_AREA) >= 0.5


def _sources(jsrt, scr, bse):
    imgs, bses, masks = index_jsrt(jsrt), index_png_layout(bse), index_scr(scr)
    if not imgs:
        raise FileNotFoundError(f"{jsrt}: no JSRT .IMG files found")
    return imgs, bses, masks


def _missing(cid, bses, masks, scr, bse) -> list:
    out = [] if cid in bses else [f"{bse}: no bone-suppressed PNG for {cid}"]
    return out + [f"{scr}: no '{o.replace('_', ' ')}' mask for {cid}"
                  for o in MASK_ORGANS if (o, cid) not in masks]


def import_jsrt(jsrt, scr, bse, out, size=512, skip_incomplete=False) -> int:
    """Write the paired layout under `out`; returns the number of cases written."""
    imgs, bses, masks = _sources(jsrt, scr, bse)
    problems = {cid: _missing(cid, bses, masks, scr, bse) for cid in sorted(imgs)}
    bad = {c: p for c, p in problems.items() if p}
    if bad and not skip_incomplete:
        lines = [m for p in bad.values() for m in p]
        raise ImageFormatError(out, f"{len(bad)} incomplete case(s), nothing written "
                               f"(--skip-incomplete skips them): " + "; ".join(lines[:10]))
    rows = []
    for cid in sorted(set(imgs) - set(bad)):
        case = _load(cid, imgs[cid], bses[cid], {o: masks[(o, cid)] for o in MASK_ORGANS}, size)
        rows.append({"id": cid, "nodule": case.nodule, **write_case(out, case)})
    write_cases_csv(out, rows)
    for cid, p in bad.items():
        log.info(f"skipped {cid}: {'; '.join(p)}")
    return len(rows)


def _load(cid, img_path, bse_path, mask_paths, size) -> PairedCase:
    image = read_jsrt_img(img_path)
    bone = read_raw_polarity_png(bse_path)
    h, w = bone.pixels.shape
    if h != w:
        raise ImageFormatError(bse_path, f"bone-suppressed image is {w}x{h}, expected square")
    return PairedCase(cid, _to8(image.unit(), size), _to8(bone.unit(), size),
                      {o: _mask(p, size) for o, p in mask_paths.items()}, nodule_status(cid))
