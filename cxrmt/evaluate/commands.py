"""argparse wiring of `cxrmt eval` (cli.py calls register). Heavy work is imported on use."""

import json
import os
import sys

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    ev = subparsers.add_parser(
        "eval", parents=[verbosity()],
        help="score segmentation and bone suppression against a paired-layout folder",
        description="Run a model on a paired-layout folder (--model), or score outputs already "
                    "in the `cxrmt infer` layout (--predictions: <ID>_bse.png, "
                    "<ID>_mask_{right_lung,left_lung,heart}.png); writes cases.csv, summary.json "
                    "and summary.md.")
    source = ev.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="MODEL",
                        help="model to run (.onnx, .engine/.plan, .keras, SavedModel)")
    source.add_argument("--predictions", metavar="DIR",
                        help="folder of existing outputs named by case id")
    source.add_argument("--cv", metavar="CV_DIR",
                        help="a `cxrmt cv` folder: each case is run by the fold model that did "
                             "not train on it (<CV_DIR>/<--network>/fold<i>/model.keras)")
    ev.add_argument("--network", default="mtdg", help="with --cv: the network folder (mtdg)")
    ev.add_argument("--shift", metavar="LIST",
                    help="robustness benchmark: also run every case under these acquisition "
                         "shifts ('all' or a comma list of cxrmt.evaluate.shift.SHIFTS); writes "
                         "shift_cases.csv and shift.md")
    ev.add_argument("--clean", action="store_true",
                    help="with --model/--cv: mask clean-up, as cxrmt infer --clean")
    ev.add_argument("--flip-tta", action="store_true",
                    help="with --model/--cv: test-time flip augmentation")
    ev.add_argument("--size", type=int, metavar="S",
                    help="with --model: the model size you expect (checked against the model)")
    ev.add_argument("--data", metavar="DIR",
                    help="ground truth in the paired layout (images/, bone_suppressed/, masks/)")
    ev.add_argument("--sheet", metavar="PATH", nargs="+",
                    help="unlabelled radiographs (files, folders, globs) instead of --data: run "
                         "--model with cxrmt infer's defaults, check that both lungs and the "
                         "heart are found in the right places, write sheet.png/.csv/.md")
    ev.add_argument("--out", required=True, metavar="DIR", help="folder for the reports")
    ev.add_argument("--spacing", type=float, nargs=2, metavar=("ROW_MM", "COL_MM"),
                    help="pixel spacing of the ground truth; adds HD95 in mm")
    ev.set_defaults(func=_eval)


def _eval(args) -> int:
    from .report import write_results

    if args.spacing is not None and min(args.spacing) <= 0:
        raise ValueError("--spacing values must be positive")
    progress = None if args.quiet else _progress
    if args.sheet:
        return _sheet(args, progress)
    if not args.data:
        raise ValueError("--data is required (or --sheet for unlabelled radiographs)")
    if args.shift:
        return _shift(args, progress)
    if args.cv:
        raise ValueError("--cv is for the robustness benchmark: add --shift (all or a list); "
                         "`cxrmt cv` itself writes the cross-validated report")
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

    with Predictor(args.model, clean=args.clean, flip_tta=args.flip_tta,
                   kernel_device="cpu") as predictor:
        if args.size is not None and args.size != predictor.info.size:
            raise ValueError(f"{args.model}: the model takes {predictor.info.size}x"
                             f"{predictor.info.size} inputs, not --size {args.size}; "
                             f"export it again with --size {args.size}")
        rows, timings = evaluate_model(predictor, args.data, args.spacing, progress)
        meta = {"model": os.path.abspath(args.model), "model_size": predictor.info.size,
                "task": predictor.info.task, "mean_timings_ms": timings}
    return rows, [], meta


def _sheet(args, progress) -> int:
    """The qualitative sheet (cxrmt.evaluate.sheet) of --model on unlabelled radiographs."""
    from cxrmt.io.inputs import expand
    from cxrmt.pipeline import Predictor

    from .sheet import run_sheet, summary_md

    if not args.model:
        raise ValueError("--sheet needs --model (e.g. the shipped one: "
                         "python -c 'from cxrmt.shipped import default_model; "
                         "print(default_model())')")
    files, missing = expand(args.sheet)
    if missing or not files:
        raise FileNotFoundError("no radiographs in " + ", ".join(args.sheet))
    with Predictor(args.model, clean=args.clean, flip_tta=args.flip_tta,
                   kernel_device="cpu") as predictor:
        rows = run_sheet(predictor, files, args.out, progress)
    print(summary_md(rows))
    return 0


def _shift(args, progress) -> int:
    """The robustness benchmark (cxrmt.evaluate.shift) for --model or --cv."""
    from cxrmt.io.paired import PairedDataset
    from cxrmt.io.writers import write_text

    from . import shift
    from .report import cases_csv

    if args.predictions:
        raise ValueError("--shift needs a model to run (--model or --cv), not --predictions")
    names = shift.parse_shifts(args.shift)
    data = PairedDataset(args.data)
    with _case_models(args) as (predictor_of, ids, label):
        cases = [data.load(cid) for cid in ids]
        rows = shift.run_shifts(predictor_of, cases, names, args.spacing, progress)
    write_text(os.path.join(args.out, "shift_cases.csv"), cases_csv(rows))
    lines = [f"# Robustness benchmark: {label}", "", f"{len(cases)} cases x {len(names)} "
             "shifts (cxrmt.evaluate.shift), means over cases." + (" Masks cleaned." if
                                                                   args.clean else ""), ""]
    write_text(os.path.join(args.out, "shift.md"),
               "\n".join(lines + shift.table(rows, names)) + "\n")
    print("\n".join(shift.table(rows, names)))
    return 0


class _case_models:
    """(predictor_of(case_id), case ids, label) for --model (one model, every case) or --cv (the
    fold model whose validation fold, i.e. test fold, holds the case)."""

    def __init__(self, args):
        self.args, self.predictors = args, []

    def __enter__(self):
        try:
            return self._open()
        except BaseException:
            self.__exit__()          # close the fold models already opened
            raise

    def _open(self):
        from cxrmt.io.paired import PairedDataset
        from cxrmt.pipeline import Predictor

        a = self.args
        opts = dict(clean=a.clean, flip_tta=a.flip_tta, kernel_device="cpu")
        if a.model:
            p = Predictor(a.model, **opts)
            self.predictors.append(p)
            return (lambda _cid: p), PairedDataset(a.data).ids, os.path.basename(a.model)
        owner = {}
        root = os.path.join(a.cv, a.network)
        folds = sorted(d for d in os.listdir(root) if d.startswith("fold")) \
            if os.path.isdir(root) else []
        if not folds:
            raise FileNotFoundError(f"{root}: no fold<i>/ run folders (is it a `cxrmt cv` "
                                    "folder? see --network)")
        for fold in folds:
            run = os.path.join(root, fold)
            with open(os.path.join(run, "model.json")) as fh:
                record = json.load(fh)
            if record.get("kept") != "last":
                raise ValueError(f"{run}: its weights were picked on its validation fold "
                                 f"(kept {record.get('kept')!r}); held-out scores need the last")
            p = Predictor(os.path.join(run, "model.keras"), **opts)
            self.predictors.append(p)
            owner.update({cid: p for cid in record["data"]["val_ids"]})
        return owner.__getitem__, sorted(owner), f"{a.cv} ({len(folds)} folds, held out)"

    def __exit__(self, *exc):
        for p in self.predictors:
            p.close()


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
