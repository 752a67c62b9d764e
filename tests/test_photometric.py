"""Photometric augmentation: each transform against a hand-computed or independent reference
(numpy, scipy), and the chain's contract (seeded; the bone layer survives degradations)."""

import numpy as np
import pytest
from scipy import ndimage

from cxrmt.data import photometric as ph


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:80]
    a = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 5.0) + rng.normal(0, 0.02, (64, 80))
    return np.clip(a, 0, 1).astype(np.float32)


def test_pointwise_maps_by_hand():
    a = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    np.testing.assert_allclose(ph.window_level(a, 0.25, 0.75), [[0, 0, 0.5, 1]])
    np.testing.assert_allclose(ph.gamma(a, 0.5), [[0, 0.5, np.sqrt(0.5), 1]], rtol=1e-6)
    np.testing.assert_allclose(ph.contrast(a, 2.0), [[0, 0, 0.5, 1]])
    s = ph.sigmoid_lut(np.linspace(0, 1, 11, dtype=np.float32), 0.5, 8.0)
    assert s[0] == pytest.approx(0) and s[-1] == pytest.approx(1) and s[5] == pytest.approx(0.5)
    assert np.all(np.diff(s) > 0)                                 # monotone: a LUT, no flips
    assert s[1] < 0.1 < 0.9 < s[9]                                # S-shaped: flat ends


def test_unsharp_and_blur_match_scipy(img):
    ref_blur = ndimage.gaussian_filter(img.astype(np.float64), 2.0, mode="reflect")
    np.testing.assert_allclose(ph.blur(img, 2.0), ref_blur, atol=2e-3)
    ref = img + 1.2 * (img - ndimage.gaussian_filter(img.astype(np.float64), 1.5, mode="reflect")) \
        + 0.5 * (img - ndimage.gaussian_filter(img.astype(np.float64), 8.0, mode="reflect"))
    np.testing.assert_allclose(ph.unsharp(img, [1.5, 8.0], [1.2, 0.5]), np.clip(ref, 0, 1),
                               atol=3e-3)


def test_down_up_keeps_a_linear_ramp_and_loses_detail(img):
    ramp = np.tile(np.linspace(0.1, 0.9, 80, dtype=np.float32), (64, 1))
    out = ph.down_up(ramp, 2.0)
    np.testing.assert_allclose(out[:, 4:-4], ramp[:, 4:-4], atol=1e-5)   # bilinear is exact
    checker = (np.indices((64, 80)).sum(0) % 2).astype(np.float32)
    np.testing.assert_allclose(ph.down_up(checker, 2.0), 0.5, atol=1e-6)  # 2x2 means


def test_poisson_gaussian_statistics():
    rng = np.random.default_rng(1)
    a = np.full((400, 400), 0.4, np.float32)
    n = ph.poisson_gaussian(a, rng, photons=1000.0, read_sigma=0.01)
    assert n.mean() == pytest.approx(0.4, abs=2e-3)
    assert n.var() == pytest.approx(0.4 / 1000.0 + 0.01 ** 2, rel=0.05)   # Poisson + read


def test_jpeg_quality_orders_the_error(img):
    e30 = np.abs(ph.jpeg(img, 30) - img).mean()
    e90 = np.abs(ph.jpeg(img, 90) - img).mean()
    assert 0 < e90 < e30 < 0.05


def test_text_stays_in_the_top_and_bottom_bands_and_borders_by_hand(img):
    out = ph.burnt_in_text(img, np.random.default_rng(5), n=3)
    changed = np.abs(out - img) > 1e-6
    rows = np.nonzero(changed.any(axis=1))[0]
    assert changed.any() and out.min() >= 0 and out.max() <= 1
    assert np.all((rows < 64 // 6 + 4) | (rows >= 5 * 64 // 6 - 10))      # never mid-chest
    m = ph.border_mask((6, 5), (1, 2, 0, 1))
    expect = np.zeros((6, 5), bool)
    expect[0], expect[4:], expect[:, 4] = True, True, True
    np.testing.assert_array_equal(m, expect)


def test_chain_is_seeded_and_keeps_the_bone_layer(img):
    """Same seed, same result; and a target equal to the input stays equal to it (processing
    applied alike, degradations added alike), so x - y is only ever the real bone layer."""
    target = np.clip(img - 0.03, 0, 1)
    for seed in range(25):
        a = ph.robust(img, target, np.random.default_rng(seed))
        b = ph.robust(img, target, np.random.default_rng(seed))
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
        x, y, _ = ph.robust(img, img.copy(), np.random.default_rng(seed))
        np.testing.assert_allclose(x, y, atol=1e-6)
    outs = [ph.robust(img, target, np.random.default_rng(s))[0] for s in range(10)]
    assert len({round(float(o.mean()), 4) for o in outs}) > 5       # it does vary


def test_degenerate_draws_are_redrawn_or_left_out(monkeypatch):
    """A draw that saturates the field (no window left to normalise) is redrawn from the next
    seed; an image that no draw can make usable goes through unchanged."""
    from cxrmt import window
    from cxrmt.io.paired import PairedCase
    from cxrmt.train import data
    from cxrmt.train.data import MIN_SPREAD, robust_photometric

    assert window.spread(np.full((32, 32), 0.7, np.float32)) == 0.0
    flat = np.full((48, 48), 128, np.uint8)
    flat[::7, ::5] = 129                                  # almost constant: spread ~ 1/255
    masks = {o: np.zeros((48, 48), bool) for o in ("right_lung", "left_lung", "heart")}
    case = PairedCase("F", flat, flat.copy(), masks)
    assert window.spread(robust_photometric(case, [0, 2, 5]).image) >= MIN_SPREAD
    monkeypatch.setattr(data, "MIN_SPREAD", 2.0)          # no draw can pass: left unchanged
    np.testing.assert_array_equal(robust_photometric(case, [0, 2, 5]).image,
                                  flat / np.float32(255.0))
    monkeypatch.undo()
    rng = np.random.default_rng(0)
    textured = PairedCase("T", rng.integers(30, 220, (48, 48)).astype(np.uint8),
                          rng.integers(30, 220, (48, 48)).astype(np.uint8), masks)
    for i in range(20):
        assert window.spread(robust_photometric(textured, [0, 2, i]).image) >= MIN_SPREAD
