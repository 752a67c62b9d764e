"""CUDA twins against the CPU kernels on the same 2048^2 work (host arrays in and out, so the
timings include both PCIe copies and a stream synchronisation). Skipped without a usable GPU."""
import numpy as np
import pytest

from cxrmt import kernels as k

pytestmark = pytest.mark.skipif(not k.cuda_available(), reason="no usable CUDA device")


@pytest.fixture(scope="module")
def io():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 4096, size=(2048, 2048), dtype=np.uint16)
    x, f = k.preprocess(img, 512, bits_stored=12)
    out = np.tanh(rng.normal(size=(1, 512, 512, 6))).astype(np.float32)
    return img, x, f, out


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_preprocess_cxrmt(benchmark, io, device):
    benchmark.group = "preprocess-2048-u12-to-512-devices"
    img, x, _, _ = io
    y, _ = benchmark(k.preprocess, img, 512, bits_stored=12, device=device)
    np.testing.assert_allclose(y, x, atol=1e-5)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_decode_overlay_cxrmt(benchmark, io, device):
    benchmark.group = "decode-overlay-512-to-2048-devices"
    img, x, f, out = io

    def run():
        r = k.decode(out, f, image=img, model_input=x, device=device)
        return r, k.overlay(img, f, r["labels"], device=device)

    r, over = benchmark(run)
    ref = k.decode(out, f, image=img, model_input=x)
    np.testing.assert_array_equal(r["labels"], ref["labels"])
    assert np.abs(over.astype(int) - k.overlay(img, f, ref["labels"]).astype(int)).max() <= 1
