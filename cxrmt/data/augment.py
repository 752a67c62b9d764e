"""Geometric augmentation applied identically to radiograph, bone-suppressed image and masks.

The paper's fixed set (rotations +10 and -5 degrees, translations (30, 10) and (-20, -10) px at
512) gives 5 copies of every case. A horizontal flip is only offered together with swapping the
lung masks, so 'left_lung' stays the patient's left lung.
"""

from dataclasses import replace

import cv2
import numpy as np

from ..io.paired import PairedCase

# name -> (angle in degrees, counter-clockwise; (dx, dy) in pixels at 512 x 512)
PAPER = {"orig": (0.0, (0, 0)), "rot+10": (10.0, (0, 0)), "rot-5": (-5.0, (0, 0)),
         "shift+30+10": (0.0, (30, 10)), "shift-20-10": (0.0, (-20, -10))}


def affine(size_hw, angle=0.0, shift_px=(0.0, 0.0), scale=1.0, aspect=1.0) -> np.ndarray:
    """2x3 matrix: rotation/scale about the image centre (x scaled by `aspect` more than y),
    then a shift."""
    h, w = size_hw
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, scale)
    if aspect != 1.0:  # stretch x about the centre after the rotation
        cx = (w - 1) / 2.0
        m[0] *= aspect
        m[0, 2] += cx * (1.0 - aspect)
    m[:, 2] += shift_px
    return m


def warp_case(case: PairedCase, m: np.ndarray, suffix: str = "") -> PairedCase:
    """Apply one 2x3 affine to every array of the case (linear for images, nearest for masks)."""
    h, w = case.image.shape

    def img(a):
        return cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def msk(a):
        return cv2.warpAffine(a.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)

    return replace(case, case_id=case.case_id + suffix, image=img(case.image),
                   bone_suppressed=img(case.bone_suppressed),
                   masks={k: msk(v) for k, v in case.masks.items()})


def paper_augment(case: PairedCase) -> list:
    """The 5 copies of the paper (original first); shifts scale with the image size."""
    h, w = case.image.shape
    out = []
    for name, (angle, (dx, dy)) in PAPER.items():
        m = affine((h, w), angle, (dx * w / 512.0, dy * h / 512.0))
        out.append(warp_case(case, m, "" if name == "orig" else f"@{name}"))
    return out


def flip_lr(case: PairedCase) -> PairedCase:
    """Mirror left-right and swap the lung masks (the patient's left lung stays 'left_lung')."""
    masks = {k: v[:, ::-1].copy() for k, v in case.masks.items()}
    masks["left_lung"], masks["right_lung"] = masks["right_lung"], masks["left_lung"]
    return replace(case, case_id=case.case_id + "@flip", image=case.image[:, ::-1].copy(),
                   bone_suppressed=case.bone_suppressed[:, ::-1].copy(), masks=masks)


def random_augment(case: PairedCase, rng, max_deg=10.0, max_shift=30.0, max_scale=0.05,
                   flip_prob=0.0, max_aspect=0.0) -> PairedCase:
    """Online augmentation for training: random rotation, shift (px at 512), scale and aspect."""
    h, w = case.image.shape
    m = affine((h, w), rng.uniform(-max_deg, max_deg),
               (rng.uniform(-max_shift, max_shift) * w / 512.0,
                rng.uniform(-max_shift, max_shift) * h / 512.0),
               1.0 + rng.uniform(-max_scale, max_scale),
               1.0 + rng.uniform(-max_aspect, max_aspect) if max_aspect else 1.0)
    out = warp_case(case, m, "@rand")
    return flip_lr(out) if rng.random() < flip_prob else out
