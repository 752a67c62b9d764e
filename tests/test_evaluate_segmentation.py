"""Segmentation metrics against hand-computed tiny masks and a naive O(n*m) Hausdorff."""

import math

import numpy as np
import pytest

from cxrmt.metrics.segmentation import (boundary, confusion, dice, fnr, fpr, hd95, jaccard,
                                         organ_metrics)


def _mask(shape, *boxes):
    m = np.zeros(shape, bool)
    for r0, r1, c0, c1 in boxes:
        m[r0:r1, c0:c1] = True
    return m


def test_hand_computed_overlap():
    # GT: 4x4 square (16 px); PM: the same square shifted right by 1 plus an isolated pixel.
    gt = _mask((8, 8), (0, 4, 0, 4))
    pm = _mask((8, 8), (0, 4, 1, 5), (7, 7 + 1, 7, 8))
    tp, fp, fn = 12, 5, 4
    assert confusion(pm, gt) == (tp, fp, fn)
    assert dice(pm, gt) == pytest.approx(2 * 12 / (2 * 12 + 5 + 4))   # 24/33
    assert jaccard(pm, gt) == pytest.approx(12 / 21)
    assert fnr(pm, gt) == pytest.approx(4 / 16)
    assert fpr(pm, gt) == pytest.approx(5 / 16)  # the paper's FP / |GT|, not FP / (FP + TN)


def test_fpr_can_exceed_one_as_in_the_paper():
    gt = _mask((6, 6), (0, 1, 0, 2))     # 2 px
    pm = _mask((6, 6), (0, 3, 0, 3))     # 9 px, covers GT
    assert fpr(pm, gt) == pytest.approx(7 / 2)
    assert fnr(pm, gt) == 0.0


def test_perfect_prediction():
    gt = _mask((10, 12), (2, 7, 3, 9))
    m = organ_metrics(gt.copy(), gt, spacing=(0.5, 0.7))
    assert m == {"dice": 1.0, "jaccard": 1.0, "fnr": 0.0, "fpr": 0.0, "hd95": 0.0,
                 "hd95_mm": 0.0}


def test_empty_mask_conventions():
    empty, some = np.zeros((5, 5), bool), _mask((5, 5), (1, 3, 1, 3))
    assert dice(empty, empty) == 1.0 and jaccard(empty, empty) == 1.0
    assert fnr(empty, empty) == 0.0 and fpr(empty, empty) == 0.0 and hd95(empty, empty) == 0.0
    # prediction empty, organ present: everything missed
    assert dice(empty, some) == 0.0 and jaccard(empty, some) == 0.0
    assert fnr(empty, some) == 1.0 and fpr(empty, some) == 0.0
    assert math.isnan(hd95(empty, some))
    # organ absent, something predicted
    assert dice(some, empty) == 0.0 and fnr(some, empty) == 0.0
    assert math.isnan(fpr(some, empty)) and math.isnan(hd95(some, empty))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        dice(np.zeros((4, 4), bool), np.zeros((4, 5), bool))


def _naive_boundary_points(mask):
    """Pixels of the mask with a 4-neighbour outside the mask or outside the image."""
    h, w = mask.shape
    pts = []
    for r in range(h):
        for c in range(w):
            if not mask[r, c]:
                continue
            nbrs = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
            if any(not (0 <= a < h and 0 <= b < w) or not mask[a, b] for a, b in nbrs):
                pts.append((r, c))
    return np.array(pts, np.float64)


def _naive_hd95(a, b, spacing=(1.0, 1.0)):
    pa = _naive_boundary_points(a) * spacing
    pb = _naive_boundary_points(b) * spacing
    d = np.empty((len(pa), len(pb)))
    for i, p in enumerate(pa):          # O(n*m), no distance transform involved
        for j, q in enumerate(pb):
            d[i, j] = math.hypot(*(p - q))
    return max(np.percentile(d.min(axis=1), 95), np.percentile(d.min(axis=0), 95))


def test_boundary_matches_naive(rng):
    m = rng.random((15, 17)) > 0.4
    got = np.argwhere(boundary(m)).astype(float)
    assert np.array_equal(got, _naive_boundary_points(m))


def test_hd95_hand_computed():
    a, b = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    a[0, 0], b[3, 4] = True, True
    assert hd95(a, b) == pytest.approx(5.0)
    assert hd95(a, b, spacing=(2.0, 0.5)) == pytest.approx(math.hypot(6.0, 2.0))


@pytest.mark.parametrize("spacing", [None, (0.7, 0.7), (0.5, 1.25)])
def test_hd95_against_naive(rng, spacing):
    for _ in range(4):
        a = _blob(rng, (40, 44))
        b = _blob(rng, (40, 44))
        want = _naive_hd95(a, b, (1.0, 1.0) if spacing is None else spacing)
        assert hd95(a, b, spacing) == pytest.approx(want, rel=1e-6, abs=1e-6)


def _blob(rng, shape):
    """A filled random ellipse plus a few stray pixels: irregular, but with a real boundary."""
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    r0, c0 = rng.uniform(10, 30), rng.uniform(10, 34)
    ar, ac = rng.uniform(4, 12), rng.uniform(4, 12)
    m = ((rr - r0) / ar) ** 2 + ((cc - c0) / ac) ** 2 <= 1
    m[rng.integers(0, shape[0], 5), rng.integers(0, shape[1], 5)] = True
    return m


def test_hd95_symmetric_and_rejects_bad_spacing(rng):
    a, b = _blob(rng, (30, 30)), _blob(rng, (30, 30))
    assert hd95(a, b) == pytest.approx(hd95(b, a))
    with pytest.raises(ValueError):
        hd95(a, b, spacing=(0.0, 1.0))
