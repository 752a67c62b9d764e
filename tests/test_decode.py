import numpy as np
import pytest

from cxrmt import kernels as k
from reference import (bilinear_to_original, labels_from_channels, nearest_to_original, normalise,
                       quantise)


def model_io(rng, shape, size, dtype=np.uint16, bits=12):
    img = rng.integers(0, 2 ** bits, size=shape, dtype=dtype)
    x, f = k.preprocess(img, size, bits_stored=bits)
    out = np.tanh(rng.normal(0, 1.5, size=(1, size, size, 6))).astype(np.float32)
    return img, x, f, out


@pytest.mark.parametrize("shape,size", [((1, 1), 4), ((13, 13), 8), ((11, 17), 8), ((37, 23), 16),
                                        ((64, 64), 16), ((5, 9), 16)])
def test_masks_and_labels_nearest(rng, shape, size):
    img, x, f, out = model_io(rng, shape, size)
    r = k.decode(out, f, image=img, model_input=x)
    seg = np.moveaxis(out[0, :, :, :3], -1, 0)
    for c in range(3):
        ref = nearest_to_original((seg[c] > 0).astype(np.uint8), f)
        np.testing.assert_array_equal(r["masks"][c], ref)
    np.testing.assert_array_equal(r["labels"], nearest_to_original(labels_from_channels(seg), f))
    assert r["masks"].shape == (3,) + shape and r["labels"].shape == shape


def test_label_rules_hand_computed():
    f = k.Frame(1, 4, 4, pad_top=2, pad_bottom=1, window_hi=1.0)
    out = np.full((4, 4, 6), -1.0, np.float32)
    row = 2  # the image row inside the padded square
    out[row, 0, :3] = [0.5, 0.2, -1]   # heart wins -> 3
    out[row, 1, :3] = [0.1, 0.1, 0.9]  # right lung -> 1
    out[row, 2, :3] = [0.3, 0.3, -1]   # tie: heart (lower channel) -> 3
    out[row, 3, :3] = [-0.1, -0.2, 0]  # nothing positive -> 0
    r = k.decode(out, f, bone_suppressed=False)
    np.testing.assert_array_equal(r["labels"], [[3, 1, 3, 0]])
    np.testing.assert_array_equal(r["masks"][:, 0, :], [[1, 1, 1, 0], [1, 1, 1, 0], [0, 1, 0, 0]])
    assert r["bone_suppressed"] is None


@pytest.mark.parametrize("shape,size", [((13, 13), 8), ((23, 37), 16), ((64, 48), 16), ((6, 6), 16)])
@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_bone_residual_transfer(rng, shape, size, layout):
    img = rng.integers(0, 4096, size=shape, dtype=np.uint16)
    x, f = k.preprocess(img, size, bits_stored=12, layout=layout)
    x_nhwc = x if layout == "nhwc" else np.moveaxis(x, 1, -1)
    out = np.tanh(rng.normal(0, 1.0, size=(1, size, size, 6))).astype(np.float32)
    out_l = out if layout == "nhwc" else np.ascontiguousarray(np.moveaxis(out, -1, 1))
    r = k.decode(out_l, f, layout=layout, image=img, model_input=x, input_layout=layout, bone_dtype="uint16")
    diff = x_nhwc[0, :, :, 0] - out[0, :, :, 3:].mean(axis=-1)
    ref = quantise(normalise(img, 0, 4095) * 2 - 1 - bilinear_to_original(diff, f), 65535)
    assert r["bone_suppressed"].dtype == np.uint16
    assert np.abs(r["bone_suppressed"].astype(np.int64) - ref).max() <= 1


@pytest.mark.parametrize("invert", [False, True])
@pytest.mark.parametrize("window", [dict(window=(700.0, 3100.0)), dict(percentile=(2.0, 98.0)),
                                    dict(percentile=(1.0, 99.0), field=True)])
def test_bone_window_writes_the_change_on_the_input_scale(rng, invert, window):
    """With bone_window = the full range, the bone image is the original in raw units minus the
    network's change converted to raw units: (hi - lo) / 2 per network unit, sign flipped for an
    inverted input (whose display polarity is the other way round). Independent numpy maths."""
    img = rng.integers(0, 4096, size=(40, 30), dtype=np.uint16)
    x, f = k.preprocess(img, 16, bits_stored=12, invert=invert, **window)
    out = np.tanh(rng.normal(0, 1.0, size=(1, 16, 16, 6))).astype(np.float32)
    r = k.decode(out, f, image=img, model_input=x, bone_dtype="uint16",
                 bone_window=(0.0, 4095.0))
    lo, hi = f.window_lo, f.window_hi
    assert hi - lo < 4000                                    # a real (narrower) window
    change = bilinear_to_original(x[0, :, :, 0] - out[0, :, :, 3:].mean(axis=-1), f)
    display = 1.0 - img / 4095.0 if invert else img / 4095.0     # full range, display polarity
    expect = np.clip(display - change * (hi - lo) / 2 / 4095.0, 0, 1) * 65535
    assert np.abs(r["bone_suppressed"].astype(np.float64) - expect).max() <= 1.5
    with pytest.raises(ValueError, match="bone_window"):
        k.decode(out, f, image=img, model_input=x, bone_window=(0.0, 4095.0), bone_mode="resize")


def test_bone_identity_output_returns_original(rng):
    # A model that changes nothing must give back the original at full resolution.
    img = rng.integers(0, 256, size=(300, 200), dtype=np.uint8)
    x, f = k.preprocess(img, 64)
    out = np.concatenate([np.zeros_like(x), x], axis=-1)
    r = k.decode(out, f, image=img, model_input=x)
    np.testing.assert_array_equal(r["bone_suppressed"], img)


def test_bone_resize_mode_and_float16(rng):
    img, x, f, out = model_io(rng, (40, 50), 16)
    r16 = k.decode(out.astype(np.float16), f, bone_mode="resize")
    ref = quantise(bilinear_to_original(out.astype(np.float16).astype(np.float32)[0, :, :, 3:].mean(-1), f), 255)
    assert np.abs(r16["bone_suppressed"].astype(int) - ref).max() <= 1


def test_area_resample_of_bone(rng):
    # Original smaller than the model size: area averaging (a downscale) against brute force.
    img = rng.integers(0, 256, size=(6, 6), dtype=np.uint8)
    x, f = k.preprocess(img, 12)
    out = np.tanh(rng.normal(size=(1, 12, 12, 6))).astype(np.float32)
    r = k.decode(out, f, bone_mode="resize", resample="area")
    plane = out[0, :, :, 3:].mean(-1)
    ref = quantise(plane.reshape(6, 2, 6, 2).mean(axis=(1, 3)), 255)
    assert np.abs(r["bone_suppressed"].astype(int) - ref).max() <= 1


def test_task_variants(rng):
    img, x, f, out = model_io(rng, (20, 20), 8)
    seg_only = k.decode(out[..., :3], f)  # auto: 3 channels = segmentation
    full = k.decode(out, f, image=img, model_input=x)
    np.testing.assert_array_equal(seg_only["labels"], full["labels"])
    assert seg_only["bone_suppressed"] is None
    bse = k.decode(np.ascontiguousarray(out[..., 3:]), f, task="bse", image=img, model_input=x)
    np.testing.assert_array_equal(bse["bone_suppressed"], full["bone_suppressed"])
    assert bse["masks"] is None and bse["labels"] is None
