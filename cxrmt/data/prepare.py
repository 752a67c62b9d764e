"""Turn a labelled CT into the slab stack the projector sums (done once, then cached).

Per voxel: soft = attenuation of the bone-suppressed volume and bone = the excess attenuation of
bone over it, both in units of water (mu / mu_water = max(0, 1 + HU/1000)); the heart and lung
occupancies; and the occupancy of what SCR's lung fields exclude. Voxels are averaged in slabs
along the anterior-posterior axis (the X-ray direction of a PA view), which keeps a triplet to
one 2-D warp per slab.
"""

import os
from dataclasses import dataclass, field

import numpy as np

from .._optional import require
from ..io.writers import atomic_path
from . import labels as L
from .ct import CTVolume, cache_dir

PREP_VERSION = 3
CHANNELS = ("soft", "bone", "heart", "left_lung", "right_lung", "not_lung_field")
BOLUS_HU = 1800.0
CAP_HU = 50.0
BONE_NEAR_HU, BONE_NEAR_MM = 150.0, 1.5
SOFT_RANGE_HU = (-200.0, 200.0)
LOCAL_MEAN_MM = 15.0


@dataclass
class SlabStack:
    """slabs: (n, rows, cols, 6) float32, channels as CHANNELS. Columns follow RAS x (index up =
    towards the patient's right), rows go superior -> inferior. Slab k is centred at depth y_mm[k]
    (anterior positive); spacing = (x, slab thickness, z) in mm; x0_mm / z0_mm: coordinates of
    column 0 and row 0. All coordinates are relative to the isocentre (body bounding-box centre).
    """

    slabs: np.ndarray
    y_mm: np.ndarray
    spacing: tuple
    x0_mm: float
    z0_mm: float
    derived: dict = field(default_factory=dict, repr=False, compare=False)  # projector's cache


def body_mask(hu, ndi) -> np.ndarray:
    """The patient: largest connected region above -400 HU, holes (lungs, airways) filled per
    axial slice; the couch and blankets are separate components and drop out."""
    solid = ndi.binary_opening(hu > -400, structure=np.ones((3, 3, 1), bool))
    lab, n = ndi.label(solid)
    if n == 0:
        raise ValueError("CT contains no body (nothing above -400 HU)")
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    body = lab == np.argmax(sizes)
    for k in range(body.shape[2]):
        body[:, :, k] = ndi.binary_fill_holes(body[:, :, k])
    return body


def clean_contrast(hu, labels):
    """Cap contrast-enhanced organs and bolus at ~50 HU; bolus labelled rib is not bone."""
    hu = hu.copy()
    labels = labels.copy()
    enhanced = np.isin(labels, L.ENHANCED)
    hu[enhanced] = np.minimum(hu[enhanced], CAP_HU)
    bolus = hu > BOLUS_HU
    labels[bolus & np.isin(labels, L.RIBS)] = 0
    hu[bolus] = CAP_HU
    return hu, labels


def bone_set(hu, labels, spacing, ndi) -> np.ndarray:
    """Labelled bones plus dense voxels (> 150 HU) within ~1.5 mm of them: the cortex that the
    labels miss."""
    labelled = np.isin(labels, L.BONE)
    radius = [max(0, int(round(BONE_NEAR_MM / s))) for s in spacing]
    grid = np.ogrid[tuple(slice(-r, r + 1) for r in radius)]
    ball = sum((g * s / BONE_NEAR_MM) ** 2 for g, s in zip(grid, spacing)) <= 1.0
    near = ndi.binary_dilation(labelled, structure=ball)
    return labelled | (near & (hu > BONE_NEAR_HU))


