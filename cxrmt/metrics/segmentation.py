"""Segmentation metrics of Eslami et al. (2020), eqs. (5)-(8), plus the 95 % Hausdorff distance.

All functions take two boolean masks of the same shape: `pred` (PM) and `truth` (GT).

Empty-mask conventions (documented so that summaries stay interpretable):
  * Dice, Jaccard: both masks empty -> 1.0 (the prediction is exactly right).
  * FNR = FN / |GT|: GT empty -> 0.0 (there was nothing to miss).
  * FPR = FP / |GT|: GT empty -> 0.0 if the prediction is empty too, else NaN (a false-positive
    area cannot be normalised by a zero ground-truth area).
  * HD95: both empty -> 0.0; exactly one empty -> NaN (no boundary to measure against).
NaN means "undefined for this case"; summaries skip NaNs and report how many values they used.
"""

import cv2
import numpy as np

from cxrmt._optional import require


def confusion(pred, truth) -> tuple:
    """(TP, FP, FN) pixel counts."""
    pred, truth = _pair(pred, truth)
    tp = int(np.count_nonzero(pred & truth))
    return tp, int(np.count_nonzero(pred)) - tp, int(np.count_nonzero(truth)) - tp


def dice(pred, truth) -> float:
    """Eq. (5): 2 TP / (2 TP + FP + FN)."""
    tp, fp, fn = confusion(pred, truth)
    return 1.0 if tp + fp + fn == 0 else 2.0 * tp / (2 * tp + fp + fn)


def jaccard(pred, truth) -> float:
    """Eq. (6): TP / (TP + FP + FN)."""
    tp, fp, fn = confusion(pred, truth)
    return 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn)


def fnr(pred, truth) -> float:
    """Eq. (7): FN / (TP + FN), the share of the ground truth that was missed."""
    tp, _, fn = confusion(pred, truth)
    return 0.0 if tp + fn == 0 else fn / (tp + fn)


def fpr(pred, truth) -> float:
    """Eq. (8) as the paper defines it: FP / (TP + FN).

    Note: the paper normalises the false-positive area by the ground-truth area |GT|, not by the
    number of true negatives as the usual false-positive rate FP / (FP + TN) does. We follow the
    paper so that values are comparable with its Table I; this FPR can exceed 1.
    """
    tp, fp, fn = confusion(pred, truth)
    if tp + fn == 0:
        return 0.0 if fp == 0 else float("nan")
    return fp / (tp + fn)


def boundary(mask) -> np.ndarray:
    """Mask pixels with a 4-neighbour outside the mask; pixels outside the image count as outside,
    so an organ cut by the image edge has its boundary along the edge."""
    m = np.pad(np.asarray(mask, bool), 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return m[1:-1, 1:-1] & ~inner


def hd95(pred, truth, spacing=None) -> float:
    """Symmetric 95 % Hausdorff distance between the boundaries of two masks.

    For each boundary pixel of one mask, the Euclidean distance to the nearest boundary pixel of
    the other mask; the 95th percentile (numpy's linear interpolation) of each directed set; the
    larger of the two. In pixels, or in millimetres when `spacing` = (row, col) mm is given.
    Distances come from exact Euclidean distance transforms: OpenCV's (base dependency) for square
    pixels, SciPy's (extra `data`) for anisotropic spacing, which OpenCV cannot do.
    """
    pred, truth = _pair(pred, truth)
    bp, bt = boundary(pred), boundary(truth)
    if not bp.any() and not bt.any():
        return 0.0
    if not bp.any() or not bt.any():
        return float("nan")
    d_pt = _distance_to(bt, spacing)[bp]
    d_tp = _distance_to(bp, spacing)[bt]
    return float(max(np.percentile(d_pt, 95), np.percentile(d_tp, 95)))


def _distance_to(points, spacing) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of `points`."""
    row, col = (1.0, 1.0) if spacing is None else (float(spacing[0]), float(spacing[1]))
    if row <= 0 or col <= 0:
        raise ValueError(f"pixel spacing must be positive, got {spacing}")
    if row == col:
        src = np.where(points, 0, 255).astype(np.uint8)  # OpenCV measures to the zero pixels
        dist = cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return dist.astype(np.float64) * row
    ndimage = require("scipy.ndimage", "data")
    return ndimage.distance_transform_edt(~points, sampling=(row, col))


def _pair(pred, truth) -> tuple:
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    if pred.shape != truth.shape or pred.ndim != 2:
        raise ValueError(f"masks must be 2-D and equal in shape, got {pred.shape}, {truth.shape}")
    return pred, truth


def organ_metrics(pred, truth, spacing=None) -> dict:
    """All segmentation metrics of one organ: {dice, jaccard, fnr, fpr, hd95[, hd95_mm]}."""
    out = {"dice": dice(pred, truth), "jaccard": jaccard(pred, truth),
           "fnr": fnr(pred, truth), "fpr": fpr(pred, truth), "hd95": hd95(pred, truth)}
    if spacing is not None:
        out["hd95_mm"] = hd95(pred, truth, spacing)
    return out
