"""The TensorRT device pipeline (cxrmt.runtime.device_pipeline).

Without a GPU, a fake CUDA runtime keeps "device" memory on the host, so the pointer kernels'
host mode (kernels.*_device(..., host=True)) can stand in for the CUDA ones and ONNX Runtime for the engine: that checks the
orchestration (buffer sizes and growth, pointers, layouts, FP16 outputs, what crosses "PCIe",
the Predictor integration) against the host Predictor exactly. The real run needs a GPU.
"""
import ctypes
import importlib.util
import threading
import types

import numpy as np
import pytest

from cxrmt import kernels as k
from cxrmt.pipeline import STAGES, Predictor
from cxrmt.runtime import Runner, open_runner
from cxrmt.runtime.device_pipeline import Buffers, DevicePipeline
from test_runtime_fixtures import affine_model, chest

SIZE = 32
STREAM = 0x5EED


class FakeRuntime:
    """The cuda-python runtime calls the pipeline makes, over host memory."""

    cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice="h2d",
                                           cudaMemcpyDeviceToHost="d2h")

    def __init__(self):
        self.live, self.allocs, self.copies, self.syncs = {}, [], [], 0

    def _alloc(self, kind, n):
        buf = ctypes.create_string_buffer(n)
        self.live[ctypes.addressof(buf)] = (kind, buf)
        self.allocs.append((kind, n))
        return 0, ctypes.addressof(buf)

    def cudaMalloc(self, n):
        return self._alloc("device", n)

    def cudaMallocHost(self, n):
        return self._alloc("host", n)

    def cudaFree(self, p):
        assert self.live.pop(p)[0] == "device"
        return (0,)

    def cudaFreeHost(self, p):
        assert self.live.pop(p)[0] == "host"
        return (0,)

    def _kind_of(self, p, n):
        """Which live allocation holds [p, p + n): catches copies past a buffer's end."""
        for start, (kind, buf) in self.live.items():
            if start <= p and p + n <= start + len(buf):
                return kind
        raise AssertionError(f"copy of {n} bytes at {p:#x} is outside every buffer")

    def cudaMemcpyAsync(self, dst, src, n, kind, stream):
        assert stream == STREAM
        assert (self._kind_of(src, n), self._kind_of(dst, n)) == (
            ("host", "device") if kind == "h2d" else ("device", "host"))
        ctypes.memmove(dst, src, n)
        self.copies.append((kind, n))
        return (0,)

    def cudaStreamSynchronize(self, stream):
        self.syncs += 1
        return (0,)

    def cudaSetDevice(self, d):
        return (0,)

    def cudaEventCreate(self):
        return 0, object()

    def cudaEventRecord(self, event, stream):
        assert stream == STREAM
        return (0,)

    def cudaEventElapsedTime(self, a, b):
        return 0, 0.25

    def cudaEventDestroy(self, event):
        return (0,)


class HostTwins:
    """The kernels.*_device calls answered in host mode (fake device memory is host memory)."""

    def __getattr__(self, name):
        kernel = getattr(k, name)

        def call(*args, stream, **kw):
            assert stream == STREAM                # queued on the runner's stream
            return kernel(*args, stream=stream, host=True, **kw)
        return call


class FakeEngineRunner(Runner):
    """An ONNX model posing as a TensorRT engine: pinned/device I/O buffers from the fake
    runtime, an output of `out_dtype` (float16 like an FP16-I/O engine), and a device_pipeline."""

    on_gpu = True

    def __init__(self, onnx_path, out_dtype=np.float32):
        self.ort = open_runner(onnx_path, device="cpu")
        self.info, self.out_dtype = self.ort.info, np.dtype(out_dtype)
        self.rt = FakeRuntime()
        s, c = self.info.size, self.info.output_channels
        out_shape = (1, s, s, c) if self.info.layout == "nhwc" else (1, c, s, s)
        self.in_ptr = self.rt.cudaMalloc(4 * 3 * s * s)[1]
        self.out_ptr = self.rt.cudaMalloc(self.out_dtype.itemsize * s * s * c)[1]
        out_host = self.rt.cudaMallocHost(self.out_dtype.itemsize * s * s * c)[1]
        self.out_host = _array(out_host, self.out_dtype, out_shape)
        self.executed = 0
        self.device_pipeline = DevicePipeline(self.rt, STREAM, threading.Lock(), self._execute,
                                              self.info, self.in_ptr, self.out_ptr,
                                              self.out_host, api=HostTwins())

    def _infer(self, x):   # the host path sees the same (rounded) output as the device path
        return self.ort.run(x).astype(self.out_dtype).astype(np.float32)

    def _execute(self):
        self.executed += 1
        x = _array(self.in_ptr, np.float32, self.info.input_shape)
        y = _array(self.out_ptr, self.out_dtype, self.out_host.shape)
        y[...] = self._infer(x.copy())

    def close(self):
        self.device_pipeline.close()
        self.ort.close()


