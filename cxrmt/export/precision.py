"""A reduced-precision model (FP16, INT8, FP16-stored weights) checked against its FP32 source
in task terms: overflow (NaN, or an all-black output), masks (Dice) and bone images (PSNR)."""

import itertools

import numpy as np

from cxrmt.contract import ORGANS
from cxrmt.errors import CheckError
from cxrmt.io.paired import PairedDataset
from cxrmt.metrics.bone_suppression import psnr
from cxrmt.metrics.segmentation import dice
from cxrmt.pipeline import Predictor

from .phantom import phantom

MIN_DICE = 0.995      # Dice >= 0.995 x FP32's (or agreement with FP32 without truth)
MIN_PSNR_DB = 45.0    # bone-suppressed image vs FP32's


class PrecisionCheckError(CheckError):
    """The reduced-precision model is not good enough to ship."""


def _run(predictor, images, label):
    """Results one at a time (a check over a whole dataset keeps one image in memory)."""
    try:
        for im in images:
            yield predictor.run(im)
    except FloatingPointError as exc:
        raise PrecisionCheckError(f"{label} overflow: {exc}") from None


def compare(ref, half, truths=None) -> dict:
    """Task-level comparison of two sequences of Results (FP32, reduced), consumed in step;
    `truths`: optional sequence of (3, H, W) reference masks in model channel order."""

    report = {"dice_min": 1.0, "dice_ratio_min": None, "psnr_min_db": float("inf"),
              "std_ratio_min": float("inf"), "images": 0}
    for a, b, truth in zip(ref, half, truths if truths is not None else itertools.repeat(None)):
        if a.masks is not None:
            report["dice_min"] = min(report["dice_min"],
                                     *(dice(b.masks[c], a.masks[c]) for c in range(3)))
            if truth is not None:
                ratios = [_ratio(dice(b.masks[c], truth[c]), dice(a.masks[c], truth[c]))
                          for c in range(3)]
                report["dice_ratio_min"] = min(report["dice_ratio_min"] or 1.0, *ratios)
        if a.bone_suppressed is not None:
            report["psnr_min_db"] = min(report["psnr_min_db"], psnr(b.bone_suppressed, a.bone_suppressed))
        sa, sb = float(np.std(a.output)), float(np.std(b.output))
        report["std_ratio_min"] = min(report["std_ratio_min"], sb / sa if sa > 0 else 1.0)
        report["images"] += 1
    return report


def _ratio(low: float, ref: float) -> float:
    """Dice of the reduced model over FP32's; 1 where both missed the organ."""
    return 1.0 if ref < 1e-6 and low < 1e-6 else low / max(ref, 1e-9)


def failures(report: dict) -> list:
    bad = []
    if report["std_ratio_min"] < 0.5:
        bad.append(f"output collapsed (std {report['std_ratio_min']:.2f} x FP32's: all-black?)")
    if report["dice_ratio_min"] is not None:
        if report["dice_ratio_min"] < MIN_DICE:
            bad.append(f"Dice {report['dice_ratio_min']:.4f} x FP32's < {MIN_DICE}")
    elif report["dice_min"] < MIN_DICE:
        bad.append(f"masks agree with FP32 at Dice {report['dice_min']:.4f} < {MIN_DICE}")
    if report["psnr_min_db"] < MIN_PSNR_DB:
        bad.append(f"bone image PSNR {report['psnr_min_db']:.1f} dB vs FP32 < {MIN_PSNR_DB}")
    return bad


def check_precision(fp32_path, other_path, images=None, truths=None, label="FP16",
                    name=None, **other_options) -> dict:
    """Compare `other_path` (`label`: FP16, INT8...) with its FP32 source on `images` (paths,
    Radiographs or arrays, any iterable; default: chest phantoms), with `truths` (see `compare`)
    when given; `name`: how messages call the model (default `other_path`); `other_options` go
    to its runner (e.g. backend="openvino", precision="bf16"; the FP32 source always runs on
    its suffix's own backend, ONNX Runtime for .onnx). Raises PrecisionCheckError on overflow
    or a task-level loss."""


    if images is None:
        images = [phantom(600, 520, 0), phantom(700, 700, 1)]
    mine, theirs = itertools.tee(images)
    options = dict(bone_dtype="uint16", device="cpu")
    with Predictor(fp32_path, **options) as p32, \
            Predictor(other_path, **options, **other_options) as low:
        report = compare(_run(p32, mine, "FP32"), _run(low, theirs, label), truths)
    name = name or other_path
    if report["images"] == 0:
        raise ValueError(f"no images to check {name} on")
    bad = failures(report)
    if bad:
        raise PrecisionCheckError(f"{name} fails the {label} check: " + "; ".join(bad))
    return report


def paired_cases(folder) -> tuple:
    """(radiographs, reference masks) of a paired-layout folder (images/ and masks/, as
    `cxrmt data` writes), read lazily and in step, for a check in terms of Dice against truth."""

    ds = PairedDataset(folder)
    if not ds.ids:
        raise ValueError(f"{folder}: no cases in images/")
    cases = (ds.load(cid) for cid in ds.ids)
    a, b = itertools.tee(cases)
    return ((c.image for c in a), (np.stack([c.masks[o] for o in ORGANS]) for c in b))
