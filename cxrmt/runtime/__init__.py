"""Inference backends behind one interface, chosen by the model file's suffix.

`open_runner(path)` returns a context-managed runner with `.info` (a `ModelInfo`) and
`.run(x)`. Each backend module is imported only when its suffix is used, so ONNX inference never
loads TensorFlow or TensorRT.

An `.onnx` model runs on ONNX Runtime (the suffix's own backend: exact FP32, the reference every
export check compares with) or on OpenVINO (`open_runner(path, backend="openvino")`, or
`Predictor(path, backend=...)`). `backend="auto"` picks the fastest installed backend for this
machine by `AUTO_RULE`, measured on the shipped model (README, "OpenVINO"). A caller that
opens models by suffix alone asks `backend_name(path, wanted)`; one that passes `backend=` on
asks `backend_name(path, wanted, choose=True)`.
"""

import importlib
import importlib.util
import os
from typing import TYPE_CHECKING

from cxrmt._optional import lazy_names
from cxrmt.contract import PREFIX
from cxrmt.errors import CxrmtError, ModelError

# name -> the submodule that defines it, loaded on first use (PEP 562): choosing a backend and
# the CLI's parser need no numpy, so `cxrmt infer` can start loading the model sooner
_LAZY = {"ModelInfo": "base", "Runner": "base"}
if TYPE_CHECKING:
    from .base import ModelInfo, Runner

# suffix -> (module, class, extra that installs its dependencies)
BACKENDS = {
    ".onnx": ("cxrmt.runtime.ort_backend", "OnnxRuntimeRunner", None),
    ".xml": ("cxrmt.runtime.openvino_backend", "OpenVinoRunner", "openvino"),
    ".engine": ("cxrmt.runtime.trt_backend", "TensorRTRunner", "gpu"),
    ".plan": ("cxrmt.runtime.trt_backend", "TensorRTRunner", "gpu"),
    ".keras": ("cxrmt.runtime.tf_backend", "KerasRunner", "train"),
    "savedmodel": ("cxrmt.runtime.tf_backend", "SavedModelRunner", "train"),
}

# user-facing backend name -> the BACKENDS keys it runs
# (the first name listing a key is that suffix's own backend)
BACKEND_NAMES = {"onnxruntime": (".onnx",), "tensorrt": (".engine", ".plan"),
                 "tensorflow": (".keras", "savedmodel"), "openvino": (".xml", ".onnx")}

AUTO_RULE = ("an FP32 .onnx (or an INT8 one shaped for OpenVINO) on the CPU runs on OpenVINO "
             "when it is installed, else on ONNX Runtime; other .onnx models (FP16, INT8 in "
             "the sub-pixel form made for ONNX Runtime), a CUDA onnxruntime or device='cuda' "
             "on ONNX Runtime; other suffixes on their own backend")

__all__ = ["AUTO_RULE", "BACKENDS", "BACKEND_NAMES", "ModelInfo", "Runner", "backend_key",
           "backend_name", "open_runner"]


def backend_name(path, wanted="auto", device: str = "auto", choose: bool = False) -> str:
    """The backend that runs `path`. `choose=True`, what `open_runner(path, backend=wanted,
    device=device)` runs: None = the suffix's own ("onnxruntime", "tensorrt", "tensorflow",
    "openvino"), "auto" = AUTO_RULE's choice, else `wanted` where that backend runs the suffix.
    `choose=False`, for callers that open a model by its suffix alone (`Predictor(path)` without
    `backend=`): the suffix's own, and `wanted` must be "auto" or that one."""
    key = backend_key(path)
    own = _own_backend(key)
    if wanted is None or (wanted == "auto" and not choose):
        return own
    if wanted == "auto":
        return _auto_backend(path, key, own, device)
    if wanted not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {wanted!r}; choose auto or {', '.join(BACKEND_NAMES)}")
    keys = tuple(k for k in BACKEND_NAMES[wanted] if choose or _own_backend(k) == wanted)
    if key not in keys:
        hint = {"tensorrt": "build an engine with `cxrmt export MODEL --engine OUT.engine`",
                "onnxruntime": "export one with `cxrmt export MODEL --onnx OUT.onnx`",
                "tensorflow": "pass the trained .keras generator",
                "openvino": "convert one with `cxrmt export MODEL --openvino OUT.xml`"}[wanted]
        raise ValueError(f"{os.fspath(path)} is a {own} model; --backend {wanted} runs "
                         f"{'/'.join(keys)} models ({hint})")
    return wanted


def _own_backend(key: str) -> str:
    return next(n for n, keys in BACKEND_NAMES.items() if key in keys)


def _auto_backend(path, key: str, own: str, device: str) -> str:
    """AUTO_RULE: OpenVINO for an FP32 .onnx on the CPU where it is installed."""
    if key != ".onnx" or device == "cuda" or importlib.util.find_spec("openvino") is None:
        return own
    if device == "auto":
        import onnxruntime as ort  # a CUDA-capable onnxruntime means the GPU
        if "CUDAExecutionProvider" in ort.get_available_providers():
            return own
    from .metadata import read_onnx_metadata

    meta = read_onnx_metadata(path)   # a protobuf scan: no second model load
    for_openvino = (meta.get(PREFIX + "precision", "fp32") == "fp32"
                    or meta.get(PREFIX + "int8_target") == "openvino")
    return "openvino" if for_openvino else own


def backend_key(path) -> str:
    """The BACKENDS key of a model path: its suffix, or "savedmodel" for a SavedModel folder."""
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
        raise ValueError(f"{path}: a folder, but not a TensorFlow SavedModel (no saved_model.pb)")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in BACKENDS:
        known = ", ".join(k for k in BACKENDS if k.startswith("."))
        raise ValueError(f"{path}: unknown model type {suffix or '(no suffix)'!r}; cxrmt runs "
                         f"{known} files and SavedModel folders")
    return suffix


def open_runner(path, backend=None, **options) -> "Runner":
    """Load `path` on `backend` (None: the suffix's own; "auto": AUTO_RULE; or a name from
    BACKEND_NAMES that runs this suffix); options go to that runner."""
    key = backend_key(path)
    if key != "savedmodel" and not os.path.isfile(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such model file")
    name = backend_name(path, backend, options.get("device", "auto"), choose=True)
    # another backend than the suffix's own: the runner of that backend's own suffix
    module, cls, _ = BACKENDS[key if name == _own_backend(key) else BACKEND_NAMES[name][0]]
    runner = getattr(importlib.import_module(module), cls)
    try:
        opened = runner(os.fspath(path), **options)
        opened.path = os.fspath(path)   # named in errors at inference time
        return opened
    except (CxrmtError, ImportError, TypeError, OSError, MemoryError):
        raise
    except ValueError as exc:   # the runner's checks of what it read: layout, task, size
        raise ModelError(path, str(exc)) from exc
    except Exception as exc:    # the backend's own loader: a truncated or non-model file
        raise ModelError(path, f"not a model {name} can load "
                               f"({type(exc).__name__}: {exc})") from exc


__getattr__ = lazy_names(__name__, _LAZY)
