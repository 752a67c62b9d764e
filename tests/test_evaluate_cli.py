"""`cxrmt eval --predictions` end to end on a generated paired folder."""

import argparse
import csv
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from cxrmt.evaluate import commands
from cxrmt.metrics.segmentation import hd95
from cxrmt.io.paired import PairedCase, write_case, write_cases_csv
from cxrmt.io.writers import write_png

H, W = 32, 40
ORGANS = ("right_lung", "left_lung", "heart")


def _run(*argv):
    parser = argparse.ArgumentParser(prog="cxrmt")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", *map(str, argv)])
    return args.func(args)


def _case(cid, rng):
    target = rng.integers(40, 200, (H, W)).astype(np.uint8)
    image = np.clip(target.astype(int) + rng.integers(0, 30, (H, W)), 0, 255).astype(np.uint8)
    masks = {o: np.zeros((H, W), bool) for o in ORGANS}
    masks["right_lung"][4:28, 2:16] = True
    masks["left_lung"][4:28, 24:38] = True
    masks["heart"][10:20, 15:25] = True       # 100 px
    return PairedCase(cid, image, target, masks, "no")


def _write_pred(folder, cid, bone, masks):
    write_png(folder / f"{cid}_bse.png", bone)
    for o in ORGANS:
        write_png(folder / f"{cid}_mask_{o}.png", masks[o].astype(np.uint8) * 255)


@pytest.fixture
def folders(tmp_path, rng):
    data, pred = tmp_path / "data", tmp_path / "pred"
    pred.mkdir()
    cases = {cid: _case(cid, rng) for cid in ("CASE_A", "CASE_B", "CASE_C")}
    write_cases_csv(data, [{"id": c.case_id, "nodule": "no", **write_case(data, c)}
                           for c in cases.values()])
    a, b = cases["CASE_A"], cases["CASE_B"]
    _write_pred(pred, "CASE_A", a.bone_suppressed, a.masks)           # perfect
    shifted = {**b.masks, "heart": np.roll(b.masks["heart"], 2, axis=1)}
    _write_pred(pred, "CASE_B", b.image.astype(np.uint16) * 257, shifted)  # identity, 16-bit
    return data, pred, cases                                           # CASE_C: no outputs


def _rows(out):
    with open(out / "cases.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, {r["id"]: r for r in reader}


def test_eval_predictions_end_to_end(folders, tmp_path, capsys):
    data, pred, cases = folders
    out = tmp_path / "out"
    assert _run("--predictions", pred, "--data", data, "--out", out, "--quiet") == 0
    fields, rows = _rows(out)
    seg = [f"{m}_{o}" for m in ("dice", "jaccard", "fnr", "fpr", "hd95")
           for o in (*ORGANS, "mean")]
    bone = ["rmse", "mssim", "psnr", "bsr", "rmse_lungs", "mssim_lungs", "psnr_lungs",
            "bsr_lungs"]
    assert fields == ["id", "nodule", *seg, *bone, *("identity_" + c for c in bone)]
    assert sorted(rows) == ["CASE_A", "CASE_B"]                        # C skipped
    assert "1 cases without predictions skipped" in capsys.readouterr().err

    a, b = rows["CASE_A"], rows["CASE_B"]
    assert float(a["dice_mean"]) == 1 and float(a["hd95_heart"]) == 0
    assert float(a["rmse"]) == 0 and a["psnr"] == "inf" and float(a["bsr_lungs"]) == 1
    assert float(a["mssim"]) == pytest.approx(1.0)
    # heart shifted by 2 columns: TP 80, FP 20, FN 20
    assert float(b["dice_heart"]) == pytest.approx(0.8)
    assert float(b["jaccard_heart"]) == pytest.approx(80 / 120)
    assert float(b["fnr_heart"]) == pytest.approx(0.2) and float(b["fpr_heart"]) == 0.2
    assert float(b["dice_mean"]) == pytest.approx((1 + 1 + 0.8) / 3)
    cb = cases["CASE_B"]
    assert float(b["hd95_heart"]) == pytest.approx(
        hd95(np.roll(cb.masks["heart"], 2, axis=1), cb.masks["heart"]))
    # 16-bit identity prediction scores exactly like the identity baseline
    for col in bone:
        assert float(b[col]) == pytest.approx(float(b["identity_" + col]), rel=1e-9, abs=1e-12)
    assert float(b["bsr"]) == 0
    lungs = cb.masks["right_lung"] | cb.masks["left_lung"]
    d = cb.image.astype(float) - cb.bone_suppressed
    assert float(b["identity_rmse"]) == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-9)
    assert float(b["identity_rmse_lungs"]) == pytest.approx(np.sqrt(np.mean(d[lungs] ** 2)),
                                                            rel=1e-9)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_cases"] == 2
    heart = summary["columns"]["dice_heart"]
    assert heart["n"] == 2 and heart["mean"] == pytest.approx(0.9)
    assert heart["std"] == pytest.approx(math.sqrt(0.02))              # sample std of 1, 0.8
    assert summary["columns"]["psnr"]["mean"] == "inf"
    md = (out / "summary.md").read_text()
    assert "## Segmentation" in md
    assert "| Dice | 1.000 ± 0.000 | 1.000 ± 0.000 | 0.900 ± 0.141" in md
    assert "## Bone suppression" in md and "| BSR | 0.500 ± 0.707" in md
    assert not list(out.glob(".*.cxrmt-tmp*"))


def test_eval_spacing_adds_mm_columns(folders, tmp_path):
    data, pred, _ = folders
    out = tmp_path / "out"
    assert _run("--predictions", pred, "--data", data, "--out", out, "--quiet",
                "--spacing", 0.5, 0.5) == 0
    fields, rows = _rows(out)
    assert "hd95_mm_heart" in fields and "hd95_mm_mean" in fields
    b = rows["CASE_B"]
    assert float(b["hd95_mm_heart"]) == pytest.approx(0.5 * float(b["hd95_heart"]))


def test_bone_only_predictions(folders, tmp_path):
    data, pred, _ = folders
    for f in pred.glob("*_mask_*.png"):
        f.unlink()
    out = tmp_path / "out"
    assert _run("--predictions", pred, "--data", data, "--out", out, "--quiet") == 0
    fields, _ = _rows(out)
    assert "dice_heart" not in fields and "rmse" in fields
    assert "## Segmentation" not in (out / "summary.md").read_text()


def test_incomplete_or_missing_predictions_fail(folders, tmp_path):
    data, pred, _ = folders
    (pred / "CASE_A_mask_heart.png").unlink()
    with pytest.raises(ValueError, match="CASE_A_mask_heart.png"):
        _run("--predictions", pred, "--data", data, "--out", tmp_path / "o1", "--quiet")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no prediction files"):
        _run("--predictions", empty, "--data", data, "--out", tmp_path / "o2", "--quiet")
    assert not (tmp_path / "o2").exists()


def test_wrong_size_prediction_fails(folders, tmp_path):
    data, pred, _ = folders
    write_png(pred / "CASE_A_bse.png", np.zeros((H // 2, W // 2), np.uint8))
    with pytest.raises(ValueError, match="original size"):
        _run("--predictions", pred, "--data", data, "--out", tmp_path / "o", "--quiet")


def test_command_module_imports_nothing_heavy():
    code = ("import sys, cxrmt.evaluate.commands; "
            "print(sorted(m for m in ('numpy', 'cv2', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
