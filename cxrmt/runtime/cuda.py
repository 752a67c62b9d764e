"""The few CUDA runtime calls cxrmt needs, through cuda-python (cxrmt[gpu]).

cuda-python returns (error, value...) tuples; `call` turns a non-zero error into RuntimeError.
"""

from cxrmt._optional import require
from cxrmt.errors import DeviceError


def cudart():
    """cuda-python's runtime module (the `cuda.bindings` layout of 12.6+, else the older one)."""
    try:
        from cuda.bindings import runtime
        return runtime
    except ImportError:
        return require("cuda.cudart", "gpu")


def call(result):
    """Unpack a cuda-python result, raising on error."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        rt = cudart()
        name = rt.cudaGetErrorName(err)[1]
        name = name.decode() if isinstance(name, bytes) else name
        raise DeviceError(f"CUDA error {int(err)} ({name})")
    return values[0] if len(values) == 1 else (tuple(values) or None)


def gpu_identity(device: int = 0) -> dict:
    """{"gpu": name, "compute_capability": "8.7"} of a device, for engine cache keys."""
    prop = call(cudart().cudaGetDeviceProperties(device))
    name = prop.name.decode() if isinstance(prop.name, bytes) else str(prop.name)
    return {"gpu": name.split("\x00")[0].strip(),
            "compute_capability": f"{prop.major}.{prop.minor}"}
