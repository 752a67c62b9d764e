"""Model input and 6-channel target of a paired case (the trainer's tf.data wraps these).

input:  (S, S, 3) float32 in [-1, 1], the radiograph replicated (paper).
target: (S, S, 6) float32 in [-1, 1]: heart, left lung, right lung as +1 / -1 (the colour image
        R, G, B), then the bone-suppressed image x 3. lung_masked=True multiplies the
        bone-suppressed image by the lung masks first, as the paper's authors did.
"""

import cv2
import numpy as np

from .. import ORGANS
from ..io.paired import PairedCase


def _unit(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def resize_case_arrays(case: PairedCase, size: int):
    """(image, bone_suppressed, masks) at size x size: area for images, nearest for masks."""
    if case.image.shape == (size, size):
        return case.image, case.bone_suppressed, case.masks

    def img(a):
        return cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA)
    masks = {k: cv2.resize(v.astype(np.uint8), (size, size),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
             for k, v in case.masks.items()}
    return img(case.image), img(case.bone_suppressed), masks


def model_input(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) radiograph -> (H, W, 3) float32 in [-1, 1]."""
    return np.repeat(_unit(image)[..., None], 3, axis=-1)


def model_target(case: PairedCase, size: int | None = None,
                 lung_masked: bool = False) -> np.ndarray:
    """(H, W, 6) float32 target in the layout of DESIGN.md."""
    size = size or case.image.shape[0]
    _, bone, masks = resize_case_arrays(case, size)
    if lung_masked:
        bone = bone * (masks["left_lung"] | masks["right_lung"]).astype(np.uint8)
    seg = np.stack([np.where(masks[o], 1.0, -1.0) for o in ORGANS], axis=-1)
    return np.concatenate([seg.astype(np.float32),
                           np.repeat(_unit(bone)[..., None], 3, axis=-1)], axis=-1)


def pair(case: PairedCase, size: int | None = None, lung_masked: bool = False):
    """(input, target) for one case."""
    size = size or case.image.shape[0]
    image, _, _ = resize_case_arrays(case, size)
    return model_input(image), model_target(case, size, lung_masked)


def samples(dataset, ids, size: int = 512, lung_masked: bool = False, augment=None):
    """Yield (input, target) for the cases `ids` of a PairedDataset, each case expanded by
    `augment` (case -> list of cases, e.g. paper_augment) when given. Split ids into folds
    first (folds.assign_folds): augmenting after the split keeps copies in their case's fold."""
    for cid in ids:
        case = dataset.load(cid)
        for copy in (augment(case) if augment else [case]):
            yield pair(copy, size, lung_masked)
