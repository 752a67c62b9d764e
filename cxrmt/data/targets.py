"""Model input and 6-channel target of a paired case (the trainer's tf.data wraps these).

input:  (S, S, 3) float32 in [-1, 1], the radiograph replicated (paper).
target: (S, S, 6) float32 in [-1, 1]: heart, left lung, right lung as +1 / -1 (the colour image
        R, G, B), then the bone-suppressed image x 3. lung_masked=True multiplies the
        bone-suppressed image by the lung masks first, as the paper's authors did.
"""

import cv2
import numpy as np

from ..contract import ORGANS
from ..io.paired import PairedCase
from ..window import normalise_unit


def _unit(a: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] or float [0, 1] -> [-1, 1] (the full-range window)."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return a.astype(np.float32) * np.float32(2.0) - np.float32(1.0)


def _scaled(image: np.ndarray, bone: np.ndarray, window: str) -> tuple:
    """(input, bone target) in [-1, 1] through the network window: "full" (the file's range)
    or "auto" (the image's robust window, the same map on the target)."""
    if window == "full":
        return _unit(image), _unit(bone)
    if window != "auto":
        raise ValueError(f"window must be auto or full (got {window!r})")
    unit = 255.0 if image.dtype == np.uint8 else 1.0
    return normalise_unit(image.astype(np.float32) / np.float32(unit),
                          bone.astype(np.float32) / np.float32(unit))


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


def model_input(image: np.ndarray, window: str = "full") -> np.ndarray:
    """uint8 or [0, 1] float (H, W) radiograph -> (H, W, 3) float32 in [-1, 1]."""
    return np.repeat(_scaled(image, image, window)[0][..., None], 3, axis=-1)


def model_target(case: PairedCase, size: int | None = None, lung_masked: bool = False,
                 window: str = "full") -> np.ndarray:
    """(H, W, 6) float32 target of one case (see pair)."""
    return pair(case, size, lung_masked, window)[1]


def pair(case: PairedCase, size: int | None = None, lung_masked: bool = False,
         window: str = "full"):
    """(input (H, W, 3), target (H, W, 6)) of one case in the layout of DESIGN.md; the bone
    target goes through the input's window. lung_masked multiplies it by the lung masks
    afterwards (background -1), as the paper's authors did."""
    size = size or case.image.shape[0]
    image, bone, masks = resize_case_arrays(case, size)
    x, b = _scaled(image, bone, window)
    if lung_masked:
        b = np.where(masks["left_lung"] | masks["right_lung"], b, np.float32(-1.0))
    seg = np.stack([np.where(masks[o], 1.0, -1.0) for o in ORGANS], axis=-1)
    return (np.repeat(x[..., None], 3, axis=-1),
            np.concatenate([seg.astype(np.float32), np.repeat(b[..., None], 3, axis=-1)],
                           axis=-1))


def samples(dataset, ids, size: int = 512, lung_masked: bool = False, augment=None,
            window: str = "full"):
    """Yield (input, target) for the cases `ids` of a PairedDataset, each case expanded by
    `augment` (case -> list of cases, e.g. paper_augment) when given. Split ids into folds
    first (folds.assign_folds): augmenting after the split keeps copies in their case's fold."""
    for cid in ids:
        case = dataset.load(cid)
        for copy in (augment(case) if augment else [case]):
            yield pair(copy, size, lung_masked, window)
