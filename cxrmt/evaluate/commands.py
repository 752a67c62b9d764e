"""argparse wiring of `cxrmt eval` (cli.py calls register). Heavy work is imported on use."""

import os
import sys


def register(subparsers) -> None:
    ev = subparsers.add_parser(
        "eval", help="score segmentation and bone suppression against a paired-layout folder",
        description="Run a model on a paired-layout folder (--model), or score outputs already "
                    "in the `cxrmt infer` layout (--predictions: <ID>_bse.png, "
                    "<ID>_mask_{right_lung,left_lung,heart}.png); writes cases.csv, summary.json "
                    "and summary.md.")
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="MODEL",
                        help="model to run (.onnx, .engine/.plan, .keras, SavedModel)")
    source.add_argument("--predictions", metavar="DIR",
                        help="folder of existing outputs named by case id")
    ev.add_argument("--size", type=int, metavar="S",
                    help="with --model: the model size you expect (checked against the model)")
    ev.add_argument("--data", required=True, metavar="DIR",
                    help="ground truth in the paired layout (images/, bone_suppressed/, masks/)")
    ev.add_argument("--out", required=True, metavar="DIR", help="folder for the reports")
    ev.add_argument("--spacing", type=float, nargs=2, metavar=("ROW_MM", "COL_MM"),
                    help="pixel spacing of the ground truth; adds HD95 in mm")
    ev.add_argument("--quiet", action="store_true", help="no progress output")
    ev.set_defaults(func=_eval)


def _eval(args) -> int:
    from .report import write_results

    if args.spacing is not None and min(args.spacing) <= 0:
        raise ValueError("--spacing values must be positive")
    progress = None if args.quiet else _progress
    if args.model:
        rows, skipped, meta = _run_model(args, progress)
    else:
        from .cases import evaluate_predictions

        rows, skipped = evaluate_predictions(args.predictions, args.data, args.spacing, progress)
        meta = {"predictions": os.path.abspath(args.predictions)}
    meta["data"] = os.path.abspath(args.data)
    if args.spacing is not None:
        meta["spacing_mm"] = list(args.spacing)
    summary = write_results(rows, args.out, meta)
    if skipped:
        print(f"cxrmt eval: {len(skipped)} cases without predictions skipped "
              f"(first: {', '.join(skipped[:5])})", file=sys.stderr)
    print(_headline(summary, args.out))
    return 0


def _run_model(args, progress) -> tuple:
    from cxrmt.pipeline import Predictor

    from .cases import evaluate_model

    with Predictor(args.model) as predictor:
        if args.size is not None and args.size != predictor.info.size:
            raise ValueError(f"{args.model}: the model takes {predictor.info.size}x"
                             f"{predictor.info.size} inputs, not --size {args.size}; "
                             f"export it again with --size {args.size}")
        rows, timings = evaluate_model(predictor, args.data, args.spacing, progress)
        meta = {"model": os.path.abspath(args.model), "model_size": predictor.info.size,
                "task": predictor.info.task, "mean_timings_ms": timings}
    return rows, [], meta


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
