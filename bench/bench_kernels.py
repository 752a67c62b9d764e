"""Compiled kernels against the best numpy + OpenCV chains doing the same work.

Run: pytest bench/bench_kernels.py --benchmark-only
Read the ratios from the same run (this machine is shared and noisy); each pair shares a group.
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


def cxrmt_decode_render(img, x, f, out):
    r = k.decode(out, f, image=img, model_input=x)
    colour = k.colourise(r["labels"])
    over = k.overlay(img, f, r["labels"])
    return r, colour, over


@pytest.mark.benchmark(group="decode-colourise-overlay-512-to-2048")
def test_decode_render_cxrmt(benchmark, radiograph, model_io):
    x, f, out = model_io
    r, colour, over = benchmark(cxrmt_decode_render, radiograph, x, f, out)
    masks, labels, bone, ref_colour, ref_over = numpy_decode_render(radiograph, x, out)
    np.testing.assert_array_equal(r["labels"], labels)  # integer scale: nearest conventions agree
    np.testing.assert_array_equal(r["masks"], np.stack(masks))
    assert np.abs(r["bone_suppressed"].astype(int) - bone).max() <= 1
    np.testing.assert_array_equal(colour, ref_colour)
    assert np.abs(over.astype(int) - ref_over).max() <= 1


@pytest.mark.benchmark(group="decode-colourise-overlay-512-to-2048")
def test_decode_render_numpy_opencv(benchmark, radiograph, model_io):
    x, _, out = model_io
    masks, labels, bone, colour, over = benchmark(numpy_decode_render, radiograph, x, out)
    assert labels.shape == radiograph.shape and over.shape == radiograph.shape + (3,)
