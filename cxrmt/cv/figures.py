"""Which figures a `cxrmt cv` report shows, and their data: box plots (the paper's Figures 2, 4,
7, 8), best and worst cases (Figures 3, 5) and loss curves (Figure 6). Drawing is in figures."""

import logging
import math
import os

from cxrmt.contract import MASK_ORGANS
from cxrmt.evaluate.cases import IDENTITY, LUNGS, read_prediction
from cxrmt.io.paired import PairedDataset

from .experiment import name, networks_of, read_json, run_dir, test_dir

log = logging.getLogger(__name__)

ORGAN_TITLES = {"heart": "heart", "left_lung": "left lung", "right_lung": "right lung"}


def make_all(out, results: dict, folds: int) -> list:
    """Draw every figure into <out>/figures; returns [(title, path)] in report order."""
    from . import plots as fg

    d = os.path.join(out, "figures")
    made = []
    seg = {name(v): rows for v, rows in results.items() if _has(rows, "dice_mean")}
    bone = {name(v): rows for v, rows in results.items() if _has(rows, "rmse")}
    if bone:  # the identity baseline is the input itself: the same for every variant
        bone = {"Identity": _identity(next(iter(bone.values()))), **bone}
    if seg:
        made.append(("Figure 2: Dice per organ", fg.box_plots(
            os.path.join(d, "fig2_dice.png"), _organ_panels(seg, ("dice",)))))
        made.append(("Figure 4: Jaccard and HD95 per organ", fg.box_plots(
            os.path.join(d, "fig4_jaccard_hd95.png"), _organ_panels(seg, ("jaccard", "hd95")))))
    if bone:
        made.append(("Figure 7: bone suppression RMSE and M-SSIM", fg.box_plots(
            os.path.join(d, "fig7_rmse_mssim.png"), _panels(bone, ("rmse", "mssim", "rmse"
                                                                   + LUNGS, "mssim" + LUNGS)))))
        made.append(("Figure 8: bone suppression ratio", fg.box_plots(
            os.path.join(d, "fig8_bsr.png"), _panels(bone, ("bsr", "bsr" + LUNGS)))))
    for v, rows in results.items():
        for fig, col in (("fig3", "dice_mean"), ("fig5", "bsr")):
            if _has(rows, col):
                path = os.path.join(d, f"{fig}_{v}.png")
                made.append((f"Figure {fig[-1]}: best and worst {name(v)} case by {col}",
                             _best_worst(path, out, v, rows, col)))
    curves = _curves(out, results, folds)
    if curves:
        made.append(("Figure 6: training losses", fg.loss_curves(
            os.path.join(d, "fig6_losses.png"), curves)))
    return sorted(made, key=lambda m: m[0].split(":")[0])  # by figure number


def _has(rows, col) -> bool:
    return any(isinstance(r.get(col), float) and not math.isnan(r[col]) for r in rows)


def _identity(rows) -> list:
    return [{k[len(IDENTITY):]: v for k, v in r.items() if k.startswith(IDENTITY)} for r in rows]


def _panels(groups: dict, cols) -> list:
    return [(c, {g: [r.get(c, math.nan) for r in rows] for g, rows in groups.items()})
            for c in cols]


def _organ_panels(groups: dict, metrics) -> list:
    return [(f"{m} {ORGAN_TITLES[o]}", {g: [r.get(f"{m}_{o}", math.nan) for r in rows]
                                        for g, rows in groups.items()})
            for m in metrics for o in MASK_ORGANS]


def _best_worst(path, out, variant, rows, col) -> str:
    from . import plots as fg

    scored = sorted((r for r in rows if not math.isnan(r[col])), key=lambda r: r[col])
    grid = [(f"best, {col} {scored[-1][col]:.3f}", _panels_of(out, variant, scored[-1])),
            (f"worst, {col} {scored[0][col]:.3f}", _panels_of(out, variant, scored[0]))]
    return fg.case_grid(path, grid, f"{variant}: best and worst case by {col}")


def _panels_of(out, variant, row) -> list:
    """Input, segmentation result and target, bone-suppressed result and target of a case."""
    from .plots import colour_masks

    summary = read_json(os.path.join(test_dir(out, variant, int(row["fold"])), "summary.json"))
    truth = PairedDataset(summary["data"]).load(row["id"])
    pred = read_prediction(os.path.join(test_dir(out, variant, int(row["fold"])),
                                        "predictions"), row["id"], truth.image.shape)
    seg = colour_masks(pred.masks) if pred and pred.masks else None
    bone = pred.bone_suppressed.clip(0, 255).astype("uint8") if pred and pred.bone_suppressed is not None else None
    return [(row["id"], truth.image), ("segmentation", seg),
            ("segmentation target", colour_masks(truth.masks)), ("bone suppressed", bone),
            ("bone suppressed target", truth.bone_suppressed)]


def _curves(out, results, folds) -> dict:
    """{network: {fold: {tag: [(step, value)]}}} from the runs' TensorBoard logs."""
    try:
        import tensorflow  # noqa: F401  (reading event files needs it)

        from .plots import read_scalars
    except ImportError:
        log.warning("Figure 6 skipped: reading the training logs needs TensorFlow")
        return {}
    curves = {}
    for v in results:
        for net in networks_of(v):
            logs = {f: os.path.join(run_dir(out, net, f), "logs") for f in range(folds)}
            found = {f: read_scalars(p) for f, p in logs.items() if os.path.isdir(p)}
            found = {f: s for f, s in found.items() if s}  # a run shorter than --log-every
            if found:
                curves[net] = found
    return curves
