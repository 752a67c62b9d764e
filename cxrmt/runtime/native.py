"""The C pipeline (`cxrmt_pipeline_*` in libcxrmt, bound as `cxrmt._core.Pipeline`) from Python.

What a scanner's C program gets, callable here so tests and benchmarks can hold it against
`cxrmt.pipeline.Predictor`. It runs `.onnx` models on ONNX Runtime through ORT's C API when the
core was built with its headers (`build_info()["engines"]`; see README, "C API"), loading the
library of the installed `onnxruntime` wheel, found without importing it.
"""

import glob
import importlib.util
import os

from cxrmt import kernels


def engines() -> dict:
    """{"onnxruntime": bool, "tensorrt": bool}: the C pipeline's runtimes in this build."""
    return dict(kernels.build_info().get("engines", {}))


def onnxruntime_library() -> str | None:
    """Path of the onnxruntime wheel's libonnxruntime.so.1.x, or None when it is not installed."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(folder, "capi", "libonnxruntime.so*")))
        if found:
            return found[-1]
    return None


def open_pipeline(model, device="auto", threads=0, library=None, device_index=0):
    """A `_core.Pipeline` on `model`; `library`: ONNX Runtime's shared library (default: the
    onnxruntime wheel's, else $CXRMT_ONNXRUNTIME_LIBRARY or the loader's libonnxruntime.so.1)."""
    if library is None and not os.environ.get("CXRMT_ONNXRUNTIME_LIBRARY"):
        library = onnxruntime_library()
    return kernels._core.Pipeline(os.fspath(model), device=device, device_index=device_index,
                                  threads=threads, library=library)
