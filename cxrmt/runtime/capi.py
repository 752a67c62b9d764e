"""ctypes bindings of cxrmt's plain-C API (`libcxrmt.so`, header `cxrmt/cxrmt.h`).

The pybind module `cxrmt._core` takes numpy arrays only; the TensorRT device pipeline holds raw
device pointers (the engine's own I/O buffers), so it calls the `*_cuda` twins through these.
The struct mirrors must match the header field for field (tests/test_c_api_ctypes.py compiles a C
program to check sizes and offsets).
"""

import ctypes
from functools import lru_cache

import numpy as np

from cxrmt.kernels import Frame as CoreFrame
from cxrmt.kernels import library_path

i32, f32, vp = ctypes.c_int32, ctypes.c_float, ctypes.c_void_p

OK, INVALID_ARGUMENT, UNSUPPORTED, CUDA_ERROR, INTERNAL = range(5)
DTYPES = {np.dtype(np.uint8): 0, np.dtype(np.uint16): 1, np.dtype(np.float32): 2,
          np.dtype(np.float16): 3}
LAYOUTS = {"nhwc": 0, "nchw": 1}
TASKS = {"mt": 0, "seg": 1, "bse": 2}
BONE_MODES = {"residual": 0, "resize": 1}
RESAMPLES = {"bilinear": 0, "area": 1}
FILTERS = {"point": 0, "linear": 1}
OVERLAY_MODES = {"fill": 0, "outline": 1}
BONE_DTYPES = {"uint8": np.uint8, "uint16": np.uint16}


class Image(ctypes.Structure):
    _fields_ = [("data", vp), ("dtype", i32), ("height", i32), ("width", i32),
                ("row_stride", ctypes.c_int64)]


class PreprocessOptions(ctypes.Structure):
    _fields_ = [("bits_stored", i32), ("invert", i32), ("has_window", i32), ("window_lo", f32),
                ("window_hi", f32), ("use_percentile", i32), ("p_lo", f32), ("p_hi", f32),
                ("layout", i32), ("pad_value", f32)]


class Frame(ctypes.Structure):
    _fields_ = [("height", i32), ("width", i32), ("size", i32), ("pad_top", i32),
                ("pad_bottom", i32), ("pad_left", i32), ("pad_right", i32), ("window_lo", f32),
                ("window_hi", f32), ("invert", i32)]


class DecodeOptions(ctypes.Structure):
    _fields_ = [("task", i32), ("bone_mode", i32), ("resample", i32), ("bone_dtype", i32),
                ("output_layout", i32), ("input_layout", i32), ("output_dtype", i32),
                ("bone_window_lo", f32), ("bone_window_hi", f32)]


class OverlayOptions(ctypes.Structure):
    _fields_ = [("alpha", i32), ("filter", i32), ("mode", i32), ("thickness", i32),
                ("palette", ctypes.c_uint8 * 12)]


STRUCTS = {"cxrmt_image": Image, "cxrmt_preprocess_options": PreprocessOptions,
           "cxrmt_frame": Frame, "cxrmt_decode_options": DecodeOptions,
           "cxrmt_overlay_options": OverlayOptions}

_P = ctypes.POINTER
_SIGNATURES = {
    "cxrmt_api_version": (ctypes.c_int, []),
    "cxrmt_last_error": (ctypes.c_char_p, []),
    "cxrmt_cuda_available": (ctypes.c_int, []),
    "cxrmt_preprocess_options_init": (None, [_P(PreprocessOptions)]),
    "cxrmt_decode_options_init": (None, [_P(DecodeOptions)]),
    "cxrmt_overlay_options_init": (None, [_P(OverlayOptions)]),
    "cxrmt_preprocess": (ctypes.c_int, [_P(Image), i32, _P(PreprocessOptions), vp, _P(Frame)]),
    "cxrmt_decode": (ctypes.c_int, [vp, _P(Frame), _P(DecodeOptions), _P(Image), vp, vp, vp, vp]),
    "cxrmt_overlay": (ctypes.c_int, [_P(Image), _P(Frame), vp, i32, i32, i32, _P(OverlayOptions),
                                     vp]),
}
# Device twins: the host signature plus a cudaStream_t (as void*) at the end.
for _name in ("cxrmt_preprocess", "cxrmt_decode", "cxrmt_overlay"):
    _SIGNATURES[_name + "_cuda"] = (ctypes.c_int, _SIGNATURES[_name][1] + [vp])


