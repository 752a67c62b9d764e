"""Projector geometry on synthetic phantoms (no CT needed)."""

import numpy as np
import pytest

from cxrmt.data.prepare import SlabStack
from cxrmt.data.projector import Geometry, Pose, project

Rotation = pytest.importorskip("scipy.spatial.transform").Rotation


def _stack(n, rows, cols, spacing):
    slabs = np.zeros((n, rows, cols, 6), np.float32)
    y = (np.arange(n) - (n - 1) / 2) * spacing[1]
    return SlabStack(slabs, y, spacing, -(cols - 1) / 2 * spacing[0], (rows - 1) / 2 * spacing[2])


def _pinhole(w, geo):
    """Textbook pinhole: source at y = -sod, detector at y = sdd - sod, PA view (patient's
    right, +x, on the image left; superior, +z, at the top)."""
    lam = geo.sdd / (w[1] + geo.sod)
    pix = geo.detector_mm / geo.size
    centre = (geo.size - 1) / 2
    return centre - lam * w[0] / pix, centre - lam * w[2] / pix


@pytest.mark.parametrize("pose", [
    Pose(),
    Pose(rot_deg=(4.0, -6.0, 5.0), shift_mm=(12.0, -8.0, -15.0), scale=1.06),
    Pose(rot_deg=(-7.0, 7.0, -3.0), shift_mm=(-20.0, 5.0, 20.0), scale=0.93),
])
@pytest.mark.parametrize("size,sigma", [(256, 3.0), (48, 12.0)])  # 48: slabs block-averaged
def test_blob_projects_where_pinhole_says(pose, size, sigma):
    spacing = (0.8, 2.0, 1.5)
    stack = _stack(21, 120, 160, spacing)
    k, row, col = 15, 30, 120  # off-centre in every direction
    rr, cc = np.mgrid[:120, :160]
    stack.slabs[k, ..., 0] = np.exp(-((rr - row) ** 2 + (cc - col) ** 2) / (2 * sigma ** 2))
    geo = Geometry(size=size)
    img = project(stack, geo, pose)[..., 0]
    r_i, c_i = np.mgrid[:size, :size]
    got_c, got_r = (img * c_i).sum() / img.sum(), (img * r_i).sum() / img.sum()
    p = np.array([stack.x0_mm + col * spacing[0], stack.y_mm[k], stack.z0_mm - row * spacing[2]])
    rot = Rotation.from_euler("zxy", [pose.rot_deg[2], pose.rot_deg[0], pose.rot_deg[1]],
                              degrees=True).as_matrix()
    w = pose.scale * rot @ p + np.array(pose.shift_mm)
    want_c, want_r = _pinhole(w, geo)
    assert abs(got_c - want_c) < 0.1 and abs(got_r - want_r) < 0.1
    if pose == Pose():
        centre = (size - 1) / 2  # patient's right/superior: image left/top
        assert got_c < centre and got_r < centre


@pytest.mark.parametrize("tilt", [0.0, 20.0])
def test_uniform_cube_line_integral_is_its_thickness(tilt):
    side = 80
    stack = _stack(side, side, side, (1.0, 1.0, 1.0))
    stack.slabs[..., 0] = 1.0
    geo = Geometry(size=128)
    img = project(stack, geo, Pose(rot_deg=(tilt, 0.0, 0.0)))[..., 0]
    centre = img[62:66, 62:66].mean()
    # Central ray through a cube tilted about x: side / cos(tilt) (exits through the faces).
    assert centre == pytest.approx(side / np.cos(np.deg2rad(tilt)), rel=0.01)
    assert img[0, 0] == 0.0  # rays that miss the cube see nothing


def test_drop_specks_keeps_big_regions_only():
    from cxrmt.data.drr import drop_specks
    m = np.zeros((100, 100), bool)
    m[10:60, 10:40] = True      # 1500 px
    m[70:90, 60:90] = True      # 600 px: kept (>= 2 %)
    m[5, 95] = True             # 1 px speck
    out = drop_specks(m)
    assert out.sum() == 2100 and not out[5, 95]


def test_roi_warps_equal_full_frame_warps():
    import cv2
    from cxrmt.data.projector import path_length_map, slab_homography
    rng = np.random.default_rng(2)
    stack = _stack(12, 50, 70, (1.5, 3.0, 2.0))
    for k in (2, 3, 7, 11):  # other slabs stay empty and are skipped
        r, c = rng.integers(5, 45), rng.integers(5, 65)
        stack.slabs[k, r - 4:r + 4, c - 5:c + 5] = rng.random((8, 10, 6))
    stack.slabs[5, :, :3, 3] = 1.0  # content touching the slab's edge
    geo = Geometry(size=96, detector_mm=120.0)  # pixels fine enough: no block averaging
    pose = Pose(rot_deg=(5, -3, 6), shift_mm=(9, 0, -7), scale=1.04)
    want = np.zeros((96, 96, 6), np.float32)
    for k in range(12):
        h = slab_homography(stack, k, geo, pose)
        for ch in range(6):
            want[..., ch] += cv2.warpPerspective(np.ascontiguousarray(stack.slabs[k, ..., ch]),
                                                 h, (96, 96), flags=cv2.INTER_LINEAR)
    want *= path_length_map(stack, geo, pose)[..., None]
    got = project(stack, geo, pose)
    assert want.max() > 1.0 and np.allclose(got, want, rtol=1e-4, atol=1e-3)
