"""Statistics for reports: paired Student t-test (the paper's p-values) and mean +- std text."""

import math

import numpy as np

from cxrmt._optional import require


def mean_std(values) -> tuple:
    """(mean, sample std with ddof=1, n) over the non-NaN values; (nan, nan, 0) when none.

    +-inf values (e.g. PSNR of a perfect prediction) are kept and propagate into the mean; the
    std is then NaN, as is the std of a single value."""
    v = np.asarray(values, np.float64).ravel()
    v = v[~np.isnan(v)]
    if v.size == 0:
        return float("nan"), float("nan"), 0
    if not np.isfinite(v).all():  # an infinite value: the mean says so, the std is undefined
        return float(np.sum(v) / v.size), float("nan"), int(v.size)
    std = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    return float(np.mean(v)), std, int(v.size)


def format_mean_std(values, digits: int = 3) -> str:
    """'0.985 ± 0.007' (the paper's style); 'n/a' when no value is defined."""
    mean, std, n = mean_std(values)
    if n == 0:
        return "n/a"
    if math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_p(p: float) -> str:
    """p-value as in the paper's tables: '1.2e-93', '0.031'; '-' when undefined."""
    if p is None or math.isnan(p):
        return "-"
    return f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}"


def paired_ttest(a, b) -> tuple:
    """Two-sided paired t-test of a vs b: (t, p, n).

    t = mean(d) / (std(d, ddof=1) / sqrt(n)) with d = a - b over the pairs where neither value is
    NaN (as scipy.stats.ttest_rel(..., nan_policy="omit")); p from Student's t with n - 1
    degrees of freedom. n < 2 or all differences zero: (nan, nan, n). Constant non-zero
    differences: (+-inf, 0, n).
    """
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.size} and {b.size}")
    d = (a - b)[~(np.isnan(a) | np.isnan(b))]
    n = int(d.size)
    if n < 2:
        return float("nan"), float("nan"), n
    mean, sd = float(np.mean(d)), float(np.std(d, ddof=1))
    if sd == 0:
        if mean == 0:
            return float("nan"), float("nan"), n
        return math.copysign(math.inf, mean), 0.0, n
    t = mean / (sd / math.sqrt(n))
    p = 2.0 * float(require("scipy.stats", "data").t.sf(abs(t), n - 1))
    return t, min(p, 1.0), n
