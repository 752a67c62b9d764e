"""TensorRT backend (cxrmt[gpu]): engine + sidecar check, pinned host buffers, one CUDA stream,
`set_tensor_address` + `execute_async_v3`.

When the compiled core has CUDA, `runner.device_pipeline` (a `DevicePipeline`) also runs
preprocessing and decoding on the device around the engine's own buffers; otherwise it is None and
`Predictor` uses host arrays.

The sidecar (`model.engine.json`, written by `cxrmt export --engine`) is checked before the
engine is deserialised, so an engine from another GPU or TensorRT version fails with the command
that rebuilds it instead of TensorRT's generic deserialisation error.
"""

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from cxrmt import kernels
from cxrmt._optional import require
from cxrmt.errors import DeviceError
from cxrmt.runtime import engine_cache as cache

from . import cuda
from .base import Runner, info_from_io
from .device_pipeline import DevicePipeline


@dataclass(frozen=True)
class TensorSpec:
    name: str
    is_input: bool
    shape: tuple
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize


def io_specs(engine, trt) -> list:
    """The engine's I/O tensors; cxrmt engines have one static input and one output."""
    specs = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            raise ValueError(f"engine tensor {name!r} has a dynamic shape {shape}; cxrmt engines "
                             "are built from static-shape ONNX (cxrmt export)")
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        specs.append(TensorSpec(name, is_input, shape,
                                np.dtype(trt.nptype(engine.get_tensor_dtype(name)))))
    n_in = sum(s.is_input for s in specs)
    if n_in != 1 or len(specs) != 2:
        raise ValueError(f"expected 1 input and 1 output, the engine has {n_in} inputs and "
                         f"{len(specs) - n_in} outputs")
    return sorted(specs, key=lambda s: not s.is_input)   # input first


def host_view(ptr: int, spec: TensorSpec) -> np.ndarray:
    """A numpy array over `spec.nbytes` of pinned host memory at `ptr`."""
    raw = (ctypes.c_byte * spec.nbytes).from_address(int(ptr))
    return np.frombuffer(raw, dtype=spec.dtype).reshape(spec.shape)


class TensorRTRunner(Runner):
    on_gpu = True
    device_pipeline = None

    def __init__(self, path, device=0, task=None):
        trt = require("tensorrt", "gpu")
        self.path = path
        self._rt = cuda.cudart()
        cuda.call(self._rt.cudaSetDevice(device))
        sidecar = cache.check_engine(path, trt.__version__, cuda.gpu_identity(device))
        self._logger = trt.Logger(trt.Logger.WARNING)
        with open(path, "rb") as fh:
            self.engine = trt.Runtime(self._logger).deserialize_cuda_engine(fh.read())
        if self.engine is None:
            raise cache.EngineMismatchError(
                f"TensorRT {trt.__version__} could not load {path}; rebuild it with "
                f"`{cache.rebuild_command(sidecar, path)}`")
        self.context = self.engine.create_execution_context()
        self.specs = io_specs(self.engine, trt)
        self._lock = threading.Lock()
        self._allocate()
        inp, out = self.specs
        meta = {**sidecar["model"], "cxrmt.precision": sidecar["key"]["precision"]}
        self.info = info_from_io(inp.shape, out.shape, meta, inp.name, out.name, task)
        self.device_pipeline = self._device_pipeline(device)

    def _device_pipeline(self, device):
        """The device-resident pipeline, or None where it cannot run: a core built without CUDA,
        a batch above 1 or a non-float32 input (the preprocess kernel writes float32)."""

        inp, out = self.specs
        if (not kernels.cuda_available() or self.info.batch != 1 or inp.dtype != np.float32
                or out.dtype not in (np.float32, np.float16)):
            return None
        return DevicePipeline(self._rt, self.stream, self._lock, self._execute, self.info,
                              int(self._device[0]), int(self._device[1]), self._views[1], device)

    def _execute(self) -> None:
        """Queue the engine on the stream (caller holds the lock)."""
        if not self.context.execute_async_v3(stream_handle=int(self.stream)):
            raise DeviceError(f"{self.path}: TensorRT execute_async_v3 failed (see the TensorRT "
                              "log above)")

    def _allocate(self) -> None:
        """One pinned host and one device buffer per tensor, bound once to the context."""
        self._host, self._device, self._views = [], [], []
        self.stream = cuda.call(self._rt.cudaStreamCreate())
        for spec in self.specs:
            h = cuda.call(self._rt.cudaMallocHost(spec.nbytes))
            d = cuda.call(self._rt.cudaMalloc(spec.nbytes))
            self._host.append(h)
            self._device.append(d)
            self._views.append(host_view(h, spec))
            self.context.set_tensor_address(spec.name, int(d))

    def _infer(self, x: np.ndarray) -> np.ndarray:
        rt, (inp, out) = self._rt, self.specs
        kind_h2d = rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        kind_d2h = rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        with self._lock:  # one context and one set of buffers
            np.copyto(self._views[0], x, casting="same_kind")
            cuda.call(rt.cudaMemcpyAsync(self._device[0], self._host[0], inp.nbytes, kind_h2d,
                                         self.stream))
            self._execute()
            cuda.call(rt.cudaMemcpyAsync(self._host[1], self._device[1], out.nbytes, kind_d2h,
                                         self.stream))
            cuda.call(rt.cudaStreamSynchronize(self.stream))
            return self._views[1].astype(np.float32, copy=True)

    def close(self) -> None:
        if getattr(self, "_rt", None) is None or not hasattr(self, "_host"):
            return
        rt = self._rt
        if getattr(self, "device_pipeline", None) is not None:
            self.device_pipeline.close()
            self.device_pipeline = None
        for h in self._host:
            rt.cudaFreeHost(h)
        for d in self._device:
            rt.cudaFree(d)
        rt.cudaStreamDestroy(self.stream)
        self._host, self._device, self._rt = [], [], None
        self.context = self.engine = None
