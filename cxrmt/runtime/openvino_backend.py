"""OpenVINO backend (CPU plugin): runs a cxrmt `.onnx` or an OpenVINO IR (`.xml` + `.bin`).

Metadata: OpenVINO's ONNX reader keeps an ONNX model's metadata_props in the model's rt_info
under "framework"; an IR written by `cxrmt export --openvino` keeps the same cxrmt.* keys under
rt_info "cxrmt" (`IR_SECTION`). Either way `info.meta` holds the model's cxrmt.* keys.

Threads: one `CompiledModel` (thread-safe) and one infer request per calling thread (an infer
request is not), created on a thread's first `run`. Requests from several threads queue on the
compiled model's streams: one under the LATENCY hint used here, which spends every core on one
inference at a time.

Precision hint: "f32", "bf16", or "auto" = bf16 where the CPU has AVX512-BF16 or AMX (the
plugin then runs the FP32 parts of the graph in bf16), else f32. "bf16" on a CPU without them
is an error, not a quiet f32 run.
"""

import os
import threading

import numpy as np

from cxrmt._optional import require

from .base import PREFIX, Runner, info_from_io
from .cpu import cpu_has_bf16

IR_SECTION = "cxrmt"             # rt_info section of an exported IR that holds cxrmt.* metadata
PRECISIONS = ("auto", "f32", "bf16")


def resolve_precision(precision: str) -> str:
    """The plugin's inference precision for `precision` ("auto", "f32", "bf16")."""
    if precision not in PRECISIONS:
        raise ValueError(f"OpenVINO precision must be one of {', '.join(PRECISIONS)} "
                         f"(got {precision!r})")
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "f32"
    if precision == "bf16" and not cpu_has_bf16():
        raise ValueError("precision 'bf16' needs a CPU with AVX512-BF16 or AMX, and this one "
                         "has neither; use 'f32' (or 'auto')")
    return precision


def model_metadata(model) -> dict:
    """cxrmt.* metadata of an openvino.Model: an IR's own section ("cxrmt") where it has one
    (its "framework" section still holds the source ONNX's, e.g. its weight storage), else what
    the ONNX reader put under "framework"."""
    info = model.get_rt_info()
    if IR_SECTION in info:
        return {PREFIX + k: v.astype(str) for k, v in info[IR_SECTION].items()}
    frame = info["framework"] if "framework" in info else {}
    return {k: v.astype(str) for k, v in frame.items() if k.startswith(PREFIX)}


def set_model_metadata(model, meta: dict) -> None:
    """Write `meta` (cxrmt.* keys) into the rt_info section an IR keeps, for `model_metadata`."""
    for key, value in meta.items():
        if not key.startswith(PREFIX):
            raise ValueError(f"metadata key {key!r} is not a cxrmt key ({PREFIX}*)")
        model.set_rt_info(str(value), [IR_SECTION, key[len(PREFIX):]])


def read_model(path):
    """(openvino module, openvino.Model) of a cxrmt .onnx or .xml file."""
    ov = require("openvino", "openvino")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    if path.lower().endswith(".xml") and not os.path.isfile(os.path.splitext(path)[0] + ".bin"):
        raise FileNotFoundError(f"{path}: its weights {os.path.splitext(path)[0]}.bin are missing")
    try:
        return ov, ov.Core().read_model(path)
    except RuntimeError as exc:
        raise ValueError(f"{path}: OpenVINO cannot read this model: {exc}") from None


def _static(port) -> tuple:
    """A port's shape with -1 for each dynamic dimension (info_from_io refuses those)."""
    return tuple(d.get_length() if d.is_static else -1 for d in port.get_partial_shape())


def read_metadata(path) -> dict:
    """cxrmt.* metadata of a .onnx or .xml file, read through OpenVINO."""
    return model_metadata(read_model(os.fspath(path))[1])


class OpenVinoRunner(Runner):
    def __init__(self, path, device="auto", threads=0, task=None, precision="auto"):
        if device not in ("auto", "cpu"):
            raise ValueError(f"the OpenVINO backend runs on the CPU (device auto or cpu, got "
                             f"{device!r}); for an NVIDIA GPU use onnxruntime-gpu or TensorRT")
        self.inference_precision = resolve_precision(precision)
        ov, model = read_model(path)
        config = {"INFERENCE_PRECISION_HINT": self.inference_precision,
                  "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        meta = model_metadata(model)
        inp, out = model.inputs[0], model.outputs[0]
        self.info = info_from_io(_static(inp), _static(out), meta, inp.get_any_name(),
                                 out.get_any_name(), task)
        try:
            self.compiled = ov.Core().compile_model(model, "CPU", config)
        except RuntimeError as exc:
            raise ValueError(f"{path}: OpenVINO's CPU plugin cannot compile this model "
                             f"({str(exc).strip().splitlines()[-1][:300]}); an INT8 model for "
                             "OpenVINO is made by `cxrmt export MODEL --openvino OUT.xml --int8`"
                             ) from None
        self._local = threading.local()

    def _request(self):
        req = getattr(self._local, "request", None)
        if req is None:
            req = self._local.request = self.compiled.create_infer_request()
        return req

    def _infer(self, x: np.ndarray) -> np.ndarray:
        # share_outputs=False (the default) copies: the next run reuses the request's buffers.
        return self._request().infer({0: x})[0]

    def close(self) -> None:
        self.compiled = None
        self._local = threading.local()
