"""Compiled kernels against numpy + OpenCV chains doing the same work: a plain numpy reference
(the correctness oracle) and a tight OpenCV chain (what a competent user would write: few passes,
cv2.resize/LUT/addWeighted/cvtColor), held to the same checks as cxrmt.

Run: pytest bench/bench_kernels.py --benchmark-enable
Read the ratios from the same run (this machine is shared and noisy); each trio shares a group.

Development Xeon (2 vCPUs, AVX-512 + AMX; `lscpu` "Intel(R) Xeon(R) Processor"), medians, three
quiet runs (load < 0.5): decode + colourise + overlay 1.60-1.99x the tight chain (2.1-2.3x on
minima), preprocess 3.8-4.5x; three loaded runs (load ~2.3): 1.22-2.42x and 2.7-4.5x.
"""
import cv2
import numpy as np
import pytest

from cxrmt import kernels as k

SIZE = 512
BITS = 12
MAX = float(2 ** BITS - 1)


@pytest.fixture(scope="module")
def radiograph():
    rng = np.random.default_rng(7)
    # Smooth anatomy-like structure plus noise, 12 bits stored in uint16.
    yy, xx = np.mgrid[:2048, :2048] / 2048.0
    base = 2000 + 1200 * np.sin(6 * xx) * np.cos(4 * yy) + rng.normal(0, 60, (2048, 2048))
    return np.clip(base, 0, MAX).astype(np.uint16)


