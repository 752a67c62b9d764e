"""CUDA twins against the CPU kernels. Skipped (with the reason) where no CUDA device is usable."""
import numpy as np
import pytest

from cxrmt import kernels as k

info = k.build_info()
pytestmark = pytest.mark.skipif(
    not k.cuda_available(),
    reason="no usable CUDA device: built_with_cuda=%s, %s" % (info["cuda_built"], info["cuda"].get("reason", "")))

SHAPES = [((1, 1), 4), ((13, 13), 8), ((37, 23), 16), ((2048, 1536), 512), ((300, 301), 256)]


@pytest.mark.parametrize("shape,size", SHAPES)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_preprocess_twin(rng, shape, size, dtype, layout):
    img = rng.integers(0, 4096, size=shape).astype(dtype)
    kw = dict(bits_stored=12) if dtype == np.uint16 else dict(window=(0.0, 4095.0))
    a, fa = k.preprocess(img, size, layout=layout, invert=True, **kw)
    b, fb = k.preprocess(img, size, layout=layout, invert=True, device="cuda", **kw)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert repr(fa) == repr(fb)


@pytest.mark.parametrize("shape,size", SHAPES)
@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("resample", ["bilinear", "area"])
def test_decode_twin(rng, shape, size, half, resample):
    img = rng.integers(0, 4096, size=shape, dtype=np.uint16)
    x, f = k.preprocess(img, size, bits_stored=12)
    out = np.tanh(rng.normal(size=(1, size, size, 6))).astype(np.float16 if half else np.float32)
    kw = dict(image=img, model_input=x, resample=resample, bone_dtype="uint16")
    a = k.decode(out, f, **kw)
    b = k.decode(out, f, device="cuda", **kw)
    np.testing.assert_array_equal(a["masks"], b["masks"])
    np.testing.assert_array_equal(a["labels"], b["labels"])
    assert np.abs(a["bone_suppressed"].astype(int) - b["bone_suppressed"].astype(int)).max() <= 2  # 16-bit levels


@pytest.mark.parametrize("filter", ["point", "linear"])
@pytest.mark.parametrize("mode", ["fill", "outline"])
@pytest.mark.parametrize("masks", [False, True])
def test_overlay_and_colourise_twin(rng, filter, mode, masks):
    img = rng.integers(0, 4096, size=(700, 530), dtype=np.uint16)
    _, f = k.preprocess(img, 64, bits_stored=12)
    seg = (rng.integers(0, 2, size=(3, 64, 64)) if masks else rng.integers(0, 4, size=(64, 64))).astype(np.uint8)
    a = k.overlay(img, f, seg, filter=filter, mode=mode, thickness=2)
    b = k.overlay(img, f, seg, filter=filter, mode=mode, thickness=2, device="cuda")
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    np.testing.assert_array_equal(k.colourise(seg), k.colourise(seg, device="cuda"))
