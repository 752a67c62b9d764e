"""report.md of `cxrmt cv`: the paper's Tables I, III and IV over the test folds, and figures.

Every number comes from the folds' test files (<variant>/fold<i>/test/), so the report can be
rebuilt without training or TensorFlow (except Figure 6, which reads the training logs).
"""

import math
import os

from cxrmt.contract import MASK_ORGANS
from cxrmt.evaluate.cases import BONE_METRICS, IDENTITY, LUNGS
from cxrmt.evaluate.report import _LABEL, _table
from cxrmt.io.writers import write_text
from cxrmt.metrics.stats import format_mean_std, format_p, mean_std, paired_ttest

from . import figures
from .experiment import fold_results, name

TABLE_ORGANS = (*MASK_ORGANS, "mean")  # Table I's rows
TABLE1_METRICS = ("dice", "jaccard", "fnr", "fpr", "hd95")
BONE_COLUMNS = (*BONE_METRICS, *(m + LUNGS for m in BONE_METRICS))
_DIGITS = {"hd95": 2, "rmse": 2, "psnr": 2, "mssim": 4}


def _digits(col: str) -> int:
    return _DIGITS.get(col.replace(LUNGS, "").split("_")[0], 3)


def column(rows: list, col: str) -> list:
    return [r.get(col, math.nan) for r in rows]


def paired(a_rows: list, b_rows: list, col: str) -> tuple:
    """Values of `col` of the cases both variants scored, in the same case order."""
    b_by_id = {r["id"]: r for r in b_rows}
    common = [r for r in a_rows if r["id"] in b_by_id]
    return column(common, col), [b_by_id[r["id"]].get(col, math.nan) for r in common]


def _p(a_rows, b_rows, col) -> str:
    return format_p(paired_ttest(*paired(a_rows, b_rows, col))[1])


def _absent(results: dict, needed: tuple) -> list:
    """The line that replaces a comparison table when one of its variants did not run."""
    missing = [v for v in needed if v not in results]
    if not missing:
        return []
    return ["", f"Not produced: needs the variants {' and '.join(needed)} "
                f"(missing: {', '.join(missing)})."]


def table1(results: dict) -> list:
    """U-Net vs MTdG per organ and segmentation metric, paired t-test over cases."""
    head = ["", "## Table I: segmentation, U-Net vs MTdG"]
    absent = _absent(results, ("unet", "mtdg"))
    if absent:
        return head + absent
    u, m = results["unet"], results["mtdg"]
    body = [f"| {organ} | {_LABEL[metric]} | "
            f"{format_mean_std(column(u, f'{metric}_{organ}'), _digits(metric))} | "
            f"{format_mean_std(column(m, f'{metric}_{organ}'), _digits(metric))} | "
            f"{_p(u, m, f'{metric}_{organ}')} |"
            for organ in TABLE_ORGANS for metric in TABLE1_METRICS]
    return head + _table(["organ", "metric", "U-Net", "MTdG", "p (paired t-test)"], body)


def table3(results: dict) -> list:
    """Autoencoder vs MTdG (bone suppression), with the identity baseline."""
    head = ["", "## Table III: bone suppression, autoencoder vs MTdG"]
    absent = _absent(results, ("autoencoder", "mtdg"))
    if absent:
        return head + absent
    a, m = results["autoencoder"], results["mtdg"]
    ident = [{"id": r["id"], **{c: r.get(IDENTITY + c, math.nan) for c in BONE_COLUMNS}}
             for r in m]

    def row(label, rows):
        return f"| {label} | " + " | ".join(format_mean_std(column(rows, c), _digits(c))
                                            for c in BONE_COLUMNS) + " |"

    body = [row("Identity (input)", ident), row("Autoencoder", a), row("MTdG", m),
            "| p, autoencoder vs MTdG | " + " | ".join(_p(a, m, c) for c in BONE_COLUMNS) + " |",
            "| p, MTdG vs identity | " + " | ".join(_p(m, ident, c) for c in BONE_COLUMNS)
            + " |"]
    labels = [_LABEL[c.replace(LUNGS, "")] + (" (lungs)" if c.endswith(LUNGS) else "")
              for c in BONE_COLUMNS]
    return head + _table(["method", *labels], body)


