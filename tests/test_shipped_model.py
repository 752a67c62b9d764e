"""The model shipped inside the package: present in the installation, within its size budget,
described by its metadata, and working on real JSRT radiographs (when the shared set is here)."""

import os
from pathlib import Path

import numpy as np
import pytest

from cxrmt.shipped import default_model

JSRT = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsrt-bse-scr"


def test_installed_and_within_30_mb():
    path = default_model()
    assert os.path.getsize(path) <= 30 * 2**20


def test_metadata_describes_it():
    from cxrmt.runtime.metadata import read_onnx_metadata

    meta = read_onnx_metadata(default_model())
    assert meta["cxrmt.variant"] == "mtdg" and meta["cxrmt.size"] == "256"
    assert meta["cxrmt.task"] == "mt" and meta["cxrmt.weights_storage"] == "fp16"
    assert len(meta["cxrmt.weights_sha256"]) == 64
    assert meta["cxrmt.window"] == "auto"          # trained through the robust window


def test_finds_the_organs_on_the_shipped_real_radiograph():
    """On the NIH film shipped as the demo input (another hospital, not JSRT, not seen in
    training): both lungs and the heart found, coherent and in place, as cxrmt infer --clean."""
    from cxrmt.evaluate.sheet import organ_check
    from cxrmt.pipeline import Predictor
    from cxrmt.samples import demo_radiograph

    with Predictor(default_model(), clean=True) as p:
        r = p.run(demo_radiograph())
    check = organ_check(r.masks)
    assert check["ok"], check
    assert r.bone_suppressed.dtype == np.uint8 and r.bone_suppressed.shape == (1024, 1024)   # the input's depth


@pytest.mark.skipif(not JSRT.is_dir(), reason=f"the shared JSRT set is not at {JSRT}")
def test_segments_and_suppresses_on_real_radiographs():
    """A smoke test on five cases (seen in training: this checks the shipped file works, the
    cross-validated figures are in MODEL_CARD.md). Against the SCR masks and BSE-JSRT targets."""
    from cxrmt.evaluate.cases import evaluate_model
    from cxrmt.pipeline import Predictor

    from cxrmt.io.paired import PairedDataset

    ids = PairedDataset(str(JSRT)).ids[::20]
    with Predictor(default_model(), clean=True) as p:
        rows, _ = evaluate_model(p, str(JSRT), ids=ids)
    for r in rows:
        assert min(r["dice_right_lung"], r["dice_left_lung"]) > 0.93, r["id"]
        assert r["dice_heart"] > 0.88, r["id"]
        assert r["rmse"] < r["identity_rmse"] and r["bsr_lungs"] > 0.2, r["id"]
    assert np.mean([r["dice_mean"] for r in rows]) > 0.95
