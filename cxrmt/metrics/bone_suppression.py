"""Bone-suppression metrics: Eslami et al. (2020) eqs. (9)-(11), PSNR and the bone suppression
ratio, on the 0-255 grey scale, over the full image or inside a region (e.g. the lung fields).

Images are (H, W) arrays: uint8 as is, uint16 scaled by 255/65535, floats taken as already on
the 0-255 scale. `region` is an optional boolean mask of the same shape.
"""

import numpy as np

L = 255.0                                # dynamic range of the 0-255 scale (the paper's L)
C1, C2 = (0.01 * L) ** 2, (0.03 * L) ** 2
WIN = 8                                  # the paper's 8x8 window, stride 1


def to_255(img) -> np.ndarray:
    """float64 on the 0-255 scale."""
    img = np.asarray(img)
    if img.dtype == np.uint16:
        return img.astype(np.float64) * (L / 65535.0)
    return img.astype(np.float64)


def _prep(pred, target, region):
    pred, target = to_255(pred), to_255(target)
    if pred.shape != target.shape or pred.ndim != 2:
        raise ValueError(f"images must be 2-D and equal in shape, got {pred.shape}, {target.shape}")
    if region is None:
        return pred, target, np.ones(pred.shape, bool)
    region = np.asarray(region, bool)
    if region.shape != pred.shape:
        raise ValueError(f"region is {region.shape}, images are {pred.shape}")
    return pred, target, region


def rmse(pred, target, region=None) -> float:
    """Eq. (9): root mean squared difference (NaN for an empty region)."""
    pred, target, region = _prep(pred, target, region)
    if not region.any():
        return float("nan")
    return float(np.sqrt(np.mean((pred[region] - target[region]) ** 2)))


def psnr(pred, target, region=None) -> float:
    """10 log10(L^2 / MSE) in dB with L = 255; +inf for identical images."""
    e = rmse(pred, target, region)
    if e == 0:
        return float("inf")
    return float(20.0 * np.log10(L / e))


def bsr(pred, target, source, region=None) -> float:
    """Bone suppression ratio 1 - sum (pred - target)^2 / sum (source - target)^2.

    `source` is the input radiograph X, `target` the bone-suppressed target Y. 0 = no better than
    returning the input, 1 = perfect, negative = worse than the input. When source == target in
    the region there is nothing to suppress and the ratio is undefined: NaN.
    """
    pred, target, region = _prep(pred, target, region)
    source, _, _ = _prep(source, target, region)
    den = np.sum((source[region] - target[region]) ** 2)
    if den == 0:
        return float("nan")
    return float(1.0 - np.sum((pred[region] - target[region]) ** 2) / den)


def _window_sums(a: np.ndarray) -> np.ndarray:
    """Sums over every WIN x WIN window fully inside `a` (integral image), shape (H-7, W-7)."""
    c = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(a, axis=0), axis=1)
    k = WIN
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def ssim_map(pred, target, ddof: int = 1) -> np.ndarray:
    """Eq. (11) for every 8x8 window at stride 1 that lies fully inside the image.

    Entry [i, j] is the window with top-left pixel (i, j). Variances and the covariance use
    1/(N - ddof), N = 64; ddof=1 (the sample estimate) is Wang et al. 2004's definition.
    """
    pred, target, _ = _prep(pred, target, None)
    if min(pred.shape) < WIN:
        raise ValueError(f"images must be at least {WIN}x{WIN}, got {pred.shape}")
    n = WIN * WIN
    sx, sy = _window_sums(pred), _window_sums(target)
    sxx, syy, sxy = _window_sums(pred * pred), _window_sums(target * target), \
        _window_sums(pred * target)
    mx, my = sx / n, sy / n
    # Centred sums (S_ab - S_a S_b / n): exact for integer images since all sums fit float64.
    vx, vy = (sxx - sx * sx / n) / (n - ddof), (syy - sy * sy / n) / (n - ddof)
    cxy = (sxy - sx * sy / n) / (n - ddof)
    return ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))


def windows_inside(region) -> np.ndarray:
    """Boolean map over the windows of ssim_map: True where all 64 pixels lie in `region`."""
    return _window_sums(np.asarray(region, np.float64)) == WIN * WIN


def mssim(pred, target, region=None, ddof: int = 1) -> float:
    """Eq. (10): the mean of the SSIM map.

    With a region, the mean is over the windows that lie entirely inside it, so that no window
    mixes region and non-region content (e.g. lung and mediastinum); NaN when no window fits.
    """
    return mssim_from_map(ssim_map(pred, target, ddof), region)


def mssim_from_map(smap: np.ndarray, region=None) -> float:
    """Mean of a precomputed SSIM map, optionally over the windows fully inside `region`."""
    if region is None:
        return float(smap.mean())
    inside = windows_inside(region)
    return float(smap[inside].mean()) if inside.any() else float("nan")


def bone_metrics(pred, target, source, region=None, suffix="_lungs") -> dict:
    """{rmse, mssim, psnr, bsr} over the full image and, if `region` is given, inside it (the
    same keys + `suffix`). One SSIM map serves both."""
    smap = ssim_map(pred, target)
    out = {"rmse": rmse(pred, target), "mssim": mssim_from_map(smap),
           "psnr": psnr(pred, target), "bsr": bsr(pred, target, source)}
    if region is not None:
        out.update({f"rmse{suffix}": rmse(pred, target, region),
                    f"mssim{suffix}": mssim_from_map(smap, region),
                    f"psnr{suffix}": psnr(pred, target, region),
                    f"bsr{suffix}": bsr(pred, target, source, region)})
    return out