def suppress_bone(hu, bone, body, spacing, ndi) -> np.ndarray:
    """Bone voxels replaced by the local mean of the non-bone soft tissue around them."""
    soft = body & ~bone & (hu > SOFT_RANGE_HU[0]) & (hu < SOFT_RANGE_HU[1])
    size = [max(3, int(round(LOCAL_MEAN_MM / s)) | 1) for s in spacing]
    num = ndi.uniform_filter(np.where(soft, hu, 0).astype(np.float32), size)
    den = ndi.uniform_filter(soft.astype(np.float32), size)
    local = np.where(den > 1e-3, num / np.maximum(den, 1e-3), 0.0)  # water where none near
    out = hu.copy()
    out[bone] = local[bone]
    return out


def _bbox(mask, margin=2):
    idx = [np.flatnonzero(mask.any(axis=tuple(j for j in range(3) if j != i))) for i in range(3)]
    return tuple(slice(max(0, a[0] - margin), min(n, a[-1] + margin + 1))
                 for a, n in zip(idx, mask.shape))


def to_slabs(channels: np.ndarray, spacing, slab_mm: float) -> SlabStack:
    """(x, y, z, C) volume -> slabs along y, each an image with rows = z (top = superior)."""
    nx, ny, nz, _ = channels.shape
    f = max(1, int(round(slab_mm / spacing[1])))
    n = -(-ny // f)
    pad = n * f - ny
    vol = np.pad(channels, ((0, 0), (0, pad), (0, 0), (0, 0)))
    slabs = vol.reshape(nx, n, f, nz, -1).mean(axis=2)          # (x, n, z, C)
    slabs = np.ascontiguousarray(slabs.transpose(1, 2, 0, 3)[:, ::-1])  # (n, z top=sup, x, C)
    y_vox = np.arange(n) * f + (f - 1) / 2.0
    y_mm = (y_vox - (ny - 1) / 2.0) * spacing[1]
    x0 = -(nx - 1) / 2.0 * spacing[0]
    z0 = (nz - 1) / 2.0 * spacing[2]  # row 0 is the most superior slice
    return SlabStack(slabs.astype(np.float32), y_mm, (spacing[0], f * spacing[1], spacing[2]),
                     x0, z0)


def prepare(ct: CTVolume, slab_mm: float = 2.8) -> SlabStack:
    """Full preparation: body, contrast, bone split, attenuation, occupancies, slabs."""
    ndi = require("scipy.ndimage", "data")
    body = body_mask(ct.hu, ndi)
    box = _bbox(body)
    hu, lab, body = ct.hu[box], ct.labels[box], body[box]
    hu, lab = clean_contrast(hu, lab)
    hu = np.where(body, hu, -1000.0).astype(np.float32)
    bone = bone_set(hu, lab, ct.spacing, ndi) & body
    hu_bs = suppress_bone(hu, bone, body, ct.spacing, ndi)
    m = np.maximum(0.0, 1.0 + hu / 1000.0)
    m_bs = np.maximum(0.0, 1.0 + hu_bs / 1000.0)
    organs = [np.isin(lab, ids) for ids in (L.HEART, L.LEFT_LUNG, L.RIGHT_LUNG,
                                            L.NOT_LUNG_FIELD)]
    chans = np.stack([m_bs, m - m_bs, *organs], axis=-1).astype(np.float32)
    return to_slabs(chans, ct.spacing, slab_mm)


def cached_prepare(ct_loader, key: str, slab_mm: float = 2.8) -> SlabStack:
    """prepare() with an on-disk cache keyed by the CT files and the preparation version."""
    path = os.path.join(cache_dir(), f"slabs-{key}-v{PREP_VERSION}-{slab_mm:g}.npz")
    if os.path.exists(path):
        with np.load(path) as z:
            return SlabStack(z["slabs"], z["y_mm"], tuple(z["spacing"]), float(z["x0"]),
                             float(z["z0"]))
    stack = prepare(ct_loader(), slab_mm)
    with atomic_path(path, suffix=".npz") as tmp:  # concurrent runs never read a partial file
        np.savez(tmp, slabs=stack.slabs, y_mm=stack.y_mm, spacing=np.array(stack.spacing),
                 x0=stack.x0_mm, z0=stack.z0_mm)
    return stack
