"""`cxrmt data drr --ct --labels` on a hand-made phantom stored in a non-RAS orientation."""

import argparse

import numpy as np
import pytest

from cxrmt.data.commands import register
from cxrmt.io import PairedDataset

nib = pytest.importorskip("nibabel")
pytest.importorskip("scipy")


def _phantom(tmp_path):
    """LPS-ordered voxels (index up = patient's left / posterior), 4 mm: a body cylinder with two
    lungs, a heart on the patient's left and a dense 'rib' bar over the left lung."""
    shape = (60, 50, 60)
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    hu = np.full(shape, -1000.0, np.float32)
    lab = np.zeros(shape, np.uint8)
    hu[((i - 30) / 26.0) ** 2 + ((j - 25) / 18.0) ** 2 < 1] = 40.0
    left = ((i - 41) / 8.0) ** 2 + ((j - 25) / 10.0) ** 2 + ((k - 32) / 18.0) ** 2 < 1
    right = ((i - 19) / 8.0) ** 2 + ((j - 25) / 10.0) ** 2 + ((k - 32) / 18.0) ** 2 < 1
    heart = ((i - 33) / 6.0) ** 2 + ((j - 17) / 6.0) ** 2 + ((k - 20) / 6.0) ** 2 < 1
    rib = (i >= 35) & (i < 48) & (j >= 8) & (j < 10) & (k >= 38) & (k < 40)
    for m, h, code in ((left, -850.0, 10), (right, -850.0, 12), (heart, 40.0, 51),
                       (rib, 700.0, 95)):
        hu[m], lab[m] = h, code
    affine = np.diag([-4.0, -4.0, 4.0, 1.0])  # i -> -x (left), j -> -y (posterior)
    ct, labels = tmp_path / "ct.nii.gz", tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(hu.astype(np.int16), affine), ct)
    nib.save(nib.Nifti1Image(lab, affine), labels)
    return ct, labels


def test_user_ct_orientation_and_bone(tmp_path, monkeypatch):
    monkeypatch.setenv("CXRMT_CACHE", str(tmp_path / "cache"))
    ct, labels = _phantom(tmp_path)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["data", "drr", "--out", str(tmp_path / "out"), "--n", "1",
                              "--size", "128", "--ct", str(ct), "--labels", str(labels)])
    assert args.func(args) == 0
    case = PairedDataset(tmp_path / "out").load("DRR00000")
    cols = lambda m: np.nonzero(m)[1].mean()  # noqa: E731
    assert case.masks["left_lung"].sum() > 100 and case.masks["right_lung"].sum() > 100
    assert cols(case.masks["right_lung"]) < 64 < cols(case.masks["left_lung"])
    assert cols(case.masks["heart"]) > 64  # heart on the patient's left: image right
    rib_rows = np.nonzero(case.image.astype(int) - case.bone_suppressed > 8)
    assert len(rib_rows[0]) > 20 and rib_rows[1].mean() > 64  # the rib is over the left lung
    assert rib_rows[0].mean() < np.nonzero(case.masks["heart"])[0].mean()  # and above the heart