def _array(ptr, dtype, shape):
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer((ctypes.c_byte * n).from_address(ptr), dtype).reshape(shape)


def _device_predictor(runner, monkeypatch, **kw):
    """A Predictor that takes the device path, as on a CUDA build (this build has none)."""
    with monkeypatch.context() as m:
        m.setattr(k, "cuda_available", lambda: True)
        p = Predictor(runner, **kw)
    assert p.device == "cuda" and p._device_pipeline is runner.device_pipeline
    p.device = "cpu"   # the host kernels the clean=True overlay calls: CPU in this build
    return p


FIELDS = ("masks", "labels", "segmentation", "overlay", "bone_suppressed", "output")


@pytest.mark.parametrize("layout,task,out_dtype", [("nchw", "mt", np.float32),
                                                   ("nhwc", "mt", np.float16),
                                                   ("nhwc", "seg", np.float32),
                                                   ("nchw", "bse", np.float16)])
def test_device_path_matches_the_host_path(tmp_path, monkeypatch, layout, task, out_dtype):
    runner = FakeEngineRunner(affine_model(tmp_path / "m.onnx", SIZE, layout, task), out_dtype)
    opts = dict(bits_stored=12, invert=True, bone_dtype="uint16", resample="area",
                filter="linear", alpha=90)
    dev = _device_predictor(runner, monkeypatch, **opts)
    host = Predictor(runner, kernel_device="cpu", **opts)
    assert host._device_pipeline is None
    # Larger, smaller, then larger again: buffers grow when needed and are reused otherwise.
    grew = []
    for i, shape in enumerate([(60, 45), (40, 40), (90, 70), (90, 70)]):
        img = chest(*shape, seed=i)
        before, allocs = len(runner.rt.copies), len(runner.rt.allocs)
        a = dev.run(img)
        grew.append(len(runner.rt.allocs) > allocs)
        b = host.run(img)
        for field in FIELDS:
            ref = getattr(b, field)
            if ref is None:
                assert getattr(a, field) is None, field
            else:
                np.testing.assert_array_equal(getattr(a, field), ref, err_msg=field)
        assert set(a.timings) == set(STAGES) | {"total"} and a.timings["inference"] == 0.25
        copies = runner.rt.copies[before:]
        assert copies[0] == ("h2d", img.nbytes)                 # the image, once
        assert [c[0] for c in copies[1:]] == ["d2h"] * (len(copies) - 1)
    assert runner.executed == 4 and runner.rt.syncs == 4        # one sync per image
    assert grew == [True, False, True, False]
    runner.close()
    assert not [v for v in runner.rt.live.values() if v[0] == "host"][1:]     # only out_host


def test_percentile_window_and_clean_go_through_the_device_path(tmp_path, monkeypatch):
    runner = FakeEngineRunner(affine_model(tmp_path / "m.onnx", SIZE, "nchw", "mt"))
    opts = dict(percentile=(2.0, 98.0), clean=True)
    dev, host = _device_predictor(runner, monkeypatch, **opts), Predictor(runner, **opts)
    img = chest(120, 100, seed=5)
    a, b = dev.run(img), host.run(img)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    # A batch on a batch-1 engine: one device run per image, same results.
    for r, s in zip(dev.run_batch([img, img[:50]]), host.run_batch([img, img[:50]])):
        np.testing.assert_array_equal(r.bone_suppressed, s.bone_suppressed)
    runner.close()