def opencv_preprocess(img):
    small = cv2.resize(img.astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    small = small * np.float32(2.0 / MAX) - np.float32(1.0)  # window = full 12-bit range: no clipping
    return cv2.merge([small, small, small])[None]


@pytest.mark.benchmark(group="preprocess-2048-u12-to-512")
def test_preprocess_cxrmt(benchmark, radiograph):
    out = np.empty((1, SIZE, SIZE, 3), np.float32)
    benchmark(k.preprocess, radiograph, SIZE, bits_stored=BITS, out=out)
    np.testing.assert_allclose(out, opencv_preprocess(radiograph), atol=1e-5)


@pytest.mark.benchmark(group="preprocess-2048-u12-to-512")
def test_preprocess_opencv_numpy(benchmark, radiograph):
    ref = benchmark(opencv_preprocess, radiograph)
    assert ref.shape == (1, SIZE, SIZE, 3)


def opencv_tight_preprocess(img, out):
    """The same maths in the fewest passes: one float conversion, the area resize, the scale in
    place at S x S, and the three copies written straight into the caller's buffer."""
    small = cv2.resize(img.astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    small *= np.float32(2.0 / MAX)
    small -= np.float32(1.0)
    cv2.cvtColor(small, cv2.COLOR_GRAY2RGB, dst=out[0])
    return out


@pytest.mark.benchmark(group="preprocess-2048-u12-to-512")
def test_preprocess_opencv_tight(benchmark, radiograph):
    out = np.empty((1, SIZE, SIZE, 3), np.float32)
    benchmark(opencv_tight_preprocess, radiograph, out)
    np.testing.assert_array_equal(out, opencv_preprocess(radiograph))


PALETTE = k.PALETTE
LABEL_OF_CHANNEL = np.array([3, 2, 1], np.uint8)


@pytest.fixture(scope="module")
def model_io(radiograph):
    x, f = k.preprocess(radiograph, SIZE, bits_stored=BITS)
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    heart = 0.15 - np.hypot(xx - 0.55, yy - 0.6)
    left = 0.2 - np.hypot((xx - 0.72) / 0.6, (yy - 0.45))
    right = 0.2 - np.hypot((xx - 0.28) / 0.6, (yy - 0.45))
    seg = np.tanh(20 * np.stack([heart, left, right], -1))
    bone = x[0] - 0.05 * np.sin(40 * yy)[..., None]
    out = np.concatenate([seg, bone + rng.normal(0, 0.01, bone.shape)], -1)[None].astype(np.float32)
    return x, f, out


def numpy_decode_render(img, x, out):
    h, w = img.shape
    seg = out[0, :, :, :3]
    masks = [cv2.resize((seg[..., c] > 0).view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) for c in range(3)]
    small_labels = np.where(seg.max(-1) > 0, LABEL_OF_CHANNEL[seg.argmax(-1)], 0).astype(np.uint8)
    labels = cv2.resize(small_labels, (w, h), interpolation=cv2.INTER_NEAREST)
    diff = x[0, :, :, 0] - out[0, :, :, 3:].mean(-1)
    up = cv2.resize(diff, (w, h), interpolation=cv2.INTER_LINEAR)
    signed = img.astype(np.float32) * np.float32(2.0 / MAX) - np.float32(1.0)
    bone = np.clip((signed - up + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    colour = PALETTE[labels]
    grey = img.astype(np.float32) * np.float32(255.0 / MAX)
    a = np.where(labels > 0, np.float32(128), np.float32(0))[..., None]
    over = ((grey[..., None] * (255 - a) + a * colour) / 255 + 0.5).astype(np.uint8)
    return masks, labels, bone, colour, over


LUT_RGB = np.zeros((256, 1, 3), np.uint8)
LUT_RGB[:len(PALETTE), 0] = PALETTE
MEAN3 = np.full((1, 3), 1.0 / 3.0)


def opencv_tight_decode_render(img, x, out):
    """numpy_decode_render in fewer, OpenCV passes: one 3-channel nearest resize for the masks,
    the bone mean by cv2.transform and the residual in one addWeighted to uint8, the colours by
    cv2.LUT, the overlay blended in 8 bits and copied in under the labels."""
    h, w = img.shape
    seg = out[0, :, :, :3]
    masks = cv2.split(cv2.resize((seg > 0).view(np.uint8), (w, h),
                                 interpolation=cv2.INTER_NEAREST))
    small_labels = np.where(seg.max(-1) > 0, LABEL_OF_CHANNEL[seg.argmax(-1)], 0).astype(np.uint8)
    labels = cv2.resize(small_labels, (w, h), interpolation=cv2.INTER_NEAREST)
    mean = cv2.transform(np.ascontiguousarray(out[0, :, :, 3:]), MEAN3)
    up = cv2.resize(cv2.subtract(cv2.extractChannel(x[0], 0), mean), (w, h),
                    interpolation=cv2.INTER_LINEAR)
    # (signed - up + 1) * 127.5 = img * 255 / MAX - 127.5 * up, rounded and saturated
    bone = cv2.addWeighted(img.astype(np.float32), 255.0 / MAX, up, -127.5, 0.0, dtype=cv2.CV_8U)
    colour = cv2.LUT(cv2.cvtColor(labels, cv2.COLOR_GRAY2RGB), LUT_RGB)
    grey = cv2.cvtColor(cv2.convertScaleAbs(img, alpha=255.0 / MAX), cv2.COLOR_GRAY2RGB)
    blend = cv2.addWeighted(grey, 127 / 255, colour, 128 / 255, 0.0)
    over = cv2.copyTo(blend, labels, grey)
    return masks, labels, bone, colour, over


def _assert_decode_render(masks, labels, bone, colour, over, ref):
    """The checks cxrmt's decode + render must pass against the numpy reference `ref`."""
    ref_masks, ref_labels, ref_bone, ref_colour, ref_over = ref
    np.testing.assert_array_equal(labels, ref_labels)  # integer scale: nearest conventions agree
    np.testing.assert_array_equal(np.stack(masks), np.stack(ref_masks))
    assert np.abs(bone.astype(int) - ref_bone).max() <= 1
    np.testing.assert_array_equal(colour, ref_colour)
    assert np.abs(over.astype(int) - ref_over).max() <= 1


def cxrmt_decode_render(img, x, f, out):
    r = k.decode(out, f, image=img, model_input=x)
    colour = k.colourise(r["labels"])
    over = k.overlay(img, f, r["labels"])
    return r, colour, over


@pytest.mark.benchmark(group="decode-colourise-overlay-512-to-2048")
def test_decode_render_cxrmt(benchmark, radiograph, model_io):
    x, f, out = model_io
    r, colour, over = benchmark(cxrmt_decode_render, radiograph, x, f, out)
    _assert_decode_render(r["masks"], r["labels"], r["bone_suppressed"], colour, over,
                          numpy_decode_render(radiograph, x, out))


@pytest.mark.benchmark(group="decode-colourise-overlay-512-to-2048")
def test_decode_render_numpy_opencv(benchmark, radiograph, model_io):
    x, _, out = model_io
    masks, labels, bone, colour, over = benchmark(numpy_decode_render, radiograph, x, out)
    assert labels.shape == radiograph.shape and over.shape == radiograph.shape + (3,)


@pytest.mark.benchmark(group="decode-colourise-overlay-512-to-2048")
def test_decode_render_opencv_tight(benchmark, radiograph, model_io):
    x, _, out = model_io
    got = benchmark(opencv_tight_decode_render, radiograph, x, out)
    _assert_decode_render(*got, numpy_decode_render(radiograph, x, out))
