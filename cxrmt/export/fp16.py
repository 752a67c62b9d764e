"""FP16 ONNX (FP32 inputs and outputs kept) and its check in task terms.

TensorRT >= 11 builds strongly typed networks only (no FP16 builder flag), so FP16 is carried by
the ONNX itself. FP16 U-Nets can overflow (NaN, or an all-black output); the check catches both
and compares masks (Dice) and bone images (PSNR) with the FP32 model on real-looking images.
"""

import os
import warnings

import numpy as np

from cxrmt._optional import require

from . import metadata as md

MIN_DICE = 0.995      # FP16 Dice >= 0.995 x FP32's (or agreement with FP32 without truth)
MIN_PSNR_DB = 45.0    # bone-suppressed image vs FP32's


class FP16CheckError(ValueError):
    """The FP16 model is not good enough to ship."""


def load_fp32_onnx(src) -> tuple:
    """(onnx module, model, cxrmt metadata) of an FP32 ONNX; clear errors for a missing file or
    a model that is FP16 already."""
    onnx = require("onnx", "train")
    if not os.path.isfile(src):
        raise FileNotFoundError(f"{src}: no such ONNX file")
    model = onnx.load(os.fspath(src))
    meta = md.onnx_metadata(model)
    if meta.get(md.PREFIX + "precision") == "fp16":
        raise ValueError(f"{src} is already FP16")
    return onnx, model, meta


def convert_fp16(src, dst) -> str:
    """Write `dst`, an FP16 copy of the FP32 ONNX `src` with FP32 input/output."""
    f16 = require("onnxconverter_common.float16", "train")
    onnx, model, meta = load_fp32_onnx(src)
    _route_input_through_identity(model, onnx)
    with warnings.catch_warnings():  # tiny weights flushed to 1e-7: harmless and very many
        warnings.filterwarnings("ignore", message=r".*will be truncated to -?1e-07")
        half = f16.convert_float_to_float16(model, keep_io_types=True)
    md.set_onnx_metadata(half, {**meta, md.PREFIX + "precision": "fp16"})
    onnx.checker.check_model(half, full_check=True)
    from cxrmt.io.writers import write_bytes
    write_bytes(dst, half.SerializeToString())
    return os.fspath(dst)


def _route_input_through_identity(model, onnx) -> None:
    """image -> Identity -> consumers: with keep_io_types, onnxconverter-common inserts one
    cast per consumer of the input under the same name (invalid SSA) when the input feeds
    several nodes, as it does in the residual-head generator."""
    g = model.graph
    name = g.input[0].name
    inner = name + "_fp32"
    for node in g.node:
        node.input[:] = [inner if i == name else i for i in node.input]
    g.node.insert(0, onnx.helper.make_node("Identity", [name], [inner], name="input_identity"))


def _run(predictor, images):
    try:
        return [predictor.run(im) for im in images]
    except FloatingPointError as exc:
        raise FP16CheckError(f"FP16 overflow: {exc}") from None


def compare(ref, half, truths=None) -> dict:
    """Task-level comparison of two lists of Results (FP32, FP16); `truths`: optional list of
    (3, H, W) reference masks."""
    from cxrmt.evaluate.bone import psnr
    from cxrmt.evaluate.segmentation import dice

    report = {"dice_min": 1.0, "dice_ratio_min": None, "psnr_min_db": float("inf"),
              "std_ratio_min": float("inf")}
    for i, (a, b) in enumerate(zip(ref, half)):
        if a.masks is not None:
            report["dice_min"] = min(report["dice_min"],
                                     *(dice(b.masks[c], a.masks[c]) for c in range(3)))
            if truths is not None:
                ratios = [dice(b.masks[c], truths[i][c]) /
                          max(dice(a.masks[c], truths[i][c]), 1e-9) for c in range(3)]
                report["dice_ratio_min"] = min(report["dice_ratio_min"] or 1.0, *ratios)
        if a.bone is not None:
            report["psnr_min_db"] = min(report["psnr_min_db"], psnr(b.bone, a.bone))
        sa, sb = float(np.std(a.output)), float(np.std(b.output))
        report["std_ratio_min"] = min(report["std_ratio_min"], sb / sa if sa > 0 else 1.0)
    return report


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


def check_fp16(fp32_path, fp16_path, images=None, truths=None) -> dict:
    """Compare the FP16 ONNX with its FP32 source on `images` (paths, Radiographs or arrays;
    default: chest phantoms). Raises FP16CheckError on overflow or a task-level loss."""
    from cxrmt.pipeline import Predictor

    from .checks import phantom

    images = list(images) if images else [phantom(600, 520, 0), phantom(700, 700, 1)]
    options = dict(bone_dtype="uint16", device="cpu")
    with Predictor(fp32_path, **options) as p32, Predictor(fp16_path, **options) as p16:
        report = compare(_run(p32, images), _run(p16, images), truths)
    bad = failures(report)
    if bad:
        raise FP16CheckError(f"{fp16_path} fails the FP16 check: " + "; ".join(bad))
    return report
