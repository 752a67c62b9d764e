"""The metadata an exported model carries, so a runtime needs nothing but the file.

Stored as ONNX metadata_props "cxrmt.<key>" (strings; lists as JSON) and copied into a TensorRT
engine's sidecar JSON.
"""

import hashlib
import json
import os

import numpy as np

from cxrmt import __version__
from cxrmt.contract import CHANNELS, METADATA_KEYS, PALETTE, POLARITY, PREFIX
from cxrmt.io.digest import sha256_file  # noqa: F401  (re-exported: md.sha256_file)
from cxrmt.window import MODES as WINDOW_MODES


def sha256_weights(weights) -> str:
    """Digest of a model's weight arrays (order, shape, dtype and values): identical for the
    same weights whatever file format they were saved in."""
    h = hashlib.sha256()
    for w in weights:
        a = np.ascontiguousarray(np.asarray(w))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def model_metadata(variant: str, task: str, size: int, layout: str, weights_sha256: str,
                   precision: str = "fp32", batch: int = 1, window: str = "auto") -> dict:
    """The cxrmt.* entries of an exported model (all values strings). `window`: the network
    window the model was trained with (cxrmt.window: auto or full); runtimes default to it."""
    if layout not in ("nhwc", "nchw"):
        raise ValueError(f"layout must be nhwc or nchw (got {layout!r})")
    if window not in WINDOW_MODES:
        raise ValueError(f"window must be one of {', '.join(WINDOW_MODES)} (got {window!r})")
    values = {
        "version": __version__, "variant": variant, "task": task, "size": size, "batch": batch,
        "layout": layout, "precision": precision, "weights_sha256": weights_sha256,
        "output_range": "[-1, 1] (tanh); organ where channel > 0",
        "channels": json.dumps(CHANNELS[task]), "polarity": POLARITY,
        "palette": json.dumps(PALETTE), "window": window,
    }
    assert tuple(values) == METADATA_KEYS
    return {PREFIX + k: str(v) for k, v in values.items()}


def set_onnx_metadata(model_proto, meta: dict) -> None:
    """Replace the cxrmt.* metadata_props of an onnx ModelProto with `meta`."""
    keep = [(p.key, p.value) for p in model_proto.metadata_props if not p.key.startswith(PREFIX)]
    del model_proto.metadata_props[:]
    for k, v in keep + sorted(meta.items()):
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = k, v


def onnx_metadata(model_proto) -> dict:
    return {p.key: p.value for p in model_proto.metadata_props if p.key.startswith(PREFIX)}


def read_onnx_metadata(path) -> dict:
    """cxrmt.* metadata of an ONNX file, read through ONNX Runtime (no onnx package needed)."""
    import onnxruntime as ort

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such ONNX file")
    sess = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    return {k: v for k, v in meta.items() if k.startswith(PREFIX)}
