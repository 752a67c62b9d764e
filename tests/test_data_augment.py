"""Augmentation (paper's fixed set, flips with lung swap) and the model input/target arrays."""

import numpy as np

from cxrmt.data.augment import flip_lr, paper_augment, random_augment
from cxrmt.data.targets import model_input, model_target, pair
from cxrmt.io.paired import PairedCase


def _dot_case(r, c, size=512):
    """One bright pixel in both images and in every mask: a trackable landmark."""
    img = np.zeros((size, size), np.uint8)
    img[r, c] = 255
    m = img > 0
    return PairedCase("X", img, img.copy(), {"heart": m, "left_lung": m.copy(),
                                             "right_lung": m.copy()})


def _where(a):
    return tuple(int(v) for v in np.argwhere(a)[0])


def test_paper_set_moves_everything_identically():
    r, c = 200, 300
    copies = paper_augment(_dot_case(r, c))
    assert [k.case_id for k in copies] == ["X", "X@rot+10", "X@rot-5", "X@shift+30+10",
                                           "X@shift-20-10"]
    centre = 255.5
    for case, (angle, shift) in zip(copies, [(0, (0, 0)), (10, (0, 0)), (-5, (0, 0)),
                                             (0, (30, 10)), (0, (-20, -10))]):
        # Counter-clockwise on screen (rows grow downwards), about the image centre.
        t = np.deg2rad(angle)
        x, y = c - centre, r - centre
        want_c = centre + np.cos(t) * x + np.sin(t) * y + shift[0]
        want_r = centre - np.sin(t) * x + np.cos(t) * y + shift[1]
        peak = np.unravel_index(np.argmax(case.image), case.image.shape)
        assert abs(peak[0] - want_r) <= 1 and abs(peak[1] - want_c) <= 1
        for m in case.masks.values():  # nearest-neighbour mask lands on the same pixel
            assert m.sum() <= 1 and (m.sum() == 0 or np.hypot(*np.subtract(_where(m), peak)) <= 1)
        assert np.array_equal(case.image, case.bone_suppressed)


def test_integer_shift_equals_numpy_slicing():
    img = np.random.default_rng(0).integers(0, 256, (512, 512), dtype=np.uint8)
    case = PairedCase("Y", img, img, {"heart": img > 128})
    out = paper_augment(case)[3]  # (30, 10): 30 px right, 10 px down, zero fill
    ref = np.zeros_like(img)
    ref[10:, 30:] = img[:-10, :-30]
    assert np.array_equal(out.image, ref)
    assert np.array_equal(out.masks["heart"], ref > 128)


def test_flip_swaps_lungs_so_names_stay_anatomical():
    size = 32
    right = np.zeros((size, size), bool)
    right[8:24, 2:12] = True        # patient's right lung: image left
    left = np.zeros((size, size), bool)
    left[8:24, 20:30] = True
    img = np.arange(size * size, dtype=np.uint16).reshape(size, size).astype(np.uint8)
    case = PairedCase("Z", img, img, {"heart": np.zeros_like(left), "left_lung": left,
                                      "right_lung": right})
    f = flip_lr(case)
    assert np.array_equal(f.image, img[:, ::-1])
    assert np.array_equal(f.masks["left_lung"], right[:, ::-1])
    assert f.masks["left_lung"][:, size // 2:].sum() == left.sum()  # still on the image right
    assert f.masks["right_lung"][:, :size // 2].sum() == right.sum()


def test_random_augment_is_seeded_and_consistent():
    case = _dot_case(60, 70, size=128)
    a = random_augment(case, np.random.default_rng(5))
    b = random_augment(case, np.random.default_rng(5))
    c = random_augment(case, np.random.default_rng(6))
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    assert np.array_equal(a.image, a.bone_suppressed)
    peak = np.unravel_index(np.argmax(a.image), a.image.shape)
    assert np.hypot(*np.subtract(_where(a.masks["heart"]), peak)) <= 1


def test_input_and_target_layout():
    img = np.array([[0, 255], [51, 204]], np.uint8)
    bone = np.array([[255, 0], [102, 153]], np.uint8)
    heart = np.array([[1, 0], [0, 0]], bool)
    left = np.array([[0, 1], [0, 0]], bool)
    right = np.array([[0, 0], [1, 0]], bool)
    case = PairedCase("T", img, bone, {"heart": heart, "left_lung": left, "right_lung": right})
    x, y = pair(case)
    assert x.shape == (2, 2, 3) and np.allclose(x[..., 1], [[-1, 1], [-0.6, 0.6]])
    assert y.shape == (2, 2, 6)
    assert np.array_equal(y[..., 0], [[1, -1], [-1, -1]])   # R = heart
    assert np.array_equal(y[..., 1], [[-1, 1], [-1, -1]])   # G = left lung
    assert np.array_equal(y[..., 2], [[-1, -1], [1, -1]])   # B = right lung
    assert np.allclose(y[..., 3], [[1, -1], [-0.2, 0.2]]) and np.array_equal(y[..., 3], y[..., 5])
    masked = model_target(case, lung_masked=True)
    assert np.allclose(masked[..., 4], [[-1, -1], [-0.2, -1]])  # only lung pixels survive


def test_target_resize_keeps_masks_binary():
    case = _dot_case(10, 10, size=64)
    case.masks["heart"][:32, :32] = True
    y = model_target(case, size=32)
    assert y.shape == (32, 32, 6) and set(np.unique(y[..., 0])) == {-1.0, 1.0}
    assert (y[..., 0] > 0).sum() == 16 * 16
    assert model_input(case.image).dtype == np.float32


def test_samples_from_a_paired_folder(tmp_path):
    from cxrmt.data.augment import paper_augment as aug
    from cxrmt.data.targets import samples
    from cxrmt.io import PairedDataset, write_case
    write_case(tmp_path, _dot_case(100, 120, size=128))
    got = list(samples(PairedDataset(tmp_path), ["X"], size=64, augment=aug))
    assert len(got) == 5
    x, y = got[0]
    assert x.shape == (64, 64, 3) and y.shape == (64, 64, 6)
    assert x.min() == -1.0 and -1.0 < x.max() <= 1.0  # the dot, area-averaged 4 -> 1
