import numpy as np
import pytest
from scipy import ndimage

from cxrmt import kernels as k


def cleanup_ref(masks):
    out = np.zeros_like(masks)
    for c in range(3):
        lab, n = ndimage.label(masks[c], structure=np.ones((3, 3)))
        if n:
            sizes = ndimage.sum(np.ones_like(lab), lab, index=np.arange(1, n + 1))
            keep = lab == (int(np.argmax(sizes)) + 1)
        else:
            keep = np.zeros(masks.shape[1:], bool)
        out[c] = ndimage.binary_fill_holes(keep)
    return out


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 64), (129, 97)])
def test_cleanup_matches_scipy(rng, shape):
    masks = (rng.random((3,) + shape) > 0.45).astype(np.uint8)
    np.testing.assert_array_equal(k.cleanup(masks), cleanup_ref(masks))


def test_cleanup_hand_case():
    m = np.zeros((3, 8, 8), np.uint8)
    m[0, 1:6, 1:6] = 1
    m[0, 3, 3] = 0      # a hole: filled
    m[0, 7, 7] = 1      # an island: removed
    m[1, 0:3, 0] = 1    # touches the border: kept, nothing to fill
    out = k.cleanup(m)
    expected = np.zeros_like(m)
    expected[0, 1:6, 1:6] = 1
    expected[1, 0:3, 0] = 1
    np.testing.assert_array_equal(out, expected)
    assert m[0, 7, 7] == 1  # input untouched


def test_cleanup_options_and_empty():
    m = np.zeros((3, 5, 5), np.uint8)
    m[2, 1:4, 1:4] = 1
    m[2, 2, 2] = 0
    np.testing.assert_array_equal(k.cleanup(m, fill_holes=False), m)
    assert k.cleanup(np.zeros((3, 4, 4), np.uint8)).sum() == 0