T4_METRICS = ("dice_mean", "jaccard_mean", "hd95_mean", "rmse", "mssim", "bsr", "bsr_lungs")


def table4(results: dict, summaries: dict) -> list:
    """Every variant: main metrics, parameters, epochs, training and inference time."""
    cols = ["variant", "folds", "cases", "Dice", "Jaccard", "HD95 (px)", "RMSE", "M-SSIM",
            "BSR", "BSR (lungs)", "parameters", "epochs", "training time", "inference (ms/image)"]
    body = [_t4_row(v, rows, summaries[v]) for v, rows in results.items()]
    ref = results.get("mtdg") or next(iter(results.values()))
    ident = [f"{format_mean_std(column(ref, IDENTITY + c), _digits(c))}"
             if IDENTITY + c in ref[0] else "-" for c in T4_METRICS]
    body.append("| Identity (input) | | | " + " | ".join(ident) + " | - | - | - | - |")
    notes = ["", "Parameters: generator + discriminator (a pair: both networks). Epochs: steps "
             "× batch / training cases (a sample of an augmented copy counts as a visit of its "
             "case; with --augment paper the trainer's own epoch is 5 such passes). Training "
             "time: sum over folds (and networks) of the training seconds of every session of "
             "each run (runs from before progress.json existed count their last session only). "
             "Inference: "
             "mean total time per test image, full resolution, read to decode, after one "
             "untimed warm-up run."]
    return ["", "## Table IV: summary"] + _table(cols, body) + notes


def _t4_row(variant, rows, summaries) -> str:
    metrics = [format_mean_std(column(rows, c), _digits(c)) if any(c in r for r in rows)
               else "-" for c in T4_METRICS]
    nets = [n for s in summaries for n in s["networks"]]
    params = sum(n["params"] for n in summaries[0]["networks"]) if summaries else 0
    epochs = mean_std([n["steps"] * n["batch"] / n["train_cases"] for n in nets])[0]
    seconds = sum(n["seconds"] or 0.0 for n in nets)
    cases = sum(s["n_cases"] for s in summaries)
    infer = sum(s["mean_timings_ms"].get("total", math.nan) * s["n_cases"]
                for s in summaries) / max(cases, 1)
    return (f"| {name(variant)} | {len(summaries)} | {len(rows)} | " + " | ".join(metrics)
            + f" | {params:,} | {epochs:.1f} | {_hms(seconds)} | {infer:.1f} |")


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def collect(out, variants, folds) -> tuple:
    """({variant: aggregated rows}, {variant: [fold summaries]}) of the variants with a tested
    fold."""
    results, summaries = {}, {}
    for v in variants:
        found = fold_results(out, v, folds)
        if found:
            results[v] = [r for _, rows, _ in found for r in rows]
            summaries[v] = [s for _, _, s in found]
    return results, summaries


def write_report(out, variants, folds) -> str:
    """Write <out>/report.md and <out>/figures/*.png; returns the report's path."""
    results, summaries = collect(out, variants, folds)
    if not results:
        raise FileNotFoundError(f"{out}: no tested fold of {', '.join(variants)} to report")

    made = figures.make_all(out, results, folds)
    lines = ["# Cross-validation report", "",
             f"{folds}-fold cross-validation by case (stratified by nodule); each case is "
             "tested once, by the model that did not see it, at full resolution. mean ± std "
             "over cases; p: two-sided paired t-test over the cases."]
    lines += [f"- {name(v)}: folds {', '.join(str(s['fold']) for s in summaries[v])} of "
              f"{folds}, {len(results[v])} cases" for v in variants if v in results]
    lines += [f"- {name(v)}: no tested fold" for v in variants if v not in results]
    lines += table1(results) + table3(results) + table4(results, summaries)
    lines += ["", "FPR follows the paper's eq. (8): FP / (TP + FN). BSR = 1 - Σ(pred - "
              "target)² / Σ(input - target)²; the identity baseline scores the input itself.",
              "", "## Figures", ""]
    lines += [f"- {title}: [{os.path.basename(p)}](figures/{os.path.basename(p)})"
              for title, p in made]
    path = os.path.join(out, "report.md")
    write_text(path, "\n".join(lines) + "\n")
    return path


__all__ = ["table1", "table3", "table4", "write_report"]
