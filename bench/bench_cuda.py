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


@pytest.fixture(scope="module")
def null_engine(io):
    """A real-CUDA TensorRT runner with no engine (tests/gpu_standin.py): its output buffer holds
    `io`'s fixed 512^2 output, so the timings are everything around the engine."""
    pytest.importorskip("cuda", reason="the device pipeline needs cuda-python")
    from gpu_standin import StandInEngineRunner
    from cxrmt.runtime.base import ModelInfo

    info = ModelInfo(size=512, layout="nhwc", task="mt")
    with StandInEngineRunner(info, output=io[3]) as runner:
        yield runner


@pytest.mark.parametrize("path", ["device", "cuda-kernels-host-arrays", "cpu-kernels"])
def test_pipeline_around_the_engine(benchmark, io, null_engine, path):
    """2048^2 12-bit radiograph -> every output, engine excluded: the device-resident pipeline
    (one upload, one download set) against host kernels around the engine's own copies."""
    from cxrmt.pipeline import Predictor

    benchmark.group = "pipeline-2048-to-all-outputs-around-a-512-engine"
    img = io[0]
    p = Predictor(null_engine, bits_stored=12, bone_dtype="uint16",
                  kernel_device="cpu" if path == "cpu-kernels" else "auto")
    if path != "device":
        p._device_pipeline = None
    assert (p._device_pipeline is not None) == (path == "device")
    r = benchmark(p.run, img)
    ref = Predictor(null_engine, bits_stored=12, bone_dtype="uint16", kernel_device="cpu")
    assert np.mean(r.labels != ref.run(img).labels) < 1e-3
