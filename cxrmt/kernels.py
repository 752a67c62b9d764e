"""Image kernels of the compiled core (preprocess, decode, colourise, overlay, cleanup) and the
post-processing after them (relabel, bone_to_input_depth, measure), and PNG row unfiltering for
cxrmt.io.png's reader.

Thin re-export of :mod:`cxrmt._core` with a clear message when the extension is missing, the
default palette, and the paths a C/C++ project needs to link the C API.
"""

from pathlib import Path

import numpy as np

from cxrmt import contract

try:
    from cxrmt import _core
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        "cxrmt's compiled core (cxrmt._core) is missing: did you forget to build? "
        "Install the package with `pip install .` (a plain source checkout has no compiled module)."
    ) from exc

Frame = _core.Frame
build_info = _core.build_info
cuda_available = _core.cuda_available
resolve_window = _core.resolve_window
preprocess = _core.preprocess
decode = _core.decode
colourise = _core.colourise
overlay = _core.overlay
cleanup = _core.cleanup
relabel = _core.relabel
png_unfilter = _core.png_unfilter
bone_to_input_depth = _core.bone_to_input_depth
measure = _core.measure
# Raw (device) pointer twins, for buffers numpy does not own (the TensorRT engine's).
preprocess_device = _core.preprocess_device
decode_device = _core.decode_device
overlay_device = _core.overlay_device

# Rows in label order: background, right lung, left lung, heart (the paper's colours).
PALETTE = np.array(contract.PALETTE, dtype=np.uint8)

# Installed files sit beside the compiled module (also in editable installs).
_HERE = Path(_core.__file__).resolve().parent


def include_dir() -> Path:
    """Folder holding ``cxrmt/cxrmt.h`` (the C API)."""
    return _HERE / "include"


def library_path() -> Path:
    """The shared library that implements the C API."""
    return _HERE / "lib" / "libcxrmt.so"


def cmake_dir() -> Path:
    """Pass as ``-Dcxrmt_DIR=...`` to ``find_package(cxrmt)``; link ``cxrmt::cxrmt``."""
    return _HERE / "lib" / "cmake" / "cxrmt"
