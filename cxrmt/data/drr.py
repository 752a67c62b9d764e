"""Paired DRR triplets: radiograph, bone-suppressed radiograph, heart/lung masks.

Both images come from the same projections, the same Poisson noise draw and the same display
processing, so they differ only where bone projects.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

from .prepare import CHANNELS, SlabStack
from .projector import Geometry, Pose, project

MASK_MM = 0.5  # projected organ thickness that makes a mask pixel


@dataclass
class Render:
    """Acquisition and display parameters (the randomised part besides the pose)."""

    mu_water: float = 0.020     # 1/mm, ~65 keV effective
    bone_gain: float = 2.0      # bone attenuates more than its HU says at diagnostic energies
    photons: float = 3e4        # per pixel before the patient; 0 = no noise
    blur_px: float = 0.0        # Gaussian sigma of the detector blur at this size
    gamma: float = 1.0
    window_pct: tuple = (0.5, 99.8)


@dataclass
class Triplet:
    image: np.ndarray            # uint8, display polarity
    bone_suppressed: np.ndarray  # uint8, same window
    masks: dict                  # organ -> bool
    bone_path: np.ndarray = field(repr=False, default=None)  # projected bone (water-mm)


def organ_masks(lines: np.ndarray) -> dict:
    """Projected thickness > 0.5 mm. As in SCR, a lung-field pixel's ray crosses lung but not
    the heart, mediastinum, aorta or anything below the diaphragm."""
    thick = {name: lines[..., i] > MASK_MM for i, name in enumerate(CHANNELS)}
    hidden = thick["heart"] | thick["not_lung_field"]
    return {"heart": drop_specks(thick["heart"]),
            "left_lung": drop_specks(thick["left_lung"] & ~hidden),
            "right_lung": drop_specks(thick["right_lung"] & ~hidden)}


def drop_specks(mask: np.ndarray, keep_frac: float = 0.02) -> np.ndarray:
    """Remove islands smaller than keep_frac of the largest one (slivers of lung recess that
    peek past the diaphragm structures; SCR outlines one region per organ)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.concatenate([[False], areas >= keep_frac * areas.max()])
    return keep[lab]


def _noise(p: np.ndarray, photons: float, rng) -> np.ndarray:
    """Log-domain Poisson noise of the radiograph: -log(counts / N0) - p."""
    if photons <= 0:
        return np.zeros_like(p)
    counts = rng.poisson(photons * np.exp(-p.astype(np.float64)))
    return (-np.log(np.maximum(counts, 0.5) / photons) - p).astype(np.float32)


def _display(p, lo, hi, gamma):
    v = np.clip((p - lo) / max(hi - lo, 1e-6), 0.0, 1.0) ** gamma
    return np.round(v * 255.0).astype(np.uint8)


def render(lines: np.ndarray, r: Render, rng) -> Triplet:
    """Line integrals (size, size, len(CHANNELS)) -> triplet."""
    soft, bone = lines[..., 0] * r.mu_water, lines[..., 1] * r.mu_water * r.bone_gain
    p_in, p_bs = soft + bone, soft
    delta = _noise(p_in, r.photons, rng)
    p_in, p_bs = p_in + delta, p_bs + delta
    if r.blur_px > 0:
        p_in = cv2.GaussianBlur(p_in, (0, 0), r.blur_px)
        p_bs = cv2.GaussianBlur(p_bs, (0, 0), r.blur_px)
    lo, hi = np.percentile(p_in, r.window_pct)
    return Triplet(_display(p_in, lo, hi, r.gamma), _display(p_bs, lo, hi, r.gamma),
                   organ_masks(lines), lines[..., 1])


def random_params(rng, size: int) -> tuple:
    """(Pose, Render) drawn from the ranges of issue 3: +-7 deg, +-8 % scale, shifts, energy,
    bone contrast, noise, blur, gamma."""
    pose = Pose(rot_deg=tuple(rng.uniform(-7, 7, 3)),
                shift_mm=(rng.uniform(-20, 20), 0.0, rng.uniform(-20, 20)),
                scale=rng.uniform(0.92, 1.08))
    rend = Render(mu_water=rng.uniform(0.018, 0.022), bone_gain=rng.uniform(1.6, 2.4),
                  photons=10 ** rng.uniform(4.0, 5.0), blur_px=rng.uniform(0.3, 1.2) * size / 512,
                  gamma=rng.uniform(0.8, 1.25))
    return pose, rend


def synthesize(stack: SlabStack, size: int, rng) -> Triplet:
    """One randomised triplet."""
    pose, rend = random_params(rng, size)
    return render(project(stack, Geometry(size=size), pose), rend, rng)
