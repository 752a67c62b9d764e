"""TensorFlow backend for `.keras` generators and SavedModel folders (needs cxrmt[train])."""

import threading

import numpy as np

from cxrmt._optional import require
from cxrmt.model.describe import describe_generator
from cxrmt.window import trained_window

from .base import Runner, info_from_io


def _to_layout(x: np.ndarray, layout: str) -> np.ndarray:
    return x if layout == "nhwc" else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


class _TensorFlowRunner(Runner):
    """Models run NHWC; `layout="nchw"` accepts and returns NCHW so a Predictor can treat every
    backend alike. A lock serialises calls (Keras models keep per-call state)."""

    def _setup(self, fn, in_shape, out_shape, layout, task, window=None):
        if layout not in ("nhwc", "nchw"):
            raise ValueError(f"layout must be nhwc or nchw (got {layout!r})")
        self._fn, self._lock = fn, threading.Lock()
        n, s, c = int(in_shape[0] or 1), int(in_shape[1]), int(out_shape[-1])
        shapes = {"nhwc": ((n, s, s, 3), (n, s, s, c)), "nchw": ((n, 3, s, s), (n, c, s, s))}
        # No record of the window: trained before it was recorded, on the full range.
        meta = {"cxrmt.layout": layout, "cxrmt.window": window or "full"}
        self.info = info_from_io(*shapes[layout], meta, task=task)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        nhwc = x if self.info.layout == "nhwc" else x.transpose(0, 2, 3, 1)
        with self._lock:
            y = self._fn(np.ascontiguousarray(nhwc)).numpy().astype(np.float32, copy=False)
        return _to_layout(y, self.info.layout)


class KerasRunner(_TensorFlowRunner):
    def __init__(self, path, layout="nhwc", task=None):
        require("tensorflow", "train")
        from cxrmt.model.build import load_generator


        model = load_generator(path)
        task = task or describe_generator(model)[1]   # tells segmentation from bone suppression
        self._setup(lambda x: model(x, training=False), model.input_shape, model.output_shape,
                    layout, task, trained_window(path))


class SavedModelRunner(_TensorFlowRunner):
    def __init__(self, path, layout="nhwc", task=None):
        tf = require("tensorflow", "train")
        loaded = tf.saved_model.load(path)
        sig = loaded.signatures["serving_default"]
        (in_key, spec), = sig.structured_input_signature[1].items()
        (out_key, out_spec), = sig.structured_outputs.items()
        self._loaded = loaded  # keeps the variables alive
        self._setup(lambda x: sig(**{in_key: tf.constant(x)})[out_key], spec.shape,
                    out_spec.shape, layout, task)
