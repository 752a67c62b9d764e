"""`cxrmt eval --model`: a hand-built ONNX model with a known closed form, run on a paired folder."""
import csv

import numpy as np
import pytest

from test_evaluate_cli import _run, folders  # noqa: F401  (the paired-folder fixture)
from test_runtime_fixtures import affine_model

from cxrmt.io.writers import write_png


def rows_of(out):
    with open(out / "cases.csv", newline="") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


def test_identity_bone_model_scores_like_the_identity_baseline(folders, tmp_path):  # noqa: F811
    data, _, cases = folders
    model = affine_model(tmp_path / "m.onnx", size=32)
    out = tmp_path / "out"
    assert _run("--model", model, "--data", data, "--out", out, "--quiet") == 0
    rows = rows_of(out)
    assert set(rows) == set(cases)  # every case, none skipped
    for r in rows.values():
        # The model's bone channels return its input, so residual transfer gives the original.
        assert float(r["rmse"]) == pytest.approx(float(r["identity_rmse"]), abs=1e-9)
        assert float(r["bsr"]) == pytest.approx(0.0, abs=1e-9)
        assert 0.0 <= float(r["dice_mean"]) <= 1.0


def test_model_and_written_predictions_score_the_same(folders, tmp_path):  # noqa: F811
    from cxrmt import ORGANS
    from cxrmt.pipeline import Predictor

    data, _, cases = folders
    model = affine_model(tmp_path / "m.onnx", size=32)
    pred = tmp_path / "pred"
    with Predictor(model) as p:
        for cid, case in cases.items():
            r = p.run(case.image)
            write_png(pred / f"{cid}_bse.png", r.bone_suppressed)
            for i, organ in enumerate(ORGANS):
                write_png(pred / f"{cid}_mask_{organ}.png", r.masks[i] * 255)
    a, b = tmp_path / "a", tmp_path / "b"
    _run("--model", model, "--data", data, "--out", a, "--quiet")
    _run("--predictions", pred, "--data", data, "--out", b, "--quiet")
    ra, rb = rows_of(a), rows_of(b)
    for cid in cases:
        for col in ("dice_heart", "dice_left_lung", "jaccard_right_lung", "rmse", "mssim_lungs"):
            va, vb = float(ra[cid][col]), float(rb[cid][col])
            assert (np.isnan(va) and np.isnan(vb)) or va == pytest.approx(vb, abs=1e-9), col


def test_size_mismatch_is_a_clear_error(folders, tmp_path):  # noqa: F811
    data, _, _ = folders
    model = affine_model(tmp_path / "m.onnx", size=32)
    with pytest.raises(ValueError, match="takes 32x32 inputs, not --size 64"):
        _run("--model", model, "--data", data, "--out", tmp_path / "o", "--size", "64")
