"""The tuned CPU paths against references that repeat the formula in numpy float32, so the
comparison is exact: the per-value tables and organ runs of the point overlay, the fixed-width
block sums of preprocessing (integer factors, padding on either side), the fused bone row."""

import numpy as np
import pytest
from reference import PALETTE, nearest_to_original, preprocess_ref

from cxrmt import kernels as k

F32 = np.float32


def grey_f32(img, lo, hi, invert):
    """pixel.hpp's unit -> to_signed, then (s + 1) * 127.5, operation by operation in float32."""
    inv = F32(1.0) / (F32(hi) - F32(lo))
    t = np.clip((img.astype(F32) - F32(lo)) * inv, F32(0), F32(1))
    if invert:
        t = F32(1) - t
    return (F32(2) * t - F32(1) + F32(1)) * F32(127.5)


def overlay_f32(img, f, labels, alpha):
    """px::blend_coeffs + px::apply_blend per pixel: clamp(g * keep + add) truncated."""
    full = nearest_to_original(labels, f) if labels.shape != img.shape else labels
    g = grey_f32(img, f.window_lo, f.window_hi, f.invert)[..., None]
    a = np.where(full > 0, F32(alpha), F32(0))[..., None]
    keep = (F32(255) - a) * F32(1 / 255)
    add = a * PALETTE[full].astype(F32) * F32(1 / 255) + F32(0.5)
    return np.clip(g * keep + add, F32(0), F32(255)).astype(np.uint8)


def blobs(rng, h, w):
    """Label map of large regions (long runs, like organs) plus isolated pixels (runs of one)."""
    yy, xx = np.mgrid[:h, :w]
    labels = np.zeros((h, w), np.uint8)
    labels[(xx - w * 0.3) ** 2 + (yy - h * 0.5) ** 2 < (0.25 * min(h, w)) ** 2] = 1
    labels[(xx - w * 0.7) ** 2 + (yy - h * 0.5) ** 2 < (0.25 * min(h, w)) ** 2] = 2
    labels[(xx - w * 0.5) ** 2 + (yy - h * 0.6) ** 2 < (0.15 * min(h, w)) ** 2] = 3
    speckle = rng.random((h, w)) < 0.05
    labels[speckle] = rng.integers(0, 4, speckle.sum())
    return labels


@pytest.mark.parametrize("dtype,opts", [
    (np.uint8, {}), (np.uint16, {"bits_stored": 12}), (np.uint16, {"window": (900.0, 40000.5)}),
    (np.uint16, {"window": (100.0, 3000.0), "invert": True}), (np.float32, {"window": (-0.2, 0.9)})])
@pytest.mark.parametrize("shape", [(37, 1), (5, 3), (64, 97)])
@pytest.mark.parametrize("alpha", [0, 77, 128, 255])
def test_point_overlay_is_the_formula_exactly(rng, dtype, opts, shape, alpha):
    if dtype == np.float32:
        img = rng.random(shape, dtype=np.float32) * 1.4 - 0.3
    else:
        top = 255 if dtype == np.uint8 else 4095 if "bits_stored" in opts else 65535
        img = rng.integers(0, top + 1, size=shape, dtype=dtype)
    _, f = k.preprocess(img, 16, **opts)
    for labels in (blobs(rng, *shape), blobs(rng, 16, 16)):  # original size, model size
        np.testing.assert_array_equal(k.overlay(img, f, labels, alpha=alpha), overlay_f32(img, f, labels, alpha))


def test_large_point_overlay_on_threads_is_the_formula(rng):
    img = rng.integers(0, 4096, size=(1031, 777), dtype=np.uint16)
    _, f = k.preprocess(img, 64, bits_stored=12)
    labels = blobs(rng, 1031, 777)
    np.testing.assert_array_equal(k.overlay(img, f, labels), overlay_f32(img, f, labels, 128))


@pytest.mark.parametrize("shape,size", [((64, 48), 16), ((48, 64), 16), ((40, 34), 20), ((34, 40), 20),
                                        ((64, 61), 8), ((61, 64), 8), ((24, 9), 12), ((96, 96), 12)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("pad_value", [-1.0, 0.25])
def test_integer_factor_blocks_with_padding(rng, shape, size, dtype, pad_value):
    """Factors 2, 4, 8 (fixed-width sums) and 3 (column by column), padded on either axis."""
    hi = float(np.iinfo(dtype).max)
    img = rng.integers(0, int(hi) + 1, size=shape, dtype=dtype)
    x, f = k.preprocess(img, size, pad_value=pad_value)
    assert f.side % size == 0
    ref, _ = preprocess_ref(img, size, 0.0, hi, pad_value=pad_value)
    np.testing.assert_allclose(x[0, ..., 0], ref, atol=2e-5)
    np.testing.assert_array_equal(x[0, ..., 0], x[0, ..., 2])


@pytest.mark.parametrize("image_dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("bone_dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("mode", ["residual", "resize"])
def test_bone_row_matches_bilinear_reference(rng, image_dtype, bone_dtype, mode):
    """The fused vertical taps + window + quantisation against OpenCV's bilinear resize in float64."""
    import cv2

    h, w, s = 70, 53, 16
    img = (rng.random((h, w)) * (255 if image_dtype == np.uint8 else 4095 if image_dtype == np.uint16 else 1)
           ).astype(image_dtype)
    x, f = k.preprocess(img, s, window=(0.0, 255.0 if image_dtype == np.uint8 else 4095.0 if
                                        image_dtype == np.uint16 else 1.0))
    bone = rng.normal(0, 0.3, (1, s, s, 3)).astype(np.float32)
    out = np.concatenate([rng.normal(size=(1, s, s, 3)).astype(np.float32), bone], -1)
    got = k.decode(out, f, image=img, model_input=x, bone_mode=mode, bone_dtype=bone_dtype)["bone_suppressed"]
    change = (x[0, ..., 0] if mode == "residual" else 0) - bone[0].mean(-1)
    d = f.side
    up = cv2.resize(change.astype(np.float64), (d, d), interpolation=cv2.INTER_LINEAR)
    up = up[f.pad_top:f.pad_top + h, f.pad_left:f.pad_left + w]
    signed = np.clip(img.astype(np.float64) / f.window_hi, 0, 1) * 2 - 1 if mode == "residual" else 0.0
    top = 255 if bone_dtype == "uint8" else 65535
    ref = np.floor((np.clip(signed - up, -1, 1) + 1) / 2 * top + 0.5)
    assert np.abs(got.astype(np.int64) - ref).max() <= (1 if bone_dtype == "uint8" else 3)
