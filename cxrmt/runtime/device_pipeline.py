"""Device-resident preprocessing, inference and decoding for TensorRT engines.

The radiograph crosses PCIe once each way: upload the raw image -> `kernels.preprocess_device`
writes straight into the engine's input buffer -> `execute_async_v3` -> `kernels.decode_device`
reads the engine's output buffer -> `kernels.overlay_device` -> download masks, labels, bone-suppressed image, overlay (and the
model-size raw output, which `Result.output` and the NaN check need) -> one stream sync.
"""

import ctypes
import time

import numpy as np

from cxrmt import kernels

from . import cuda

BONE_DTYPES = ("uint8", "uint16")


def _view(ptr: int, dtype, shape) -> np.ndarray:
    """A numpy array over pinned host memory at `ptr`."""
    dtype = np.dtype(dtype)
    raw = (ctypes.c_byte * (int(np.prod(shape)) * dtype.itemsize)).from_address(int(ptr))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


class Buffers:
    """Named device buffers, each with a pinned host twin of the same size. A buffer grows when a
    larger image needs more bytes and is reused otherwise: cudaMalloc and cudaMallocHost
    synchronise the device and cost more than the kernels of a whole image."""

    def __init__(self, rt):
        self.rt = rt
        self.slots = {}   # name -> (capacity in bytes, device pointer, host pointer)

    def get(self, name: str, nbytes: int) -> tuple:
        """(device, host) pointers of at least `nbytes`."""
        capacity, dev, host = self.slots.get(name, (0, 0, 0))
        if nbytes > capacity:
            self.free(name)
            dev = cuda.call(self.rt.cudaMalloc(nbytes))
            try:
                host = cuda.call(self.rt.cudaMallocHost(nbytes))
            except Exception:
                self.rt.cudaFree(dev)
                raise
            self.slots[name] = (nbytes, dev, host)
        return dev, host

    def free(self, name: str) -> None:
        if name in self.slots:
            _, dev, host = self.slots.pop(name)
            self.rt.cudaFree(dev)
            self.rt.cudaFreeHost(host)

    def close(self) -> None:
        for name in list(self.slots):
            self.free(name)


def check_values(pixels: np.ndarray, bits_stored: int) -> None:
    """The value checks of the host preprocess, which the device kernel skips."""
    if pixels.dtype == np.float32:
        if not np.isfinite(pixels).all():
            raise ValueError("image: contains NaN or infinite values")
    elif bits_stored and int(pixels.max()) > (1 << bits_stored) - 1:
        raise ValueError(f"image: value {int(pixels.max())} exceeds bits_stored={bits_stored} "
                         f"(max {(1 << bits_stored) - 1})")