def test_device_path_rejects_what_the_host_path_rejects(tmp_path, monkeypatch):
    runner = FakeEngineRunner(affine_model(tmp_path / "m.onnx", SIZE, "nchw", "mt"))
    cases = [(dict(bits_stored=10), np.full((20, 20), 2000, np.uint16), "exceeds bits_stored=10"),
             ({}, np.full((20, 20), np.nan, np.float32), "NaN or infinite"),
             ({}, np.zeros((20, 20)), "dtype float64 is not supported"),
             ({}, np.zeros((20, 20, 3), np.uint8), "2-D grey radiograph"),
             (dict(window=(5, 1)), np.zeros((20, 20), np.uint8), "lo must be < hi")]
    for opts, img, message in cases:
        dev, host = _device_predictor(runner, monkeypatch, **opts), Predictor(runner, **opts)
        for p in (dev, host):
            with pytest.raises(ValueError, match=message):
                p.run(img)
    runner.close()


def test_nan_output_is_reported_on_the_device_path(tmp_path, monkeypatch):
    runner = FakeEngineRunner(affine_model(tmp_path / "m.onnx", SIZE, "nchw", "mt"))
    runner._infer = lambda x: np.full(runner.out_host.shape, np.nan, np.float32)
    # The device decode queues without a value check (the host one would refuse NaN).
    monkeypatch.setattr(HostTwins, "decode_device", lambda self, *args, **kw: None,
                        raising=False)
    with pytest.raises(FloatingPointError, match="NaN"):
        _device_predictor(runner, monkeypatch).run(chest(40, 40))
    runner.close()


def test_buffers_grow_for_larger_images_and_are_reused_otherwise():
    rt = FakeRuntime()
    bufs = Buffers(rt)
    first = bufs.get("image", 100)
    assert bufs.get("image", 100) == first and bufs.get("image", 60) == first
    assert len(rt.allocs) == 2                                   # device + pinned host
    bigger = bufs.get("image", 250)
    assert bigger != first and rt.allocs[2:] == [("device", 250), ("host", 250)]
    assert set(rt.live) == set(bigger)                           # the small pair was freed
    bufs.get("masks", 30)
    bufs.close()
    assert not rt.live and not bufs.slots


def test_a_failed_pinned_allocation_frees_its_device_half(monkeypatch):
    import cxrmt.runtime.cuda as cuda

    rt = FakeRuntime()
    rt.cudaMallocHost = lambda n: (2, None)                       # cudaErrorMemoryAllocation
    rt.cudaGetErrorName = lambda e: (0, b"cudaErrorMemoryAllocation")
    monkeypatch.setattr(cuda, "cudart", lambda: rt)
    with pytest.raises(RuntimeError, match="cudaErrorMemoryAllocation"):
        Buffers(rt).get("image", 64)
    assert not rt.live


def test_runners_without_a_device_pipeline_keep_the_host_path(tmp_path):
    with Predictor(affine_model(tmp_path / "m.onnx", SIZE)) as p:
        assert p._device_pipeline is None and p.device == "cpu"


NEEDS_CUDA = pytest.mark.skipif(
    importlib.util.find_spec("cuda") is None or not k.cuda_available(),
    reason="needs a CUDA device and cuda-python")


def _stand_in(tmp_path, layout, task, out_dtype, size=64):
    """A real-CUDA runner (tests/gpu_standin.py) around the closed-form ONNX model."""
    from gpu_standin import StandInEngineRunner

    path = affine_model(tmp_path / "m.onnx", size, layout, task)
    with open_runner(path) as ort:
        info = ort.info
    return StandInEngineRunner(info, path, out_dtype=out_dtype)


@NEEDS_CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("layout,task,out_dtype", [("nchw", "mt", np.float32),
                                                   ("nhwc", "mt", np.float16),
                                                   ("nhwc", "seg", np.float32),
                                                   ("nchw", "bse", np.float16)])
