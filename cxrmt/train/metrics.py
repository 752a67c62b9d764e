"""Validation scores while training, with the metric definitions of `cxrmt.evaluate`.

pred, target: (N, S, S, C) arrays in [-1, 1] in one variant's channel layout (organs first,
then the bone-suppressed image); inputs: (N, S, S, 3) model inputs. Grey levels: 0-255 scale.
"""

import numpy as np

from ..contract import ORGANS
from ..metrics.bone_suppression import bsr, rmse
from ..metrics.segmentation import dice


def to_grey(a: np.ndarray) -> np.ndarray:
    """[-1, 1] channels -> their mean on the 0-255 scale, (N, S, S) float64."""
    return (a.astype(np.float64).mean(axis=-1) + 1.0) * 127.5


def segmentation_scores(pred, target) -> dict:
    """Mean Dice per organ over the cases: an organ where its channel > 0."""
    return {f"dice_{o}": float(np.mean([dice(p[..., c] > 0, t[..., c] > 0)
                                        for p, t in zip(pred, target)]))
            for c, o in enumerate(ORGANS)}


def bone_scores(pred, target, inputs) -> dict:
    """RMSE of the prediction and of the identity (prediction = input), and the bone
    suppression ratio, per case then averaged."""
    p, y, x = to_grey(pred), to_grey(target), to_grey(inputs)
    bsrs = [bsr(pi, yi, xi) for pi, yi, xi in zip(p, y, x)]
    return {"rmse": float(np.mean([rmse(pi, yi) for pi, yi in zip(p, y)])),
            "identity_rmse": float(np.mean([rmse(xi, yi) for xi, yi in zip(x, y)])),
            "bsr": float(np.nanmean(bsrs)) if not np.all(np.isnan(bsrs)) else 0.0}


def task_scores(pred, target, inputs, task: str) -> dict:
    """Scores of one task ('seg', 'bse' or 'mt'), with `score` to pick the best checkpoint:
    mean Dice, BSR, or the mean of both for multitask."""
    out = {"l1": float(np.abs(pred - target).mean())}
    k = 3 if task == "mt" else 0
    if task in ("seg", "mt"):
        out.update(segmentation_scores(pred[..., :3], target[..., :3]))
    if task in ("bse", "mt"):
        out.update(bone_scores(pred[..., k:k + 3], target[..., k:k + 3], inputs))
    parts = []
    if task != "bse":
        parts.append(np.mean([out[f"dice_{o}"] for o in ORGANS]))
    if task != "seg":
        parts.append(out["bsr"])
    out["score"] = float(np.mean(parts))
    return out
