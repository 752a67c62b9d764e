"""A TensorRT runner whose "engine" is not TensorRT, for GPUs without TensorRT installed.

`StandInEngineRunner` is `TensorRTRunner` with the engine swapped out and everything else real:
cuda-python allocations, pinned buffers, the stream, `_infer`, `close`, and the device pipeline
with the compiled `*_cuda` kernels on real device pointers. Its engine is either an ONNX Runtime
session run in stream order (download the input buffer, run on the host, upload the output) or,
with `onnx_path=None`, nothing at all: the output buffer keeps a fixed tensor, so a benchmark
times everything around the engine.
"""

import threading

import numpy as np

from cxrmt.runtime import cuda, open_runner
from cxrmt.runtime.trt_backend import TensorRTRunner, TensorSpec


class _Context:
    """The one IExecutionContext call `TensorRTRunner._allocate` makes."""

    def __init__(self):
        self.addresses = {}

    def set_tensor_address(self, name, ptr):
        self.addresses[name] = ptr


class StandInEngineRunner(TensorRTRunner):
    def __init__(self, info, onnx_path=None, output=None, out_dtype=np.float32, device=0):
        self._rt = cuda.cudart()
        cuda.call(self._rt.cudaSetDevice(device))
        self.ort = open_runner(onnx_path, device="cpu") if onnx_path else None
        self.context, self.engine = _Context(), None
        out_shape = (1, info.size, info.size, info.output_channels) if info.layout == "nhwc" \
            else (1, info.output_channels, info.size, info.size)
        self.specs = [TensorSpec(info.input_name, True, info.input_shape, np.dtype(np.float32)),
                      TensorSpec(info.output_name, False, out_shape, np.dtype(out_dtype))]
        self._lock = threading.Lock()
        self._allocate()
        self.info = info
        if output is not None:   # the fixed output of the null engine
            self._upload(1, np.asarray(output, out_dtype).reshape(out_shape))
        self.executed = 0
        self.device_pipeline = self._device_pipeline(device)

    def _upload(self, i, array):
        np.copyto(self._views[i], array)
        cuda.call(self._rt.cudaMemcpy(self._device[i], self._host[i], self.specs[i].nbytes,
                                      self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice))

    def _execute(self):
        """Stream-ordered stand-in for `execute_async_v3` (the caller holds the lock)."""
        self.executed += 1
        if self.ort is None:
            return
        rt, (inp, out) = self._rt, self.specs
        x = np.empty(inp.shape, np.float32)
        cuda.call(rt.cudaMemcpyAsync(x.ctypes.data, self._device[0], inp.nbytes,
                                     rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))
        cuda.call(rt.cudaStreamSynchronize(self.stream))
        y = np.ascontiguousarray(self.ort.run(x).astype(out.dtype))
        cuda.call(rt.cudaMemcpyAsync(self._device[1], y.ctypes.data, out.nbytes,
                                     rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))
        cuda.call(rt.cudaStreamSynchronize(self.stream))   # `y` is pageable and goes out of scope

    def close(self):
        super().close()
        if self.ort is not None:
            self.ort.close()
