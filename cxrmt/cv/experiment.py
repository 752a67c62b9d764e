"""`cxrmt cv`: k-fold cross-validation of several variants, resumable fold by fold.

Layout under --out:
  <network>/fold<i>/            the `cxrmt train` run folder of one network on one fold
  <variant>/fold<i>/test/       cases.csv/summary.json/summary.md of the test fold (full
                                resolution) and predictions/ (the `cxrmt infer` names)
  <variant>/cases.csv ...       every fold's test rows together (each case exactly once)
  report.md, figures/           tables and figures (cv_report, figures)

A variant is one network, except `st` and `stdg`, which are a segmentation and a bone
suppression network trained separately, as in the paper; their outputs are combined.
`<variant>+clean` tests the same trained networks with mask clean-up (largest region per organ,
holes filled: `cxrmt infer --clean`), so raw and cleaned results sit side by side.
In cross-validation the validation fold is the test fold, so every run keeps its last weights
(`keep="last"`): no checkpoint is selected on test data.
"""

import dataclasses
import json
import logging
import os

from cxrmt.contract import ORGANS
from cxrmt.evaluate.cases import evaluate_model
from cxrmt.evaluate.report import read_cases_csv, write_results
from cxrmt.io.layout import output_paths
from cxrmt.io.paired import PairedDataset
from cxrmt.io.writers import write_png
from cxrmt.model.variants import VARIANTS
from cxrmt.pipeline import Predictor
from cxrmt.train.config import legacy_defaults
from cxrmt.train.run import run_training

log = logging.getLogger(__name__)

PAIRS = {"st": ("st-seg", "st-bse"), "stdg": ("stdg-seg", "stdg-bse")}
# Options a finished fold must share with the requested run to count as done.
RECIPE_FIELDS = ("augment", "window", "seg_loss", "edge", "lam", "lr", "batch", "lung_masked")
CLEAN = "+clean"
NAMES = {"mtdg": "MTdG", "mt": "MT", "stdg": "STdG", "st": "ST", "unet": "U-Net",
         "autoencoder": "Autoencoder"}


def is_clean(variant: str) -> bool:
    return variant.endswith(CLEAN)


def name(variant: str) -> str:
    """The variant's name in reports: "mtdg+clean" -> "MTdG + clean-up"."""
    if is_clean(variant):
        return name(variant[:-len(CLEAN)]) + " + clean-up"
    return NAMES.get(variant, variant)


def networks_of(variant: str) -> tuple:
    """The networks trained for a cv variant (two for st/stdg; `+clean` adds none)."""
    variant = variant[:-len(CLEAN)] if is_clean(variant) else variant
    if variant in PAIRS:
        return PAIRS[variant]
    if variant in VARIANTS:
        return (variant,)
    raise ValueError(f"unknown variant {variant!r}; choose from "
                     f"{', '.join(['mtdg', 'mt', 'stdg', 'st', 'unet', 'autoencoder'])} "
                     "(or one network of a pair, e.g. st-seg), optionally with +clean")


def parse_variants(text: str) -> list:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise ValueError("--variants is empty")
    for v in names:
        networks_of(v)
    return list(dict.fromkeys(names))  # drop repeats, keep order


def check_setup(data: str, folds: int) -> None:
    if folds < 2:
        raise ValueError(f"--folds must be >= 2 (got {folds})")
    if not os.path.isdir(data):
        raise FileNotFoundError(f"{data}: no such data folder")
    n = len(PairedDataset(data).ids)  # FileNotFoundError when it is not the paired layout
    if n < folds:
        raise ValueError(f"{data} has {n} cases, too few for {folds} folds")


def run_dir(out, network: str, fold: int) -> str:
    return os.path.join(out, network, f"fold{fold}")


def test_dir(out, variant: str, fold: int) -> str:
    return os.path.join(out, variant, f"fold{fold}", "test")


def fold_config(base, network: str, fold: int, out: str):
    """The TrainConfig of one network on one fold (as `cxrmt train --folds k --val-fold i
    --keep last`, so runs started by hand are picked up)."""
    return dataclasses.replace(base, out=run_dir(out, network, fold), variant=network,
                               val_fold=fold, keep="last")


def read_json(path):
    with open(path) as fh:
        return json.load(fh)


def training_done(cfg) -> bool:
    """model.json exists for the requested length, all its steps (or the L1 target) reached,
    last weights kept."""
    path = os.path.join(cfg.out, "model.json")
    if not os.path.exists(path):
        return False
    rec = read_json(path)
    conf, tr = rec.get("config", {}), rec["training"]
    legacy = legacy_defaults()
    other = [f"{k}: {conf.get(k, legacy[k])} -> {getattr(cfg, k)}" for k in RECIPE_FIELDS
             if conf.get(k, legacy[k]) != getattr(cfg, k)]
    if other:
        raise ValueError(f"{cfg.out} was trained with another recipe ({'; '.join(other)}); "
                         "use a new --out for this one")
    if (conf.get("steps"), conf.get("epochs")) != (cfg.steps, cfg.epochs):
        return False  # asked for another length: resume (run_training extends or re-finishes)
    if rec.get("kept") != "last":
        return False  # re-finishing a finished run only rewrites model.keras with last weights
    return tr["steps"] >= tr["total_steps"] or bool(tr.get("l1_target_reached"))


