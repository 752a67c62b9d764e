"""The intensity window that feeds the network: one rule for training, validation, `cxrmt infer`,
the Predictor and the exports' metadata.

Modes:
  "auto"   the robust window (default): the 1st and 99th percentiles of the radiograph's field,
           that is the image without a 5 % margin on each side and without the field's lowest and
           highest values (padding, saturated collimation or detector borders, burnt-in white
           text). It depends on the image, not on how the file happened to be windowed, so a
           dark export, a bright one and a 12-bit original feed the network alike.
  "full"   the full range of the file (its dtype, bits_stored or a Radiograph's white): the
           behaviour before model v2.
  (lo, hi) an explicit window in the file's values.
  percentile=(p_lo, p_hi): percentiles over the whole image.

Whatever window feeds the network, the bone-suppressed image comes back in the input's own
scale: decoding writes it in the full-range window (`full_window`).
"""

import json
import os

import numpy as np

from cxrmt import kernels

AUTO_PERCENTILE = (1.0, 99.0)
MODES = ("auto", "full")


def _is_auto(window) -> bool:
    return window is None or (isinstance(window, str) and window == "auto")


def preprocess_args(window="auto", percentile=None, white=None) -> dict:
    """Keyword arguments of `kernels.preprocess` / `resolve_window` for a window choice.
    `white`: a Radiograph's full-scale value (None: the dtype's or bits_stored's range)."""
    if percentile is not None:
        if not _is_auto(window):
            raise ValueError("give a window or a percentile window, not both")
        return {"percentile": tuple(percentile)}
    if _is_auto(window):
        return {"percentile": AUTO_PERCENTILE, "field": True}
    if isinstance(window, str):
        if window != "full":
            raise ValueError(f"window must be 'auto', 'full' or (lo, hi) (got {window!r})")
        return {"window": (0.0, float(white))} if white is not None else {}
    lo, hi = window
    return {"window": (float(lo), float(hi))}


def full_window(pixels: np.ndarray, white=None, bits_stored: int = 0) -> tuple:
    """The full range of an image, (lo, hi) in its own values: where the bone image is written."""
    if white is not None:
        return (0.0, float(white))
    return kernels.resolve_window(pixels, bits_stored=bits_stored)


def describe(window="auto", percentile=None) -> str:
    """The window as the metadata and JSON records write it."""
    if percentile is not None:
        return f"percentile {percentile[0]:g}-{percentile[1]:g}"
    if _is_auto(window):
        return f"auto (field percentile {AUTO_PERCENTILE[0]:g}-{AUTO_PERCENTILE[1]:g})"
    if isinstance(window, str):
        return window
    return f"explicit {float(window[0]):g}-{float(window[1]):g}"


def spread(image: np.ndarray) -> float:
    """Width of the auto window of a [0, 1] float image (0 when it is empty: a constant field)."""
    try:
        lo, hi = kernels.resolve_window(np.ascontiguousarray(image, np.float32),
                                        percentile=AUTO_PERCENTILE, field=True)
    except ValueError:
        return 0.0
    return float(hi - lo)


def normalise_unit(image: np.ndarray, *others: np.ndarray) -> tuple:
    """Training's form of the auto window: `image` (float32 in [0, 1], any size) mapped to
    [-1, 1] by its own robust window, and `others` (e.g. the bone-suppressed target) by the
    same map, clipped as the kernels clip. Returns (image, *others) as float32."""
    lo, hi = kernels.resolve_window(np.ascontiguousarray(image, np.float32),
                                    percentile=AUTO_PERCENTILE, field=True)
    scale = np.float32(2.0 / (hi - lo))
    out = [np.clip((a.astype(np.float32) - np.float32(lo)) * scale - 1.0, -1.0, 1.0)
           for a in (image, *others)]
    return tuple(out)


def trained_window(model_path) -> str | None:
    """The window a `cxrmt train` model was trained with, from the run's model.json beside it
    ("full" for runs made before the key existed); None when there is no model.json."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "model.json")
    if not os.path.isfile(path):
        return None
    with open(path) as fh:
        config = json.load(fh).get("config", {})
    return config.get("window", "full")
