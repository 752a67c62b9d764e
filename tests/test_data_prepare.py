"""CT preparation steps on hand-made volumes, and the HU convention of the shipped CT."""

import numpy as np
import pytest

from cxrmt.data import labels as L
from cxrmt.data.ct import hu_offset
from cxrmt.data.prepare import body_mask, bone_set, clean_contrast, suppress_bone, to_slabs

ndi = pytest.importorskip("scipy.ndimage")


def test_hu_offset_detects_shifted_storage():
    rng = np.random.default_rng(0)
    hu = np.where(rng.random((64, 64, 16)) < 0.4, -1000.0, 40.0) + rng.normal(0, 20, (64, 64, 16))
    assert hu_offset(hu) == 0.0
    assert hu_offset(hu + 1024.0) == -1024.0


def test_body_mask_drops_couch_and_keeps_lungs():
    hu = np.full((60, 60, 4), -1000.0)
    hu[10:40, 10:50] = 40.0          # body
    hu[15:35, 15:25] = -850.0        # lung inside it
    hu[50:54, 5:55] = 300.0          # couch, separated by air
    body = body_mask(hu, ndi)
    assert body[10:40, 10:50].all()  # lung filled in
    assert not body[50:54].any() and body.sum() == 30 * 40 * 4


def test_contrast_capped_and_bolus_rib_relabelled():
    hu = np.array([400.0, 2500.0, 700.0, 30.0]).reshape(4, 1, 1)
    lab = np.array([51, L.RIBS[0], L.RIBS[1], 0], np.uint8).reshape(4, 1, 1)
    hu2, lab2 = clean_contrast(hu, lab)
    assert hu2.ravel().tolist() == [50.0, 50.0, 700.0, 30.0]
    assert lab2.ravel().tolist() == [51, 0, L.RIBS[1], 0]


def test_bone_removed_to_local_soft_tissue_mean():
    spacing = (1.0, 1.0, 1.0)
    hu = np.full((40, 40, 40), -850.0)     # lung
    hu[:, 20:, :] = 60.0                   # chest wall (soft tissue)
    lab = np.zeros(hu.shape, np.uint8)
    lab[18:22, 18:22, 18:22] = L.RIBS[3]   # rib straddling lung and wall
    hu[18:22, 18:22, 18:22] = 700.0
    hu[17, 18:22, 18:22] = 400.0           # unlabelled cortex 1 mm away
    hu[10, 30, 10] = 400.0                 # dense but far from bone: not bone
    bone = bone_set(hu, lab, spacing, ndi)
    assert bone[17, 18:22, 18:22].all() and bone[18:22, 18:22, 18:22].all()
    assert not bone[10, 30, 10] and bone.sum() == 64 + 16
    out = suppress_bone(hu, bone, np.ones(hu.shape, bool), spacing, ndi)
    assert np.allclose(out[bone], 60.0)    # the wall's 60 HU, not lung or bone
    assert np.array_equal(out[~bone], hu[~bone])


def test_slabs_average_along_ap_and_put_superior_on_top():
    vol = np.zeros((3, 8, 2, 1), np.float32)   # x, y, z, channel
    vol[:, :4, 1] = 1.0                        # posterior half, superior slice
    s = to_slabs(vol, (1.0, 0.5, 2.0), slab_mm=2.0)  # 4 voxels per slab
    assert s.slabs.shape == (2, 2, 3, 1) and s.spacing == (1.0, 2.0, 2.0)
    assert np.array_equal(s.slabs[0, :, :, 0], [[1, 1, 1], [0, 0, 0]])
    assert not s.slabs[1].any()
    assert np.allclose(s.y_mm, [-1.0, 1.0]) and s.z0_mm == 1.0 and s.x0_mm == -1.0