def run_cv(base, variants, out, spacing=None) -> None:
    """Train and test every fold of every variant that is not finished, then aggregate."""
    for variant in variants:
        for fold in range(base.folds):
            run_fold(base, variant, fold, out, spacing)
        aggregate(out, variant, base.folds)


def run_fold(base, variant, fold, out, spacing) -> None:
    cfgs = [fold_config(base, n, fold, out) for n in networks_of(variant)]
    tested = os.path.exists(os.path.join(test_dir(out, variant, fold), "cases.csv"))
    todo = [c for c in cfgs if not training_done(c)]
    if tested and not todo:
        log.info(f"{variant} fold {fold}: finished, skipped")
        return

    for cfg in todo:
        log.info(f"{variant} fold {fold}: training {cfg.variant} in {cfg.out}")
        run_training(cfg, label=f"{cfg.variant} fold {fold}: ")
    log.info(f"{variant} fold {fold}: testing")
    test_fold(cfgs, variant, fold, out, spacing)


def test_fold(cfgs, variant, fold, out, spacing) -> dict:
    """Run the fold's network(s) on its test cases at full resolution; write scores and
    predictions under <variant>/fold<i>/test/."""

    records = [read_json(os.path.join(c.out, "model.json")) for c in cfgs]
    ids = records[0]["data"]["val_ids"]
    if any(r["data"]["val_ids"] != ids for r in records):
        raise ValueError(f"{variant} fold {fold}: the networks were tested on different cases")
    dest = test_dir(out, variant, fold)
    with _open_predictor(cfgs, is_clean(variant)) as predictor:
        _warm_up(predictor, base_data(cfgs[0]), ids[0])
        rows, timings = evaluate_model(predictor, base_data(cfgs[0]), spacing, ids=ids,
                                       on_result=_prediction_writer(dest))
    for r in rows:
        r["fold"] = fold
    meta = {"variant": variant, "fold": fold, "folds": cfgs[0].folds,
            "data": os.path.abspath(base_data(cfgs[0])), "mean_timings_ms": timings,
            "networks": [_network_meta(c, r) for c, r in zip(cfgs, records)]}
    if spacing is not None:
        meta["spacing_mm"] = list(spacing)
    return write_results(rows, dest, meta)


def base_data(cfg) -> str:
    return cfg.data


def _network_meta(cfg, record) -> dict:
    from cxrmt.model.build import param_counts

    tr = record["training"]
    return {"name": cfg.variant, "run": os.path.abspath(cfg.out), "steps": tr["steps"],
            "total_steps": tr["total_steps"], "batch": cfg.batch,
            "train_cases": len(record["data"]["train_ids"]),
            "seconds": tr.get("seconds_total", tr.get("seconds_this_session")),
            "params": param_counts(cfg.variant, cfg.size, cfg.ngf, cfg.levels, cfg.head,
                                   cfg.ndf)["total"]}


def _warm_up(predictor, data, cid) -> None:
    """One untimed run: the first call traces the TensorFlow graph (seconds), which is not
    the inference time the report states."""
    predictor.run(PairedDataset(data).load(cid).image)


def _prediction_writer(dest):

    folder = os.path.join(dest, "predictions")

    def write(cid, result):
        paths = output_paths(folder, cid, masks=result.masks is not None)
        if result.bone_suppressed is not None:
            write_png(paths["bse"], result.bone_suppressed)
        if result.masks is not None:

            for i, organ in enumerate(ORGANS):
                write_png(paths[f"mask_{organ}"], (result.masks[i] > 0).astype("uint8") * 255)
    return write


def _open_predictor(cfgs, clean=False):

    predictors = [Predictor(os.path.join(c.out, "model.keras"), clean=clean) for c in cfgs]
    return predictors[0] if len(predictors) == 1 else PairPredictor(*predictors)


class PairPredictor:
    """A segmentation and a bone suppression Predictor as one: masks from the first, bone from
    the second, per-stage times added (both run on every image). Closes both."""

    def __init__(self, seg, bse):
        self.seg, self.bse = seg, bse

    def run(self, image):
        a, b = self.seg.run(image), self.bse.run(image)
        timings = {k: a.timings.get(k, 0.0) + b.timings.get(k, 0.0)
                   for k in {*a.timings, *b.timings}}
        return dataclasses.replace(a, bone_suppressed=b.bone_suppressed, timings=timings)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.seg.close()
        self.bse.close()


def fold_results(out, variant, folds) -> list:
    """[(fold, rows, summary)] of the tested folds of a variant."""

    found = []
    for fold in range(folds):
        d = test_dir(out, variant, fold)
        if os.path.exists(os.path.join(d, "cases.csv")):
            found.append((fold, read_cases_csv(os.path.join(d, "cases.csv")),
                          read_json(os.path.join(d, "summary.json"))))
    return found


def aggregate(out, variant, folds) -> list:
    """Concatenate the folds' test rows into <variant>/cases.csv (+ summary); each case must
    appear once."""

    found = fold_results(out, variant, folds)
    rows = [r for _, fold_rows, _ in found for r in fold_rows]
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{variant}: a case was tested in more than one fold")
    if rows:
        write_results(rows, os.path.join(out, variant),
                      {"variant": variant, "folds": [f for f, _, _ in found], "of": folds})
    return rows


__all__ = ["PAIRS", "aggregate", "networks_of", "run_cv"]
