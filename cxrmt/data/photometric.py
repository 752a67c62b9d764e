"""Photometric augmentation for acquisition shift: what differs between scanners and sites.

Every transform takes float32 images in [0, 1] (display polarity) and a numpy Generator, and is
one of two kinds, so that the bone layer (input - bone-suppressed target) stays what it means:
  * processing (display LUTs, unsharp masking, blur, resampling) is applied to the input and the
    target alike: a console processes the soft-tissue image as it processes the radiograph;
  * degradation (noise, JPEG artefacts, burnt-in text, collimation borders) adds the same change
    to the target as to the input: the bone layer does not change, so the model learns to leave
    noise and markers alone.
`robust(...)` draws a seeded random chain of them; each transform is also usable on its own.
"""

import cv2
import numpy as np


# -- pointwise display maps (input and target alike) ----------------------------------------------
def window_level(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Linear window [lo, hi] -> [0, 1], clipped (a console's window/level)."""
    return np.clip((a - np.float32(lo)) / np.float32(hi - lo), 0.0, 1.0).astype(np.float32)


def gamma(a: np.ndarray, g: float) -> np.ndarray:
    return np.power(np.clip(a, 0.0, 1.0), np.float32(g)).astype(np.float32)


def sigmoid_lut(a: np.ndarray, centre: float, slope: float) -> np.ndarray:
    """Film-like S curve, rescaled so that 0 -> 0 and 1 -> 1."""
    def f(t):
        return 1.0 / (1.0 + np.exp(-slope * (t - centre)))
    lo, hi = f(0.0), f(1.0)
    return ((f(a.astype(np.float64)) - lo) / (hi - lo)).astype(np.float32)


def contrast(a: np.ndarray, factor: float, pivot: float = 0.5) -> np.ndarray:
    """Global contrast about a pivot, clipped."""
    return np.clip((a - pivot) * np.float32(factor) + pivot, 0.0, 1.0).astype(np.float32)


# -- spatial processing (input and target alike) --------------------------------------------------
def unsharp(a: np.ndarray, sigmas, gains) -> np.ndarray:
    """Multi-scale unsharp masking as DR consoles do: a + sum_k gain_k (a - blur_sigma_k(a))."""
    out = a.astype(np.float32).copy()
    for s, g in zip(sigmas, gains):
        out += np.float32(g) * (a - cv2.GaussianBlur(a, (0, 0), s, borderType=cv2.BORDER_REFLECT))
    return np.clip(out, 0.0, 1.0)


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(a, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def down_up(a: np.ndarray, factor: float) -> np.ndarray:
    """Area-downsample by `factor`, then bilinear back: a lower-resolution detector or export."""
    h, w = a.shape
    small = cv2.resize(a, (max(1, round(w / factor)), max(1, round(h / factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


# -- degradations of the input (the same change is added to the target) ---------------------------
def poisson_gaussian(a: np.ndarray, rng, photons: float, read_sigma: float) -> np.ndarray:
    """Quantum noise (Poisson, `photons` at full white) plus Gaussian read noise."""
    q = rng.poisson(np.clip(a, 0.0, 1.0) * photons) / photons
    return (q + rng.normal(0.0, read_sigma, a.shape)).astype(np.float32)


def jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    """8-bit JPEG round trip at `quality`."""
    u8 = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / np.float32(255.0)


def burnt_in_text(a: np.ndarray, rng, n: int = 2) -> np.ndarray:
    """Markers and letters burnt into the image (white or black), away from the centre."""
    out = a.copy()
    h, w = a.shape
    for _ in range(n):
        text = rng.choice(["L", "R", "AP", "PA", "ERECT", "SUPINE", "PORTABLE", "12:31"])
        scale = float(rng.uniform(0.3, 1.0)) * w / 256.0
        thick = max(1, int(round(scale * 2)))
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        x = int(rng.integers(0, max(1, w - tw)))
        y = int(rng.choice([rng.integers(th, max(th + 1, h // 6)),
                            rng.integers(max(th, 5 * h // 6), h)]))
        colour = np.float32(1.0 if rng.random() < 0.8 else 0.0)
        ink = np.zeros((h, w), np.uint8)      # OpenCV draws text on 8-bit images only
        cv2.putText(ink, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thick, cv2.LINE_AA)
        alpha = ink.astype(np.float32) / np.float32(255.0)
        out = out * (1.0 - alpha) + colour * alpha
    return out.astype(np.float32)


def border_mask(shape, sides) -> np.ndarray:
    """True on collimation borders of the given widths (top, bottom, left, right) in pixels."""
    h, w = shape
    m = np.zeros(shape, bool)
    t, b, l, r = sides
    m[:t] = True
    m[h - b:] = True
    m[:, :l] = True
    m[:, w - r:] = True
    return m


# -- the random chain ---------------------------------------------------------------------------
def robust(image: np.ndarray, target: np.ndarray, rng, strength: float = 1.0) -> tuple:
    """(input, target, border) after a random chain of the transforms above; border is the
    boolean map of added collimation borders (organ masks are cleared there)."""
    x, y = image.astype(np.float32), target.astype(np.float32)

    def both(f, *args):
        return f(x, *args), f(y, *args)

    p = min(1.0, 0.6 * strength)
    if rng.random() < p:                       # window / level
        lo, hi = rng.uniform(-0.15, 0.25), rng.uniform(0.75, 1.15)
        x, y = both(window_level, lo, hi)
    if rng.random() < p:                       # gamma
        x, y = both(gamma, float(np.exp(rng.uniform(np.log(0.55), np.log(1.8)))))
    if rng.random() < 0.3 * strength:          # film-like S curve
        x, y = both(sigmoid_lut, rng.uniform(0.35, 0.65), rng.uniform(4.0, 10.0))
    if rng.random() < 0.4 * strength:          # global contrast
        x, y = both(contrast, rng.uniform(0.6, 1.4), rng.uniform(0.3, 0.7))
    if rng.random() < 0.5 * strength:          # DR-style multi-scale processing
        w = x.shape[1] / 256.0
        sig = [rng.uniform(1.0, 3.0) * w, rng.uniform(6.0, 20.0) * w]
        x, y = both(unsharp, sig, [rng.uniform(0.0, 1.5), rng.uniform(0.0, 1.0)])
    if rng.random() < 0.2 * strength:
        x, y = both(blur, rng.uniform(0.3, 1.2) * x.shape[1] / 256.0)
    if rng.random() < 0.2 * strength:
        x, y = both(down_up, rng.uniform(1.5, 3.0))
    x0 = x
    if rng.random() < 0.4 * strength:
        x = poisson_gaussian(x, rng, rng.uniform(300.0, 3000.0), rng.uniform(0.0, 0.01))
    if rng.random() < 0.25 * strength:
        x = jpeg(x, int(rng.integers(30, 90)))
    if rng.random() < 0.3 * strength:
        x = burnt_in_text(x, rng, int(rng.integers(1, 4)))
    border = np.zeros(x.shape, bool)
    if rng.random() < 0.25 * strength:         # collimation / detector borders, black or white
        h, w = x.shape
        sides = [int(rng.integers(0, int(0.08 * n) + 1)) if rng.random() < 0.5 else 0
                 for n in (h, h, w, w)]
        border = border_mask(x.shape, sides)
        x = x.copy()
        x[border] = 1.0 if rng.random() < 0.5 else 0.0
    y = y + (x - x0)                           # degradations: the same change in the target
    y[border] = x[border]
    return np.clip(x, 0.0, 1.0), np.clip(y, 0.0, 1.0), border