class DevicePipeline:
    """One radiograph through preprocess -> engine -> decode -> overlay on the runner's stream.

    `execute()` queues the engine on `stream`, reading `input_ptr` (float32, batch 1, layout
    `info.layout`) and writing `output_ptr`; `output_host` is a pinned host view of the output
    tensor (float32 or float16). Every run holds `lock`, the runner's own, because the context
    and I/O buffers are shared with `runner.run`. `api` holds preprocess_device, decode_device
    and overlay_device (default: cxrmt.kernels; tests pass a stand-in).
    """

    def __init__(self, rt, stream, lock, execute, info, input_ptr: int, output_ptr: int,
                 output_host: np.ndarray, device: int = 0, api=None):
        self.rt, self.stream, self.lock, self.execute, self.info = rt, stream, lock, execute, info
        self.input_ptr, self.output_ptr, self.output_host = input_ptr, output_ptr, output_host
        self.device, self.api = device, api if api is not None else kernels
        self._stream_arg = int(stream)
        self.buffers = Buffers(rt)
        self.events = [cuda.call(rt.cudaEventCreate()) for _ in range(4)]

    def run(self, pixels, window=None, *, percentile=None, field=False, bits_stored=0,
            invert=False, bone_mode="residual", resample="bilinear", bone_dtype="uint8",
            bone_window=None, overlay=None) -> dict:
        """All outputs of one 2-D image (uint8, uint16 or float32) as host arrays.

        Returns masks, labels, bone_suppressed, overlay (None where the task, or `overlay=None`, leaves them
        out), output (the raw model output as float32, batch axis kept), frame (a
        `cxrmt.kernels.Frame`) and timings in ms (preprocess, inference, decode; device time from
        CUDA events plus the host work around it). `overlay`: kernels.overlay's keyword options.
        """
        t0 = time.perf_counter()
        # The device kernel needs the window up front: resolve it (percentiles too) on the host.
        window = kernels.resolve_window(pixels, bits_stored, invert, window, percentile, field,
                                        self.info.size)
        pixels = np.asarray(pixels)
        check_values(pixels, bits_stored)
        info, (h, w) = self.info, pixels.shape
        seg, bone = info.task != "bse", info.task != "seg"
        if bone_dtype not in BONE_DTYPES:
            raise ValueError(f"bone_dtype: must be 'uint8' or 'uint16', got {bone_dtype!r}")
        draw = seg and overlay is not None
        bone_type = np.dtype(bone_dtype)
        shapes = {"masks": ((3, h, w), np.uint8) if seg else None,
                  "labels": ((h, w), np.uint8) if seg else None,
                  "bone_suppressed": ((h, w), bone_type) if bone else None,
                  "overlay": ((h, w, 3), np.uint8) if draw else None}
        outputs = {k: v for k, v in shapes.items() if v is not None}
        rt, api, s = self.rt, self.api, self._stream_arg
        h2d = rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        ev = self.events
        with self.lock:
            cuda.call(rt.cudaSetDevice(self.device))   # the calling thread may be a new one
            img_dev, img_host = self.buffers.get("image", pixels.nbytes)
            bufs = {k: self.buffers.get(k, int(np.prod(shape)) * np.dtype(dt).itemsize)
                    for k, (shape, dt) in outputs.items()}
            np.copyto(_view(img_host, pixels.dtype, (h, w)), pixels)
            t1 = time.perf_counter()
            cuda.call(rt.cudaEventRecord(ev[0], self.stream))
            cuda.call(rt.cudaMemcpyAsync(img_dev, img_host, pixels.nbytes, h2d, self.stream))
            frame = api.preprocess_device(img_dev, pixels.dtype, h, w, info.size, self.input_ptr,
                                          window=window, bits_stored=bits_stored, invert=invert,
                                          layout=info.layout, stream=s)
            cuda.call(rt.cudaEventRecord(ev[1], self.stream))
            self.execute()
            cuda.call(rt.cudaEventRecord(ev[2], self.stream))
            dev = {k: bufs[k][0] if k in bufs else 0 for k in shapes}
            api.decode_device(self.output_ptr, self.output_host.dtype, frame, task=info.task,
                              layout=info.layout, image=img_dev, image_dtype=pixels.dtype,
                              model_input=self.input_ptr, bone_mode=bone_mode, resample=resample,
                              bone_dtype=bone_dtype, bone_window=bone_window, masks=dev["masks"],
                              labels=dev["labels"], bone_suppressed=dev["bone_suppressed"],
                              stream=s)
            if draw:
                api.overlay_device(img_dev, pixels.dtype, frame, dev["labels"], dev["overlay"],
                                   **overlay, stream=s)
            cuda.call(rt.cudaMemcpyAsync(self.output_host.ctypes.data, self.output_ptr,
                                         self.output_host.nbytes, d2h, self.stream))
            views = {}
            for k, (shape, dt) in outputs.items():
                views[k] = _view(bufs[k][1], dt, shape)
                cuda.call(rt.cudaMemcpyAsync(bufs[k][1], bufs[k][0], views[k].nbytes, d2h,
                                             self.stream))
            cuda.call(rt.cudaEventRecord(ev[3], self.stream))
            cuda.call(rt.cudaStreamSynchronize(self.stream))
            t2 = time.perf_counter()
            result = {k: views[k].copy() if k in views else None for k in shapes}
            result["output"] = self.output_host.astype(np.float32, copy=True)
            device_ms = [cuda.call(rt.cudaEventElapsedTime(a, b)) for a, b in zip(ev, ev[1:])]
        result["frame"] = frame
        host_ms = (t1 - t0) * 1e3, (time.perf_counter() - t2) * 1e3
        result["timings"] = {"preprocess": host_ms[0] + device_ms[0], "inference": device_ms[1],
                             "decode": device_ms[2] + host_ms[1]}
        return result

    def close(self) -> None:
        self.buffers.close()
        for e in self.events:
            self.rt.cudaEventDestroy(e)
        self.events = []
