"""Inference backends behind one interface, chosen by the model file's suffix.

`open_runner(path)` returns a context-managed runner with `.info` (a `ModelInfo`) and
`.run(x)`. Each backend module is imported only when its suffix is used, so ONNX inference never
loads TensorFlow or TensorRT.
"""

import importlib
import os

from cxrmt.errors import CxrmtError, ModelError

from .base import ModelInfo, Runner

# suffix -> (module, class, extra that installs its dependencies)
BACKENDS = {
    ".onnx": ("cxrmt.runtime.ort_backend", "OnnxRuntimeRunner", None),
    ".engine": ("cxrmt.runtime.trt_backend", "TensorRTRunner", "gpu"),
    ".plan": ("cxrmt.runtime.trt_backend", "TensorRTRunner", "gpu"),
    ".keras": ("cxrmt.runtime.tf_backend", "KerasRunner", "train"),
    "savedmodel": ("cxrmt.runtime.tf_backend", "SavedModelRunner", "train"),
}

# user-facing backend name -> the BACKENDS keys it runs
BACKEND_NAMES = {"onnxruntime": (".onnx",), "tensorrt": (".engine", ".plan"),
                 "tensorflow": (".keras", "savedmodel")}

__all__ = ["BACKENDS", "BACKEND_NAMES", "ModelInfo", "Runner", "backend_key", "backend_name",
           "open_runner"]


def backend_name(path, wanted: str = "auto") -> str:
    """The backend that runs `path` ("onnxruntime", "tensorrt", "tensorflow"); with `wanted`
    other than "auto", an error unless that backend is the one the file needs."""
    key = backend_key(path)
    name = next(n for n, keys in BACKEND_NAMES.items() if key in keys)
    if wanted not in ("auto", name):
        if wanted not in BACKEND_NAMES:
            raise ValueError(f"unknown backend {wanted!r}; choose auto or "
                             f"{', '.join(BACKEND_NAMES)}")
        hint = {"tensorrt": "build an engine with `cxrmt export MODEL --engine OUT.engine`",
                "onnxruntime": "export one with `cxrmt export MODEL --onnx OUT.onnx`",
                "tensorflow": "pass the trained .keras generator"}[wanted]
        raise ValueError(f"{os.fspath(path)} is a {name} model; --backend {wanted} runs "
                         f"{'/'.join(BACKEND_NAMES[wanted])} models ({hint})")
    return name


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


def open_runner(path, **options) -> Runner:
    """Load `path` with the backend its suffix selects; options go to that runner."""
    key = backend_key(path)
    if key != "savedmodel" and not os.path.isfile(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such model file")
    module, cls, _ = BACKENDS[key]
    runner = getattr(importlib.import_module(module), cls)
    try:
        return runner(os.fspath(path), **options)
    except (CxrmtError, ImportError, TypeError):
        raise
    except ValueError as exc:   # the runner's checks of what it read: layout, task, size
        raise ModelError(path, str(exc)) from exc
    except Exception as exc:    # the backend's own loader: a truncated or non-model file
        raise ModelError(path, f"not a model {backend_name(path)} can load "
                               f"({type(exc).__name__}: {exc})") from exc