def test_device_pipeline_on_a_gpu_with_a_stand_in_engine(tmp_path, layout, task, out_dtype):
    """Real device memory, stream, events and *_cuda kernels; only the engine is ONNX Runtime."""
    opts = dict(bits_stored=12, invert=True, bone_dtype="uint16", resample="area",
                filter="linear", alpha=90)
    with _stand_in(tmp_path, layout, task, out_dtype) as runner:
        dev = Predictor(runner, **opts)
        twins = Predictor(runner, **opts)          # the same CUDA kernels on host arrays
        twins._device_pipeline = None
        cpu = Predictor(runner, kernel_device="cpu", **opts)
        assert dev._device_pipeline is runner.device_pipeline and dev.device == "cuda"
        shapes = [(300, 240), (2048, 1536), (40, 40), (301, 300)]   # grow, reuse, grow
        for i, shape in enumerate(shapes):
            img = chest(*shape, seed=i)
            a, b, c = dev.run(img), twins.run(img), cpu.run(img)
            np.testing.assert_allclose(a.output, b.output, atol=1e-5)
            for field in ("masks", "labels", "segmentation", "overlay"):
                ref = getattr(b, field)
                if ref is None:
                    assert getattr(a, field) is None and getattr(c, field) is None, field
                    continue
                np.testing.assert_array_equal(getattr(a, field), ref, field)
                assert np.mean(getattr(a, field) != getattr(c, field)) < 1e-3, field
            if task != "seg":
                assert np.abs(a.bone_suppressed.astype(int) - b.bone_suppressed.astype(int)).max() <= 1
                # CPU and CUDA preprocessing differ by ~1e-5, which can move an FP16 output by
                # one step (2^-11 of [-1, 1] is 16 levels of 16 bits) at a few pixels.
                diff = np.abs(a.bone_suppressed.astype(int) - c.bone_suppressed.astype(int))
                assert diff.max() <= (2 if out_dtype == np.float32 else 18)
                assert np.mean(diff > 2) < 1e-3
            assert all(a.timings[s] >= 0 for s in STAGES) and a.timings["inference"] > 0
        assert runner.executed == 3 * len(shapes)


@NEEDS_CUDA
@pytest.mark.cuda
def test_device_pipeline_on_a_gpu_is_thread_safe_and_cleans_up(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with _stand_in(tmp_path, "nchw", "mt", np.float16) as runner:
        p = Predictor(runner, percentile=(2.0, 98.0), clean=True)
        assert p.device == "cuda"
        imgs = [chest(500 + 37 * i, 400 + 11 * i, seed=i) for i in range(6)]
        serial = [p.run(img) for img in imgs]
        with ThreadPoolExecutor(4) as pool:
            parallel = list(pool.map(p.run, imgs * 2))
        for r, s in zip(parallel, serial * 2):
            for field in FIELDS:
                np.testing.assert_array_equal(getattr(r, field), getattr(s, field), field)
        host = Predictor(runner, kernel_device="cpu", percentile=(2.0, 98.0), clean=True)
        ref = host.run(imgs[0])
        assert np.mean(serial[0].labels != ref.labels) < 1e-3
    assert runner.device_pipeline is None and not runner._host    # everything freed


NEEDS_GPU = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("cuda") is None
    or not k.cuda_available(), reason="needs a CUDA device and TensorRT")


@NEEDS_GPU
@pytest.mark.cuda
@pytest.mark.parametrize("layout,task", [("nchw", "mt"), ("nhwc", "mt"), ("nchw", "seg")])
def test_device_pipeline_on_a_gpu_matches_the_host_path(tmp_path, layout, task):
    from cxrmt.export.engine import build_engine

    onnx_path = affine_model(tmp_path / "m.onnx", 64, layout, task)
    engine = str(tmp_path / "m.engine")
    build_engine(onnx_path, engine)
    opts = dict(bits_stored=12, bone_dtype="uint16")
    with open_runner(engine) as runner:
        assert runner.device_pipeline is not None
        dev = Predictor(runner, **opts)
        twins = Predictor(runner, **opts)          # the same CUDA kernels on host arrays
        twins._device_pipeline = None
        cpu = Predictor(runner, kernel_device="cpu", **opts)
        assert dev._device_pipeline is runner.device_pipeline and dev.device == "cuda"
        for i, shape in enumerate([(300, 240), (2048, 1536), (301, 300)]):
            img = chest(*shape, seed=i)
            a, b, c = dev.run(img), twins.run(img), cpu.run(img)
            np.testing.assert_allclose(a.output, b.output, atol=1e-5)
            for field in ("masks", "labels", "segmentation", "overlay"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field), field)
                assert np.mean(getattr(a, field) != getattr(c, field)) < 1e-3, field
            if task == "mt":
                assert np.abs(a.bone_suppressed.astype(int) - b.bone_suppressed.astype(int)).max() <= 1
                assert np.abs(a.bone_suppressed.astype(int) - c.bone_suppressed.astype(int)).max() <= 2
            assert all(a.timings[s] >= 0 for s in STAGES)