@lru_cache(maxsize=None)
def lib(path=None) -> ctypes.CDLL:
    """The C library (by default the one installed beside `cxrmt._core`), with typed functions."""
    if path is None:
        path = library_path()
    cdll = ctypes.CDLL(str(path))
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(cdll, name)
        fn.restype, fn.argtypes = restype, argtypes
    if cdll.cxrmt_api_version() != API_VERSION:   # the structs below are this version's
        raise ImportError(f"{path}: C API version {cdll.cxrmt_api_version()}, these bindings "
                          f"need {API_VERSION}; reinstall cxrmt (a stale libcxrmt.so?)")
    return cdll


def check(status: int, what: str = "cxrmt") -> None:
    """Raise for a non-zero status with the library's message (thread-local, so call this on the
    thread that made the call, before any other cxrmt call)."""
    if status == OK:
        return
    message = (lib().cxrmt_last_error() or b"").decode(errors="replace")
    cls = ValueError if status == INVALID_ARGUMENT else RuntimeError
    raise cls(f"{what}: {message or 'failed with status ' + str(status)}")


def image(ptr: int, dtype, height: int, width: int) -> Image:
    """A densely packed grey image at `ptr` (host or device memory)."""
    return Image(ptr, DTYPES[np.dtype(dtype)], height, width, 0)


API_VERSION = 3        # CXRMT_API_VERSION of the header these mirrors follow (3 adds the pipeline; the
                       # version-2 structs mirrored here are unchanged)
PERCENTILE_FIELD = 2   # CXRMT_PERCENTILE_FIELD: percentiles over the radiograph's field


def preprocess_options(layout: str, window=None, bits_stored=0, invert=False,
                       percentile=None, pad_value=-1.0, field=False) -> PreprocessOptions:
    o = PreprocessOptions()
    lib().cxrmt_preprocess_options_init(ctypes.byref(o))
    o.bits_stored, o.invert, o.pad_value = bits_stored, int(invert), pad_value
    o.layout = LAYOUTS[layout]
    if window is not None:
        o.has_window, (o.window_lo, o.window_hi) = 1, window
    if percentile is not None:
        o.use_percentile, (o.p_lo, o.p_hi) = PERCENTILE_FIELD if field else 1, percentile
    elif field:
        raise ValueError("field: only with a percentile window")
    return o


def decode_options(task: str, layout: str, output_dtype=np.float32, input_layout=None,
                   bone_mode="residual", resample="bilinear", bone_dtype="uint8",
                   bone_window=None) -> DecodeOptions:
    lo, hi = bone_window if bone_window is not None else (0.0, 0.0)
    return DecodeOptions(TASKS[task], _pick(BONE_MODES, bone_mode, "bone_mode"),
                         _pick(RESAMPLES, resample, "resample"),
                         DTYPES[np.dtype(_pick(BONE_DTYPES, bone_dtype, "bone_dtype"))],
                         LAYOUTS[layout], LAYOUTS[input_layout or layout],
                         DTYPES[np.dtype(output_dtype)], lo, hi)


def overlay_options(alpha=128, filter="point", mode="fill", thickness=1,
                    palette=None) -> OverlayOptions:
    o = OverlayOptions()
    lib().cxrmt_overlay_options_init(ctypes.byref(o))   # default palette
    o.alpha, o.thickness = alpha, thickness
    o.filter, o.mode = _pick(FILTERS, filter, "filter"), _pick(OVERLAY_MODES, mode, "mode")
    if palette is not None:
        pal = np.asarray(palette)
        if pal.dtype != np.uint8 or pal.shape != (4, 3):
            raise ValueError("palette: expected a uint8 array of shape (4, 3) (background, right "
                             f"lung, left lung, heart), got {pal.dtype} {pal.shape}")
        o.palette[:] = pal.ravel().tolist()
    return o


def frame_from_core(f) -> Frame:
    """A C frame from a `cxrmt._core.Frame`."""
    return Frame(f.height, f.width, f.size, f.pad_top, f.pad_bottom, f.pad_left, f.pad_right,
                 f.window_lo, f.window_hi, int(f.invert))


def frame_to_core(f: Frame):
    """The `cxrmt._core.Frame` that Predictor and the pybind kernels use."""
    return CoreFrame(f.height, f.width, f.size, f.pad_top, f.pad_bottom, f.pad_left, f.pad_right,
                     f.window_lo, f.window_hi, bool(f.invert))


def _pick(table: dict, value: str, name: str) -> int:
    if value not in table:
        raise ValueError(f"{name}: must be {' or '.join(map(repr, table))}, got {value!r}")
    return table[value]
