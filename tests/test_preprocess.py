import cv2
import numpy as np
import pytest

from cxrmt import kernels as k
from reference import area_resize_bruteforce, preprocess_ref


def channel(x, layout="nhwc"):
    return x[0, :, :, 0] if layout == "nhwc" else x[0, 0]


@pytest.mark.parametrize("shape,size", [((1, 1), 4), ((7, 7), 5), ((13, 13), 4), ((11, 17), 8),
                                        ((17, 11), 8), ((5, 3), 7), ((31, 29), 12), ((64, 48), 16)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_matches_bruteforce_area_average(rng, shape, size, dtype):
    if dtype == np.float32:
        img = rng.random(shape, dtype=np.float32)
        lo, hi = 0.0, 1.0
    else:
        hi = float(np.iinfo(dtype).max)
        lo = 0.0
        img = rng.integers(0, int(hi) + 1, size=shape, dtype=dtype)
    x, f = k.preprocess(img, size)
    ref, (top, left) = preprocess_ref(img, size, lo, hi)
    assert x.shape == (1, size, size, 3) and x.dtype == np.float32
    np.testing.assert_allclose(channel(x), ref, atol=2e-5)
    assert (f.pad_top, f.pad_left) == (top, left)
    assert f.pad_top + f.height + f.pad_bottom == f.side == f.pad_left + f.width + f.pad_right
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])


def test_downscale_matches_opencv_inter_area(rng):
    img = rng.integers(0, 4096, size=(300, 300), dtype=np.uint16)
    x, _ = k.preprocess(img, 64, bits_stored=12)
    ref, _ = preprocess_ref(img, 64, 0, 4095, use_cv2=True)
    np.testing.assert_allclose(channel(x), ref, atol=1e-5)


def test_12bit_window_invert_and_nchw(rng):
    img = rng.integers(0, 4096, size=(40, 30), dtype=np.uint16)
    x, f = k.preprocess(img, 10, bits_stored=12, invert=True, layout="nchw")
    ref, _ = preprocess_ref(img, 10, 0, 4095, invert=True)
    assert x.shape == (1, 3, 10, 10)
    np.testing.assert_allclose(channel(x, "nchw"), ref, atol=2e-5)
    assert f.invert and (f.window_lo, f.window_hi) == (0.0, 4095.0)


def test_explicit_window_clips(rng):
    img = rng.integers(0, 65536, size=(20, 20), dtype=np.uint16)
    x, f = k.preprocess(img, 5, window=(1000, 30000))
    ref, _ = preprocess_ref(img, 5, 1000, 30000)
    np.testing.assert_allclose(channel(x), ref, atol=2e-5)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_percentile_window_matches_numpy(rng, dtype):
    img = (rng.random((37, 23)) * 1000).astype(dtype)
    lo, hi = k.resolve_window(img, percentile=(2.0, 98.5))
    np.testing.assert_allclose([lo, hi], np.percentile(img, [2.0, 98.5]), rtol=1e-6, atol=1e-4)
    x, f = k.preprocess(img, 8, percentile=(2.0, 98.5))
    assert (f.window_lo, f.window_hi) == (lo, hi)


def test_extreme_values_and_pad_value():
    img = np.array([[0, 65535, 65535]], dtype=np.uint16)
    x, f = k.preprocess(img, 3, pad_value=0.25)
    # 1x3 padded to 3x3: row 0 and 2 are padding, row 1 is the image.
    expected = np.array([[0.25] * 3, [-1.0, 1.0, 1.0], [0.25] * 3])
    np.testing.assert_allclose(channel(x), expected, atol=1e-6)
    assert (f.pad_top, f.pad_bottom, f.pad_left, f.pad_right) == (1, 1, 0, 0)


def test_caller_provided_out_and_non_contiguous_input(rng):
    base = rng.integers(0, 256, size=(50, 80), dtype=np.uint8)
    view = base[:, ::2]  # non-contiguous
    out = np.empty((1, 16, 16, 3), np.float32)
    x, _ = k.preprocess(view, 16, out=out)
    assert x is out or np.shares_memory(x, out)
    ref, _ = preprocess_ref(np.ascontiguousarray(view), 16, 0, 255)
    np.testing.assert_allclose(out[0, :, :, 0], ref, atol=2e-5)


def test_large_image_uses_threads_and_stays_exact(rng):
    img = rng.integers(0, 4096, size=(2048, 2048), dtype=np.uint16)
    x, _ = k.preprocess(img, 512, bits_stored=12)
    ref = cv2.resize(img.astype(np.float32) / 4095 * 2 - 1, (512, 512), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(channel(x), ref, atol=1e-5)


def test_bruteforce_reference_is_itself_right():
    # Hand-computed: 3 -> 2 area average: out0 = a0 + a1/2 over 1.5, out1 = a1/2 + a2 over 1.5.
    a = np.array([[3.0, 6.0, 9.0]] * 3)
    r = area_resize_bruteforce(a, 2)
    np.testing.assert_allclose(r[0], [(3 + 3) / 1.5, (3 + 9) / 1.5])
