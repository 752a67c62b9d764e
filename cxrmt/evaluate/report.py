"""Write an evaluation: cases.csv (one row per case), summary.json (mean, std, n of every metric
column) and summary.md (the same as tables). Every file is written atomically."""

import csv
import io
import json
import math
import os

from cxrmt.contract import MASK_ORGANS
from cxrmt.io.writers import write_text
from cxrmt.metrics.stats import format_mean_std, mean_std

from .cases import BONE_METRICS, IDENTITY, LUNGS, SEG_METRICS, metric_columns

_LABEL = {"dice": "Dice", "jaccard": "Jaccard", "fnr": "FNR", "fpr": "FPR (FP / GT area)",
          "hd95": "HD95 (px)", "hd95_mm": "HD95 (mm)", "rmse": "RMSE", "mssim": "M-SSIM",
          "psnr": "PSNR (dB)", "bsr": "BSR"}
_REGIONS = (("method, full image", "", ""), ("method, lungs", "", LUNGS),
            ("identity, full image", IDENTITY, ""), ("identity, lungs", IDENTITY, LUNGS))
_DIGITS = {"hd95": 2, "hd95_mm": 2, "rmse": 2, "psnr": 2, "mssim": 4}


def fieldnames(rows: list) -> list:
    """id, nodule, any extra keys (e.g. fold, variant) in first-seen order, then metrics."""
    metrics = metric_columns()
    seen = {k: None for r in rows for k in r}
    extra = [k for k in seen if k not in metrics and k not in ("id", "nodule")]
    return ["id", "nodule", *extra, *(c for c in metrics if c in seen)]


def summarize(rows: list) -> dict:
    """{column: {mean, std, n}} for every metric column present (NaN values skipped)."""
    cols = [c for c in fieldnames(rows) if c in set(metric_columns())]
    out = {}
    for c in cols:
        mean, std, n = mean_std([r.get(c, math.nan) for r in rows])
        out[c] = {"mean": _json_num(mean), "std": _json_num(std), "n": n}
    return out


def _json_num(v: float):
    return v if math.isfinite(v) else (None if math.isnan(v) else str(v))  # "inf" / "-inf"


def write_results(rows: list, out_dir, meta: dict | None = None) -> dict:
    """Write the three files into `out_dir`; returns the summary dict."""
    summary = {"n_cases": len(rows), **(meta or {}), "columns": summarize(rows)}
    write_text(os.path.join(out_dir, "cases.csv"), cases_csv(rows))
    write_text(os.path.join(out_dir, "summary.json"), json.dumps(summary, indent=2) + "\n")
    write_text(os.path.join(out_dir, "summary.md"), summary_md(rows, meta))
    return summary


def cases_csv(rows: list) -> str:
    fields = fieldnames(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", restval="")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: format(v, ".10g") if isinstance(v, float) else v
                         for k, v in r.items()})
    return buf.getvalue()


def read_cases_csv(path) -> list:
    """The rows of a cases.csv written by `write_results`: metric columns as floats (empty:
    NaN), the other columns as text."""
    metrics = set(metric_columns())
    with open(path, newline="") as fh:
        return [{k: (float(v) if v else math.nan) if k in metrics else v for k, v in r.items()}
                for r in csv.DictReader(fh)]


def _cell(rows, col, metric):
    vals = [r[col] for r in rows if col in r]
    text = format_mean_std(vals, _DIGITS.get(metric, 3))
    n = mean_std(vals)[2]
    return text if n == len(rows) else f"{text} (n={n})"


def summary_md(rows: list, meta: dict | None = None) -> str:
    """Markdown tables: segmentation (metric x organ) and bone suppression (metric x region)."""
    lines = ["# Evaluation summary", "", f"{len(rows)} cases, mean ± std (sample std)."]
    lines += [f"- {k}: {v}" for k, v in (meta or {}).items()]
    present = set(fieldnames(rows))
    return "\n".join(lines + _seg_table(rows, present) + _bone_table(rows, present) + [""])


def _table(header: list, body: list) -> list:
    return ["", "| " + " | ".join(header) + " |", "|---" * len(header) + "|", *body]


def _seg_table(rows, present) -> list:
    seg = [m for m in SEG_METRICS if f"{m}_mean" in present]
    if not seg:
        return []
    organs = (*MASK_ORGANS, "mean")
    body = [f"| {_LABEL[m]} | " + " | ".join(_cell(rows, f"{m}_{o}", m) for o in organs) + " |"
            for m in seg]
    return (["", "## Segmentation"] + _table(["metric", *organs], body)
            + ["", "FPR follows the paper's eq. (8): FP / (TP + FN), normalised by the "
               "ground-truth area."])


def _bone_table(rows, present) -> list:
    regions = [(t, pre, suf) for t, pre, suf in _REGIONS if pre + "rmse" + suf in present]
    body = [f"| {_LABEL[m]} | " + " | ".join(_cell(rows, pre + m + suf, m)
                                             for _, pre, suf in regions) + " |"
            for m in BONE_METRICS]
    return (["", "## Bone suppression"] + _table(["metric", *(r[0] for r in regions)], body)
            + ["", "Identity = the input radiograph scored as the prediction. BSR = 1 - "
               "Σ(pred - target)² / Σ(input - target)²: 0 = no suppression, 1 = perfect. "
               "Lungs = inside the ground-truth lung fields (M-SSIM: windows fully inside)."])
