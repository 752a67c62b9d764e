"""argparse wiring of `cxrmt eval` (cli.py calls register). Heavy work is imported on use."""

import os
import sys


def register(subparsers) -> None:
    ev = subparsers.add_parser(
        "eval", help="score segmentation and bone suppression against a paired-layout folder",
        description="Score outputs in the `cxrmt infer` layout (<ID>_bone_suppressed.png, "
                    "<ID>_mask_{right_lung,left_lung,heart}.png) against a paired-layout folder; "
                    "writes cases.csv, summary.json and summary.md.")
    source = ev.add_mutually_exclusive_group(required=True)  # `--model` joins this group later
    source.add_argument("--predictions", metavar="DIR",
                        help="folder of existing outputs named by case id")
    ev.add_argument("--data", required=True, metavar="DIR",
                    help="ground truth in the paired layout (images/, bone_suppressed/, masks/)")
    ev.add_argument("--out", required=True, metavar="DIR", help="folder for the reports")
    ev.add_argument("--spacing", type=float, nargs=2, metavar=("ROW_MM", "COL_MM"),
                    help="pixel spacing of the ground truth; adds HD95 in mm")
    ev.add_argument("--quiet", action="store_true", help="no progress output")
    ev.set_defaults(func=_eval)


def _eval(args) -> int:
    from .cases import evaluate_predictions
    from .report import write_results

    if args.spacing is not None and min(args.spacing) <= 0:
        raise ValueError("--spacing values must be positive")
    progress = None if args.quiet else _progress
    rows, skipped = evaluate_predictions(args.predictions, args.data, args.spacing, progress)
    meta = {"predictions": os.path.abspath(args.predictions), "data": os.path.abspath(args.data)}
    if args.spacing is not None:
        meta["spacing_mm"] = list(args.spacing)
    summary = write_results(rows, args.out, meta)
    if skipped:
        print(f"cxrmt eval: {len(skipped)} cases without predictions skipped "
              f"(first: {', '.join(skipped[:5])})", file=sys.stderr)
    print(_headline(summary, args.out))
    return 0


def _progress(done: int, total: int, cid: str) -> None:
    print(f"\r[{done}/{total}] {cid}", end="\n" if done == total else "", file=sys.stderr,
          flush=True)


def _headline(summary: dict, out: str) -> str:
    cols = summary["columns"]
    parts = [f"{summary['n_cases']} cases"]
    for c in ("dice_mean", "rmse", "identity_rmse", "mssim", "identity_mssim", "bsr_lungs"):
        if c in cols and isinstance(cols[c]["mean"], float):
            parts.append(f"{c} {cols[c]['mean']:.4g}")
    return ", ".join(parts) + f" -> {out}"
