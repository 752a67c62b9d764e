"""Score cases: one flat row of metrics per case, from predictions in memory or on disk.

`score_case` is the unit every evaluation path shares (`cxrmt eval --predictions`, and later
`cxrmt eval --model` and `cxrmt cv`, which produce predictions in memory and call it directly).
Column names: `<metric>_<organ>` and `<metric>_mean` (organ average) for segmentation; `rmse`,
`mssim`, `psnr`, `bsr` on the full image, the same + `_lungs` inside the ground-truth lung fields
(right | left lung); the same with prefix `identity_` for the identity baseline (prediction =
input radiograph), which is always reported beside the method.
"""

import os
from dataclasses import dataclass

import numpy as np

from cxrmt.contract import MASK_ORGANS, ORGANS
from cxrmt.errors import ImageFormatError
from cxrmt.io.layout import output_paths
from cxrmt.io.paired import PairedCase, PairedDataset
from cxrmt.io.raster import read_mask, read_raster
from cxrmt.metrics.bone_suppression import bone_metrics
from cxrmt.metrics.segmentation import organ_metrics

SEG_METRICS = ("dice", "jaccard", "fnr", "fpr", "hd95", "hd95_mm")
BONE_METRICS = ("rmse", "mssim", "psnr", "bsr")
LUNGS = "_lungs"
IDENTITY = "identity_"


def metric_columns() -> list:
    """Every metric column in report order (a row holds the subset its inputs allow)."""
    seg = [f"{m}_{o}" for m in SEG_METRICS for o in (*MASK_ORGANS, "mean")]
    bone = [*BONE_METRICS, *(m + LUNGS for m in BONE_METRICS)]
    return seg + bone + [IDENTITY + c for c in bone]


@dataclass
class Prediction:
    """A method's output for one case at the original size; either part may be missing
    (single-task methods). bone_suppressed: (H, W) uint8/uint16 or float on the 0-255 scale;
    masks: {organ: (H, W) bool} for all of MASK_ORGANS."""

    bone_suppressed: np.ndarray | None = None
    masks: dict | None = None


def lung_fields(truth: PairedCase) -> np.ndarray:
    """The region of the `_lungs` metrics: ground-truth right | left lung."""
    return truth.masks["right_lung"] | truth.masks["left_lung"]


def score_case(truth: PairedCase, pred: Prediction, spacing=None) -> dict:
    """One row: id, nodule, then the metrics `pred` allows, then the identity baseline.

    spacing: (row, col) mm per pixel, adds `hd95_mm_*` columns.
    """
    row = {"id": truth.case_id, "nodule": truth.nodule or ""}
    lungs = lung_fields(truth)
    if pred.masks is not None:
        row.update(segmentation_columns(pred.masks, truth.masks, spacing))
    if pred.bone_suppressed is not None:
        _check_shape(pred.bone_suppressed, truth.image.shape, "bone-suppressed prediction")
        row.update(bone_metrics(pred.bone_suppressed, truth.bone_suppressed, truth.image, lungs, LUNGS))
    ident = bone_metrics(truth.image, truth.bone_suppressed, truth.image, lungs, LUNGS)
    row.update({IDENTITY + k: v for k, v in ident.items()})
    return row


def segmentation_columns(pred_masks: dict, true_masks: dict, spacing=None) -> dict:
    """`<metric>_<organ>` for each organ and `<metric>_mean`, the plain organ average (NaN if
    any organ's value is NaN, so that an undefined organ is not hidden by the others)."""
    cols, per_metric = {}, {}
    for organ in MASK_ORGANS:
        _check_shape(pred_masks[organ], true_masks[organ].shape, f"{organ} mask")
        for metric, value in organ_metrics(pred_masks[organ], true_masks[organ], spacing).items():
            cols[f"{metric}_{organ}"] = value
            per_metric.setdefault(metric, []).append(value)
    cols.update({f"{m}_mean": float(np.mean(v)) for m, v in per_metric.items()})
    return cols


def _check_shape(arr, shape, what):
    if np.shape(arr) != tuple(shape):
        raise ValueError(f"{what} is {np.shape(arr)}, ground truth is {tuple(shape)} "
                         "(predictions must be at the original size)")


