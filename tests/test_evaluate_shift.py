"""The robustness benchmark (`cxrmt eval --shift`) and the unlabelled sheet (`--sheet`)."""

import csv

import numpy as np
import pytest

from test_evaluate_cli import _run, folders  # noqa: F401  (the paired-folder fixture)
from test_runtime_fixtures import affine_model, chest

from cxrmt.evaluate import shift
from cxrmt.evaluate.sheet import organ_check
from cxrmt.io.paired import PairedCase


@pytest.fixture
def case():
    rng = np.random.default_rng(2)
    image = rng.integers(60, 220, (64, 80)).astype(np.uint8)
    bone = np.clip(image.astype(int) - rng.integers(0, 12, image.shape), 0, 255).astype(np.uint8)
    masks = {o: np.zeros((64, 80), bool) for o in ("right_lung", "left_lung", "heart")}
    masks["right_lung"][10:50, 8:30], masks["left_lung"][10:50, 50:72] = True, True
    masks["heart"][30:55, 30:52] = True
    return PairedCase("C1", image, bone, masks, "no")


def test_pointwise_shifts_by_hand(case):
    s = shift.shifted(case, "darker")
    x = case.image / 255.0
    np.testing.assert_array_equal(s.image, np.clip(np.rint((x - 0.15) * 255), 0, 255))
    np.testing.assert_array_equal(
        s.bone_suppressed, np.clip(np.rint((case.bone_suppressed / 255.0 - 0.15) * 255), 0, 255))
    g = shift.shifted(case, "gamma1.6")
    np.testing.assert_array_equal(g.image, np.rint(255 * x ** 1.6).astype(np.uint8))
    assert shift.shifted(case, "none") is case


def test_degradations_keep_the_bone_layer(case):
    """Noise and JPEG add the same change to the target: x - y moves by rounding only."""
    layer = case.image.astype(int) - case.bone_suppressed.astype(int)
    for name in ("noise", "jpeg40"):
        s = shift.shifted(case, name)
        assert np.abs(s.image.astype(int) - case.image).mean() > 0.5, name
        inside = (s.image > 5) & (s.image < 250) & (s.bone_suppressed > 5)   # no clipping
        d = (s.image.astype(int) - s.bone_suppressed.astype(int)) - layer
        assert np.abs(d[inside]).max() <= 1, name
    again = shift.shifted(case, "noise")                       # seeded by case id
    np.testing.assert_array_equal(again.image, shift.shifted(case, "noise").image)


def test_geometric_shifts(case):
    d = shift.shifted(case, "downscale2")
    assert d.image.shape == (32, 40) and d.masks["heart"].shape == (32, 40)
    np.testing.assert_array_equal(d.masks["heart"], case.masks["heart"][::2, ::2])
    b = shift.shifted(case, "border")
    top = int(0.08 * 64)
    assert (b.image[:top] == 0).all() and (b.image[:, :int(0.04 * 80)] == 0).all()
    assert not b.masks["right_lung"][:, :int(0.04 * 80)].any()
    assert b.masks["heart"].sum() == case.masks["heart"].sum()  # away from the border


def test_parse_shifts():
    assert shift.parse_shifts("all") == list(shift.SHIFTS)
    assert shift.parse_shifts("jpeg40,gamma0.6") == ["none", "jpeg40", "gamma0.6"]
    with pytest.raises(ValueError, match="unknown shift"):
        shift.parse_shifts("sepia")


def test_eval_shift_end_to_end(folders, tmp_path):  # noqa: F811
    """The identity-bone model: BSR 0 and RMSE = identity RMSE under every shift."""
    data, _, cases = folders
    model = affine_model(tmp_path / "m.onnx", size=32)
    out = tmp_path / "out"
    assert _run("--model", model, "--data", data, "--out", out, "--shift", "all",
                "--quiet") == 0
    with open(out / "shift_cases.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(cases) * len(shift.SHIFTS)
    for r in rows:
        assert float(r["bsr"]) == pytest.approx(0.0, abs=1e-9), r["shift"]
        assert float(r["rmse"]) == pytest.approx(float(r["identity_rmse"]), abs=1e-9)
    md = (out / "shift.md").read_text()
    assert all(f"| {s} |" in md for s in shift.SHIFTS)


def test_organ_check_by_hand():
    m = np.zeros((3, 100, 100), np.uint8)              # heart, left lung, right lung
    m[2, 20:70, 10:40] = 1                              # patient's right lung: image left
    m[1, 20:70, 60:90] = 1
    m[0, 50:80, 35:65] = 1
    row = organ_check(m)
    assert row["ok"] and row["placed"] and row["found_heart"]
    swapped = m[[0, 2, 1]]                              # lungs on the wrong sides
    assert not organ_check(swapped)["placed"]
    specks = m.copy()
    specks[0] = 0
    specks[0, ::9, ::9] = 1                             # 1 % of the image, scattered
    assert not organ_check(specks)["found_heart"]


def test_eval_sheet_writes_the_montage_and_table(tmp_path):
    import cv2

    from cxrmt.io.writers import write_png

    for i in range(2):
        write_png(tmp_path / "in" / f"film{i}.png", (chest(90, 70, seed=i) >> 4).astype(np.uint8))
    model = affine_model(tmp_path / "m.onnx", size=32)
    out = tmp_path / "sheet"
    assert _run("--model", model, "--sheet", tmp_path / "in", "--out", out, "--quiet") == 0
    sheet = cv2.imread(str(out / "sheet.png"))
    assert sheet is not None and sheet.shape[0] > 200
    lines = (out / "sheet.csv").read_text().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 3
    assert "of 2" in (out / "sheet.md").read_text()
    with pytest.raises(ValueError, match="--sheet needs --model"):
        _run("--predictions", tmp_path, "--sheet", tmp_path / "in", "--out", out)
