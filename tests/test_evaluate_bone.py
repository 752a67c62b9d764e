"""Bone-suppression metrics against a brute-force 8x8 SSIM loop and hand-computed values."""

import math

import numpy as np
import pytest

from cxrmt.metrics.bone_suppression import (bone_metrics, bsr, mssim, psnr, rmse, ssim_map, to_255,
                                 windows_inside)

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _ssim_window(wx, wy, ddof):
    """Eq. (11) written out for one window."""
    n = wx.size
    mx, my = wx.mean(), wy.mean()
    vx = ((wx - mx) ** 2).sum() / (n - ddof)
    vy = ((wy - my) ** 2).sum() / (n - ddof)
    cxy = ((wx - mx) * (wy - my)).sum() / (n - ddof)
    return (2 * mx * my + C1) * (2 * cxy + C2) / ((mx ** 2 + my ** 2 + C1) * (vx + vy + C2))


def _brute_map(x, y, ddof=1):
    x, y = x.astype(np.float64), y.astype(np.float64)
    h, w = x.shape
    out = np.empty((h - 7, w - 7))
    for i in range(h - 7):              # every 8x8 window, stride 1
        for j in range(w - 7):
            out[i, j] = _ssim_window(x[i:i + 8, j:j + 8], y[i:i + 8, j:j + 8], ddof)
    return out


@pytest.fixture
def pair(rng):
    y = rng.integers(0, 256, (19, 23)).astype(np.uint8)
    noise = rng.normal(0, 20, y.shape)
    x = np.clip(y + noise + 10, 0, 255).astype(np.uint8)
    return x, y


@pytest.mark.parametrize("ddof", [1, 0])
def test_ssim_map_matches_brute_force(pair, ddof):
    x, y = pair
    got = ssim_map(x, y, ddof)
    assert got.shape == (12, 16)
    np.testing.assert_allclose(got, _brute_map(x, y, ddof), rtol=1e-10, atol=1e-12)
    assert mssim(x, y, ddof=ddof) == pytest.approx(_brute_map(x, y, ddof).mean(), rel=1e-10)


def test_ssim_float_inputs_large_offset(rng):
    # Smooth bright images test the E[x^2] - E[x]^2 cancellation on non-integer values.
    y = 240 + rng.random((12, 12)) * 10
    x = y + rng.normal(0, 0.5, y.shape)
    np.testing.assert_allclose(ssim_map(x, y), _brute_map(x, y), rtol=1e-7)


def test_ssim_constant_windows_hand_computed():
    x, y = np.full((8, 8), 100.0), np.full((8, 8), 120.0)
    want = (2 * 100 * 120 + C1) / (100 ** 2 + 120 ** 2 + C1)  # variances are 0: C2/C2 = 1
    assert mssim(x, y) == pytest.approx(want)


def test_mssim_region_uses_windows_fully_inside(pair):
    x, y = pair
    region = np.zeros(x.shape, bool)
    region[2:15, 3:20] = True           # 13x17 -> 6x10 windows fully inside
    region[16, 0] = True                # a stray pixel that no window fits around
    inside = windows_inside(region)
    assert inside.sum() == 60 and inside[2:8, 3:13].all()
    want = _brute_map(x, y)[2:8, 3:13].mean()
    assert mssim(x, y, region) == pytest.approx(want, rel=1e-10)
    assert math.isnan(mssim(x, y, np.zeros(x.shape, bool)))


def test_rmse_psnr_hand_computed():
    t = np.zeros((2, 2), np.uint8)
    p = np.array([[3, 0], [0, 4]], np.uint8)
    assert rmse(p, t) == pytest.approx(math.sqrt(25 / 4))
    assert psnr(p, t) == pytest.approx(20 * math.log10(255 / 2.5))
    region = np.array([[True, False], [False, False]])
    assert rmse(p, t, region) == pytest.approx(3.0)
    assert rmse(t, p.astype(np.float64)) == rmse(p, t)   # no uint8 wrap-around


def test_bsr_hand_computed_and_anchors():
    y = np.array([[10, 20], [30, 40]], np.float64)
    x = y + np.array([[4, 0], [0, -2]])                   # sum (x-y)^2 = 20
    p = y + np.array([[1, 0], [1, 0]])                    # sum (p-y)^2 = 2
    assert bsr(p, y, x) == pytest.approx(1 - 2 / 20)
    assert bsr(x, y, x) == 0.0                            # identity: no suppression
    assert bsr(y, y, x) == 1.0                            # perfect
    assert bsr(y + 2 * (x - y), y, x) == pytest.approx(-3.0)  # worse than the input
    assert math.isnan(bsr(p, y, y))                       # nothing to suppress
    region = np.array([[False, True], [True, False]])     # x == y there
    assert math.isnan(bsr(p, y, x, region))


def test_perfect_prediction(pair):
    x, y = pair
    m = bone_metrics(y, y, x, region=np.ones(y.shape, bool))
    assert m["rmse"] == 0 and m["psnr"] == math.inf and m["bsr"] == 1.0
    assert m["mssim"] == pytest.approx(1.0) and m["mssim_lungs"] == pytest.approx(1.0)


def test_bone_metrics_region_keys_and_values(pair):
    x, y = pair
    region = np.zeros(x.shape, bool)
    region[:, :12] = True
    m = bone_metrics(x, y, x, region)
    assert set(m) == {"rmse", "mssim", "psnr", "bsr", "rmse_lungs", "mssim_lungs",
                      "psnr_lungs", "bsr_lungs"}
    diff = x[:, :12].astype(float) - y[:, :12]
    assert m["rmse_lungs"] == pytest.approx(np.sqrt(np.mean(diff ** 2)))
    assert m["bsr"] == 0.0 and m["bsr_lungs"] == 0.0


def test_uint16_scaled_to_255():
    a16 = np.array([[0, 65535], [257 * 10, 257 * 200]], np.uint16)
    np.testing.assert_allclose(to_255(a16), [[0, 255], [10, 200]])
    assert rmse(a16, to_255(a16).astype(np.uint8)) == pytest.approx(0.0, abs=1e-12)


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        rmse(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError):
        ssim_map(np.zeros((7, 9)), np.zeros((7, 9)))
