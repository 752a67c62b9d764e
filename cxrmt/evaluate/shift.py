"""The robustness benchmark: labelled cases under a fixed list of acquisition shifts.

Each shift turns a paired case (8-bit radiograph, bone-suppressed target, masks) into the case a
user at another site would have, with its matching ground truth, by the rules of
`cxrmt.data.photometric`: display maps and spatial processing are applied to the radiograph and
the target alike, degradations (noise, JPEG) add the same change to the target, so the bone
layer the model should remove is the same. Results are re-quantised to 8 bits, as an export is.

SHIFTS (fixed; parameters at 512 x 512, scaled with the image):
  none          the case as it is
  darker        window [0.15, 1.15] of [0, 1] (lower exposure / level)
  brighter      window [-0.15, 0.85]
  gamma0.6      gamma 0.6 (flatter lungs)        gamma1.6   gamma 1.6 (harder)
  unsharp       strong DR-console processing: unsharp masking sigma 4 px gain 1.5 + 32 px gain 1
  noise         Poisson (500 photons at white) + Gaussian (sigma 0.005), seeded per case
  jpeg40        8-bit JPEG at quality 40
  downscale2    the whole case at half resolution (area; masks nearest)
  border        black collimation: 8 % of the height top and bottom, 4 % of the width at the
                sides (organ masks cleared there: nothing to see)
An inverted LUT (MONOCHROME1 read as MONOCHROME2) is a reader mistake, not a shift: excluded.
"""

import zlib
from dataclasses import replace

import cv2
import numpy as np

from cxrmt.data import photometric as ph
from cxrmt.io.paired import PairedCase

from .cases import prediction_of, score_case


def _u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)


def _alike(case: PairedCase, f) -> PairedCase:
    """The same processing of radiograph and target."""
    x = case.image.astype(np.float32) / np.float32(255.0)
    y = case.bone_suppressed.astype(np.float32) / np.float32(255.0)
    return replace(case, image=_u8(f(x)), bone_suppressed=_u8(f(y)))


def _degraded(case: PairedCase, f) -> PairedCase:
    """A degradation of the radiograph; its change is added to the target."""
    x = case.image.astype(np.float32) / np.float32(255.0)
    y = case.bone_suppressed.astype(np.float32) / np.float32(255.0)
    x2 = f(x)
    return replace(case, image=_u8(x2), bone_suppressed=_u8(y + (x2 - x)))


def _scale(case) -> float:
    return case.image.shape[1] / 512.0


def _noise(case):
    rng = np.random.default_rng(zlib.crc32(case.case_id.encode()))
    return _degraded(case, lambda a: ph.poisson_gaussian(a, rng, 500.0, 0.005))


def _downscale(case):
    h, w = case.image.shape
    size = (w // 2, h // 2)

    def img(a):
        return cv2.resize(a, size, interpolation=cv2.INTER_AREA)
    masks = {k: cv2.resize(v.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
             for k, v in case.masks.items()}
    return replace(case, image=img(case.image), bone_suppressed=img(case.bone_suppressed),
                   masks=masks)


def _border(case):
    h, w = case.image.shape
    m = ph.border_mask((h, w), (int(0.08 * h), int(0.08 * h), int(0.04 * w), int(0.04 * w)))
    image, bone = case.image.copy(), case.bone_suppressed.copy()
    image[m], bone[m] = 0, 0
    return replace(case, image=image, bone_suppressed=bone,
                   masks={k: v & ~m for k, v in case.masks.items()})


SHIFTS = {
    "none": lambda c: c,
    "darker": lambda c: _alike(c, lambda a: ph.window_level(a, 0.15, 1.15)),
    "brighter": lambda c: _alike(c, lambda a: ph.window_level(a, -0.15, 0.85)),
    "gamma0.6": lambda c: _alike(c, lambda a: ph.gamma(a, 0.6)),
    "gamma1.6": lambda c: _alike(c, lambda a: ph.gamma(a, 1.6)),
    "unsharp": lambda c: _alike(c, lambda a: ph.unsharp(a, [4.0 * _scale(c), 32.0 * _scale(c)],
                                                        [1.5, 1.0])),
    "noise": _noise,
    "jpeg40": lambda c: _degraded(c, lambda a: ph.jpeg(a, 40)),
    "downscale2": _downscale,
    "border": _border,
}


def parse_shifts(text: str) -> list:
    """'all' or a comma list of SHIFTS names ('none' is always included, first)."""
    names = list(SHIFTS) if text == "all" else [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in SHIFTS]
    if unknown:
        raise ValueError(f"unknown shift(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(SHIFTS)} or all")
    return ["none"] + [s for s in names if s != "none"]


def shifted(case: PairedCase, name: str) -> PairedCase:
    return SHIFTS[name](case)


def run_shifts(predictor_of, cases, shifts, spacing=None, progress=None) -> list:
    """Rows of score_case with a `shift` column: each case under each shift, predicted by
    `predictor_of(case_id)` (the model that did not train on it)."""

    rows, total = [], len(cases) * len(shifts)
    for i, case in enumerate(cases):
        predictor = predictor_of(case.case_id)
        for j, name in enumerate(shifts):
            c = shifted(case, name)
            sp = spacing
            if spacing is not None and name == "downscale2":
                sp = (2 * spacing[0], 2 * spacing[1])       # half the pixels, twice the size
            rows.append({"shift": name, **score_case(c, prediction_of(predictor.run(c.image)),
                                                     sp)})
            if progress:
                progress(i * len(shifts) + j + 1, total, f"{case.case_id} {name}")
    return rows


COLUMNS = ("dice_right_lung", "dice_left_lung", "dice_heart", "bsr", "bsr_lungs", "rmse",
           "identity_rmse")


def table(rows, shifts, label="") -> list:
    """Markdown lines: one row per shift, the means of COLUMNS, and the change from 'none'."""
    means = {s: {c: float(np.nanmean([r[c] for r in rows if r["shift"] == s and c in r]))
                 for c in COLUMNS} for s in shifts}
    base = means["none"]
    head = ["| shift" + (f" ({label})" if label else "") + " | Dice right lung | Dice left lung "
            "| Dice heart | BSR | BSR lungs | RMSE | identity RMSE | worst Dice drop |",
            "|---|---|---|---|---|---|---|---|---|"]
    lines = []
    for s in shifts:
        m = means[s]
        drop = max(base[c] - m[c] for c in COLUMNS[:3])
        lines.append(f"| {s} | {m['dice_right_lung']:.3f} | {m['dice_left_lung']:.3f} | "
                     f"{m['dice_heart']:.3f} | {m['bsr']:.3f} | {m['bsr_lungs']:.3f} | "
                     f"{m['rmse']:.2f} | {m['identity_rmse']:.2f} | "
                     f"{'' if s == 'none' else f'{drop:+.3f}'} |")
    return head + lines
