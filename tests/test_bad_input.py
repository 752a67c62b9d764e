"""Every bad input gets a ValueError that names the argument; nothing crashes."""
import numpy as np
import pytest

from cxrmt import kernels as k

IMG = np.zeros((8, 8), np.uint8)


@pytest.mark.parametrize("image,match", [
    (np.zeros((8, 8), np.float64), "image: dtype float64"),
    (np.zeros((8, 8), np.int16), "image: dtype int16"),
    (np.zeros((8, 8), np.float16), "image: dtype float16"),
    (np.zeros((8, 8, 3), np.uint8), "image: expected a 2-D"),
    (np.zeros((0, 8), np.uint8), "image: empty"),
    (np.array([[0.0, np.nan]], np.float32), "image: contains NaN"),
    (np.array([[0.0, np.inf]], np.float32), "image: contains NaN or infinite"),
])
def test_preprocess_bad_image(image, match):
    with pytest.raises(ValueError, match=match):
        k.preprocess(image, 4)


@pytest.mark.parametrize("kwargs,match", [
    (dict(size=0), "size: must be positive"),
    (dict(size=-3), "size: must be positive"),
    (dict(size=300, multiple_of=256), "size: the model needs a positive multiple of 256, got 300"),
    (dict(multiple_of=0), "multiple_of: must be >= 1"),
    (dict(window=(5, 5)), "window: lo must be < hi"),
    (dict(window=(9, 2)), "window: lo must be < hi"),
    (dict(window=(0, float("nan"))), "window: bounds must be finite"),
    (dict(percentile=(50, 10)), "percentile: need 0 <= lo < hi <= 100"),
    (dict(percentile=(1, 99), window=(0, 1)), "not both"),
    (dict(bits_stored=9), "bits_stored: must be in 1..8"),
    (dict(layout="hwc"), "layout: must be 'nhwc' or 'nchw'"),
    (dict(device="tpu"), "device: must be 'cpu' or 'cuda'"),
    (dict(out=np.zeros((1, 4, 4, 3), np.float64)), "out: needs a writable"),
    (dict(out=np.zeros((1, 3, 4, 4), np.float32)), "out: needs a writable"),
])
def test_preprocess_bad_arguments(kwargs, match):
    kwargs.setdefault("size", 4)
    with pytest.raises(ValueError, match=match):
        k.preprocess(IMG, **kwargs)


def test_bits_stored_overflow_and_constant_percentile():
    with pytest.raises(ValueError, match="value 4096 exceeds bits_stored=12"):
        k.preprocess(np.array([[0, 4096]], np.uint16), 4, bits_stored=12)
    with pytest.raises(ValueError, match="percentile window .* is empty"):
        k.preprocess(np.full((5, 5), 7, np.uint16), 4, percentile=(1, 99))
    with pytest.raises(ValueError, match="bits_stored: only meaningful"):
        k.preprocess(np.zeros((4, 4), np.float32), 4, bits_stored=12)


def frame_and_output(channels=6, size=4):
    x, f = k.preprocess(IMG, size)
    return x, f, np.zeros((1, size, size, channels), np.float32)


@pytest.mark.parametrize("output,kwargs,match", [
    (np.zeros((1, 4, 4, 6), np.float64), {}, "output: dtype float64"),
    (np.zeros((1, 4, 4, 5), np.float32), {}, "output: expected 6"),
    (np.zeros((1, 4, 5, 6), np.float32), {}, "output: spatial shape must be square"),
    (np.zeros((2, 4, 4, 6), np.float32), {}, "output: batch size must be 1"),
    (np.zeros((4, 6), np.float32), {}, "output: expected"),
    (np.zeros((1, 8, 8, 6), np.float32), {}, "output: size 8 does not match"),
    (np.zeros((1, 4, 4, 3), np.float32), dict(task="mt"), "needs 6 channels"),
    (np.zeros((1, 4, 4, 6), np.float32), dict(task="xyz"), "task: must be"),
    (np.zeros((1, 4, 4, 6), np.float32), dict(bone_mode="magic"), "bone_mode: must be"),
    (np.zeros((1, 4, 4, 6), np.float32), dict(resample="cubic"), "resample: must be"),
    (np.zeros((1, 4, 4, 6), np.float32), dict(bone_dtype="float32"), "bone_dtype: must be"),
    (np.full((1, 4, 4, 6), np.nan, np.float32), dict(bone_mode="resize"), "output: contains NaN"),
    (np.zeros((1, 4, 4, 6), np.float32), {}, "residual bone decoding needs"),
])
def test_decode_bad_input(output, kwargs, match):
    _, f, _ = frame_and_output()
    with pytest.raises(ValueError, match=match):
        k.decode(output, f, **kwargs)


def test_decode_mismatched_original():
    x, f, out = frame_and_output()
    with pytest.raises(ValueError, match="image: shape does not match"):
        k.decode(out, f, image=np.zeros((9, 8), np.uint8), model_input=x)
    with pytest.raises(ValueError, match="model_input: expected"):
        k.decode(out, f, image=IMG, model_input=np.zeros((1, 5, 5, 3), np.float32))


@pytest.mark.parametrize("seg,palette,match", [
    (np.zeros((4, 4), np.int32), None, "seg: dtype int32"),
    (np.zeros((2, 4, 4), np.uint8), None, "masks must have shape \\(3, H, W\\)"),
    (np.zeros((0, 4), np.uint8), None, "seg: empty"),
    (np.full((4, 4), 7, np.uint8), None, "labels: label 7 is not in 0..3"),
    (np.zeros((4, 4), np.uint8), np.zeros((3, 3), np.uint8), "palette: expected a uint8 array of shape \\(4, 3\\)"),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 3), np.float32), "palette: expected"),
])
def test_colourise_bad_input(seg, palette, match):
    with pytest.raises(ValueError, match=match):
        k.colourise(seg, palette)


@pytest.mark.parametrize("kwargs,match", [
    (dict(alpha=256), "alpha: must be in 0..255"),
    (dict(alpha=-1), "alpha: must be in 0..255"),
    (dict(filter="cubic"), "filter: must be"),
    (dict(mode="glow"), "mode: must be"),
    (dict(thickness=0), "thickness: must be in 1..64"),
])
def test_overlay_bad_options(kwargs, match):
    _, f, _ = frame_and_output()
    with pytest.raises(ValueError, match=match):
        k.overlay(IMG, f, np.zeros((4, 4), np.uint8), **kwargs)


def test_overlay_bad_shapes():
    _, f, _ = frame_and_output()
    with pytest.raises(ValueError, match="labels: shape 5x5 is neither the model size 4x4 nor the original size 8x8"):
        k.overlay(IMG, f, np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="image: shape does not match the frame"):
        k.overlay(np.zeros((9, 9), np.uint8), f, np.zeros((4, 4), np.uint8))
    bad = k.Frame(8, 8, 4, pad_top=1)
    with pytest.raises(ValueError, match="frame: padding does not make the image square"):
        k.overlay(IMG, bad, np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("masks,match", [
    (np.zeros((4, 4), np.uint8), "masks: expected shape \\(3, H, W\\)"),
    (np.zeros((3, 4, 4), np.float32), "masks: dtype float32"),
    (np.zeros((3, 0, 4), np.uint8), "masks: empty"),
])
def test_cleanup_bad_input(masks, match):
    with pytest.raises(ValueError, match=match):
        k.cleanup(masks)
