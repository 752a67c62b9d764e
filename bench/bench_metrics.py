"""Evaluation metric speed at 512x512, with correctness asserted on every benchmarked result.

Run: PYTHONPATH=. python -m pytest bench/bench_metrics.py --benchmark-only
"""

import numpy as np
import pytest

from cxrmt.metrics.bone_suppression import C1, C2, ssim_map
from cxrmt.evaluate.cases import Prediction, score_case
from cxrmt.metrics.segmentation import hd95
from cxrmt.io.paired import PairedCase

S = 512


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (S, S)).astype(np.uint8)
    image = np.clip(target + rng.normal(0, 4, (S, S)), 0, 255).astype(np.uint8)
    rr, cc = np.mgrid[:S, :S]
    masks = {"right_lung": ((rr - 256) / 180) ** 2 + ((cc - 150) / 90) ** 2 <= 1,
             "left_lung": ((rr - 256) / 180) ** 2 + ((cc - 362) / 90) ** 2 <= 1,
             "heart": ((rr - 330) / 80) ** 2 + ((cc - 280) / 100) ** 2 <= 1}
    return PairedCase("BENCH", image, target, masks)


def _window_ssim(x, y, i, j):
    wx, wy = x[i:i + 8, j:j + 8].astype(float), y[i:i + 8, j:j + 8].astype(float)
    cov = np.cov(wx.ravel(), wy.ravel())  # ddof=1, as ssim_map's default
    mx, my = wx.mean(), wy.mean()
    return ((2 * mx * my + C1) * (2 * cov[0, 1] + C2)
            / ((mx * mx + my * my + C1) * (cov[0, 0] + cov[1, 1] + C2)))


def test_ssim_map_512(benchmark, case):
    smap = benchmark(ssim_map, case.image, case.bone_suppressed)
    assert smap.shape == (S - 7, S - 7)
    for i, j in [(0, 0), (100, 333), (S - 8, S - 8)]:
        assert smap[i, j] == pytest.approx(_window_ssim(case.image, case.bone_suppressed, i, j))


def test_hd95_512(benchmark, case):
    shifted = np.roll(case.masks["heart"], 3, axis=1)
    assert benchmark(hd95, shifted, case.masks["heart"]) == pytest.approx(3.0)


def test_score_case_512(benchmark, case):
    pred = Prediction(case.bone_suppressed, case.masks)
    row = benchmark(score_case, case, pred, (0.7, 0.7))
    assert row["dice_mean"] == 1.0 and row["rmse"] == 0.0 and row["bsr"] == 1.0
    assert row["identity_bsr"] == 0.0 and 0 < row["identity_mssim"] < 1
