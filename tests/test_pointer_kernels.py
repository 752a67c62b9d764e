"""kernels.*_device: the raw-pointer bindings the TensorRT device pipeline calls. In host mode
they must give exactly what the numpy bindings give (an independent marshalling of the same
kernels); without CUDA the device mode raises; bad pointers and options are refused by name."""

import numpy as np
import pytest

from cxrmt import kernels as k


def chest(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4096, (h, w), dtype=np.uint16)


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_host_mode_matches_the_array_bindings(layout):
    img, size = chest(37, 23), 16
    ref_x, ref_f = k.preprocess(img, size, bits_stored=12, invert=True, window=(100.0, 4000.0),
                                layout=layout)
    x = np.empty_like(ref_x)
    f = k.preprocess_device(img.ctypes.data, img.dtype, *img.shape, size, x.ctypes.data,
                            bits_stored=12, invert=True, window=(100.0, 4000.0), layout=layout,
                            host=True)
    np.testing.assert_array_equal(x, ref_x)
    assert repr(f) == repr(ref_f)

    rng = np.random.default_rng(1)
    shape = (1, size, size, 6) if layout == "nhwc" else (1, 6, size, size)
    y = rng.uniform(-1, 1, shape).astype(np.float16)
    ref = k.decode(y, f, layout=layout, image=img, model_input=x, input_layout=layout,
                   bone_dtype="uint16", resample="area")
    masks = np.empty((3,) + img.shape, np.uint8)
    labels, bone = np.empty(img.shape, np.uint8), np.empty(img.shape, np.uint16)
    k.decode_device(y.ctypes.data, y.dtype, f, task="mt", layout=layout, image=img.ctypes.data,
                    image_dtype=img.dtype, model_input=x.ctypes.data, bone_dtype="uint16",
                    resample="area", masks=masks.ctypes.data, labels=labels.ctypes.data,
                    bone_suppressed=bone.ctypes.data, host=True)
    np.testing.assert_array_equal(masks, ref["masks"])
    np.testing.assert_array_equal(labels, ref["labels"])
    np.testing.assert_array_equal(bone, ref["bone_suppressed"])

    rgb = np.empty(img.shape + (3,), np.uint8)
    k.overlay_device(img.ctypes.data, img.dtype, f, labels.ctypes.data, rgb.ctypes.data,
                     alpha=90, filter="linear", host=True)
    np.testing.assert_array_equal(rgb, k.overlay(img, f, labels, alpha=90, filter="linear"))
    small = (rng.random((3, size, size)) < 0.3).astype(np.uint8)   # masks at the model size
    k.overlay_device(img.ctypes.data, img.dtype, f, small.ctypes.data, rgb.ctypes.data,
                     masks=True, seg_shape=small.shape[1:], mode="outline", host=True)
    np.testing.assert_array_equal(rgb, k.overlay(img, f, small, mode="outline"))


@pytest.mark.skipif(k.build_info()["cuda_built"], reason="this build has the CUDA kernels")
def test_device_mode_without_cuda_says_so():
    img, x = chest(8, 8), np.empty((1, 8, 8, 3), np.float32)
    with pytest.raises(RuntimeError, match="built without CUDA"):
        k.preprocess_device(img.ctypes.data, img.dtype, 8, 8, 8, x.ctypes.data)


@pytest.mark.parametrize("call, match", [
    (lambda f, p: k.preprocess_device(0, np.uint8, 8, 8, 8, p, host=True), "image: null pointer"),
    (lambda f, p: k.preprocess_device(p, np.uint8, 8, 8, 8, 0, host=True), "out: null pointer"),
    (lambda f, p: k.preprocess_device(p, np.int16, 8, 8, 8, p, host=True), "image: dtype int16"),
    (lambda f, p: k.preprocess_device(p, np.uint8, 8, 8, 8, p, layout="hwc", host=True), "layout"),
    (lambda f, p: k.decode_device(0, np.float32, f, task="mt", host=True), "output: null pointer"),
    (lambda f, p: k.decode_device(p, np.uint8, f, task="mt", host=True), "output: dtype"),
    (lambda f, p: k.decode_device(p, np.float32, f, task="auto", host=True), "task"),
    (lambda f, p: k.decode_device(p, np.float32, f, task="mt", bone_dtype="f4", host=True),
     "bone_dtype"),
    (lambda f, p: k.overlay_device(p, np.uint8, f, 0, p, host=True), "seg: null pointer"),
    (lambda f, p: k.overlay_device(p, np.uint8, f, p, p, mode="x", host=True), "mode"),
])
def test_bad_arguments_are_named(call, match):
    buf = np.zeros(8 * 8 * 6 * 4, np.uint8)
    f = k.Frame(8, 8, 8)
    with pytest.raises(ValueError, match=match):
        call(f, buf.ctypes.data)
