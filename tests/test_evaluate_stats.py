"""Paired t-test against scipy.stats.ttest_rel; mean +- std formatting."""

import math

import numpy as np
import pytest

from cxrmt.metrics.stats import format_mean_std, format_p, mean_std, paired_ttest

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("n,shift", [(5, 0.3), (40, 0.01), (103, 0.0), (12, -2.0)])
def test_paired_ttest_matches_scipy(rng, n, shift):
    a = rng.normal(0.98, 0.01, n)
    b = a + shift + rng.normal(0, 0.05, n)
    t, p, used = paired_ttest(a, b)
    ref = stats.ttest_rel(a, b)
    assert used == n
    assert t == pytest.approx(ref.statistic, rel=1e-10)
    assert p == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)


def test_paired_ttest_omits_nan_pairs_like_scipy(rng):
    a, b = rng.normal(size=20), rng.normal(size=20)
    a[3], b[7] = np.nan, np.nan
    t, p, used = paired_ttest(a, b)
    ref = stats.ttest_rel(a, b, nan_policy="omit")
    assert used == 18
    assert (t, p) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-10)


def test_paired_ttest_hand_computed():
    # d = [1, 2, 3]: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 2 sqrt 3, 2 degrees of freedom
    t, p, n = paired_ttest([2, 4, 6], [1, 2, 3])
    assert n == 3 and t == pytest.approx(2 * math.sqrt(3))
    # two-sided p of Student t with 2 dof: 1 - t / sqrt(t^2 + 2)
    assert p == pytest.approx(1 - t / math.sqrt(t * t + 2))


def test_paired_ttest_degenerate():
    assert all(math.isnan(v) for v in paired_ttest([1, 2, 3], [1, 2, 3])[:2])
    assert paired_ttest([2, 3, 4], [1, 2, 3])[:2] == (math.inf, 0.0)
    assert math.isnan(paired_ttest([1.0], [2.0])[1])
    with pytest.raises(ValueError):
        paired_ttest([1, 2], [1, 2, 3])


def test_mean_std_and_format():
    assert mean_std([1.0, 2.0, 3.0, np.nan]) == (2.0, 1.0, 3)   # sample std, NaN skipped
    assert format_mean_std([0.98, 0.99, 1.0]) == "0.990 ± 0.010"
    assert format_mean_std([3.14159], 2) == "3.14"
    assert format_mean_std([np.nan]) == "n/a"
    mean, std, n = mean_std([40.0, np.inf])                     # PSNR of a perfect case
    assert mean == np.inf and math.isnan(std) and n == 2
    assert format_p(1.2e-93) == "1.2e-93" and format_p(0.0314) == "0.031"
    assert format_p(float("nan")) == "-"