def prediction_paths(pred_dir, stem: str) -> dict:
    """The `cxrmt infer` output files of one input: bone-suppressed image and one mask per organ."""

    paths = output_paths(pred_dir, stem, masks=True)
    return {"bone_suppressed": paths["bse"], **{o: paths[f"mask_{o}"] for o in MASK_ORGANS}}


def read_prediction(pred_dir, stem: str, shape) -> Prediction | None:
    """Read one case's outputs; None when the folder has none of its files.

    The bone-suppressed image may be 8- or 16-bit (scaled to 0-255, not rounded); masks are
    bright = organ. Some but not all of the three masks is an error naming the missing file.
    """
    paths = prediction_paths(pred_dir, stem)
    bone = None
    if os.path.exists(paths["bone_suppressed"]):
        rg = read_raster(paths["bone_suppressed"])
        bone = rg.pixels.astype(np.float64) * (255.0 / rg.white)
    present = [o for o in MASK_ORGANS if os.path.exists(paths[o])]
    if present and len(present) < len(MASK_ORGANS):
        missing = next(paths[o] for o in MASK_ORGANS if o not in present)
        raise ImageFormatError(missing, f"missing mask of case {stem} (other masks exist)")
    masks = {o: read_mask(paths[o], shape) for o in present} or None
    return None if bone is None and masks is None else Prediction(bone, masks)


def evaluate_predictions(pred_dir, data_dir, spacing=None, progress=None) -> tuple:
    """Score every case of the paired folder `data_dir` that has outputs in `pred_dir`.

    Returns (rows, skipped ids). Raises FileNotFoundError when no case has any output.
    progress: optional callable(done, total, case_id).
    """
    if not os.path.isdir(pred_dir):
        raise FileNotFoundError(f"{pred_dir}: no such predictions folder")
    data = PairedDataset(data_dir)
    rows, skipped = [], []
    for i, cid in enumerate(data.ids):
        if not any(map(os.path.exists, prediction_paths(pred_dir, cid).values())):
            skipped.append(cid)  # not predicted (e.g. another fold): skip without reading it
        else:
            truth = data.load(cid)
            rows.append(score_case(truth, read_prediction(pred_dir, cid, truth.image.shape),
                                   spacing))
        if progress:
            progress(i + 1, len(data.ids), cid)
    if not rows:
        raise FileNotFoundError(f"{pred_dir}: no prediction files (<ID>_bse.png or "
                                f"<ID>_mask_<organ>.png) for any of the {len(data.ids)} cases "
                                f"of {data_dir}")
    return rows, skipped


def prediction_of(result) -> Prediction:
    """A `cxrmt.pipeline.Result` as a Prediction (mask channels are heart, left, right lung)."""

    masks = None if result.masks is None else {o: result.masks[i] > 0 for i, o in enumerate(ORGANS)}
    bone = None if result.bone_suppressed is None else result.bone_suppressed.astype(np.float64) * (
        255.0 / np.iinfo(result.bone_suppressed.dtype).max)
    return Prediction(bone, masks)


def evaluate_model(predictor, data_dir, spacing=None, progress=None, ids=None,
                   on_result=None) -> tuple:
    """Run `predictor` (a cxrmt.pipeline.Predictor) on the cases `ids` of the paired folder (all
    by default) and score them. Returns (rows, mean per-stage timings in ms).

    on_result: optional callable(case_id, Result), e.g. to keep the outputs (`cxrmt cv`)."""
    data = PairedDataset(data_dir)
    ids = data.ids if ids is None else list(ids)
    rows, timings = [], {}
    for i, cid in enumerate(ids):
        truth = data.load(cid)
        result = predictor.run(truth.image)
        rows.append(score_case(truth, prediction_of(result), spacing))
        for stage, ms in result.timings.items():
            timings[stage] = timings.get(stage, 0.0) + ms / len(ids)
        if on_result:
            on_result(cid, result)
        if progress:
            progress(i + 1, len(ids), cid)
    return rows, {k: round(v, 2) for k, v in timings.items()}
