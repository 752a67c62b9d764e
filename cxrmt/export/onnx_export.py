"""Keras generator -> ONNX with a static shape, cxrmt metadata, and a TF-vs-ORT check.

A full-width (ngf 64) export peaks near 12 GB: run each large export in its own process (each
`cxrmt export` invocation is one).
"""

import logging
import os

import numpy as np

from cxrmt._optional import require
from cxrmt.errors import CheckError
from cxrmt.io.writers import write_bytes
from cxrmt.model import check_size, get_variant
from cxrmt.model.describe import describe_generator
from cxrmt.runtime import metadata as md
from cxrmt.window import trained_window

from .phantom import check_inputs

log = logging.getLogger(__name__)

MIN_OPSET = 17
TOLERANCE = 1e-4   # FP32 max |ORT - TF| allowed by the export check


class ExportCheckError(CheckError):
    """The exported graph does not compute what the Keras model computes."""


def levels(model) -> int:
    """Encoder depth of a generator (its layers enc1_conv ... encL_conv)."""
    return sum(1 for layer in model.layers
               if layer.name.startswith("enc") and layer.name.endswith("_conv"))


def at_size(model, size: int):
    """The same generator with an S x S input: it is fully convolutional, so the weights fit."""
    keras = require("keras", "train")
    if int(model.input_shape[1]) == size:
        return model
    import cxrmt.model.layers  # noqa: F401  (registers the custom layers for from_config)

    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_shape"] = [None, size, size, 3]
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def load(model):
    """A keras.Model from a model or a `.keras` path."""
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise FileNotFoundError(f"{os.fspath(model)}: no such model file")
        require("tensorflow", "train")
        from cxrmt.model.build import load_generator
        return load_generator(model)
    from cxrmt.model.build import as_float32
    return as_float32(model)   # a model built under a mixed-precision policy exports as FP32


def to_onnx_proto(model, size: int, layout: str, opset: int, batch: int):
    """tf2onnx conversion; NCHW is done by transposes around the model that tf2onnx folds into
    the convolutions, so the graph has none left at its ends."""
    tf = require("tensorflow", "train")
    tf2onnx = require("tf2onnx", "train")
    try:  # tf2onnx 1.17 still uses numpy aliases removed in numpy 2
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
        patch_tf2onnx()
    except ImportError:
        pass
    shape = (batch, size, size, 3) if layout == "nhwc" else (batch, 3, size, size)
    spec = tf.TensorSpec(shape, tf.float32, name="image")

    @tf.function(input_signature=[spec])
    def forward(image):
        x = image if layout == "nhwc" else tf.transpose(image, (0, 2, 3, 1))
        y = model(x, training=False)
        return y if layout == "nhwc" else tf.transpose(y, (0, 3, 1, 2))

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=[spec], opset=opset)
    rename_io(proto, "image", "output")
    return proto


def rename_io(proto, input_name: str, output_name: str) -> None:
    """Give the graph's single input and output stable names (tf2onnx uses 'Identity:0')."""
    g = proto.graph
    renames = {g.input[0].name: input_name, g.output[0].name: output_name}
    for node in g.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    g.input[0].name, g.output[0].name = input_name, output_name


def export_onnx(model, out, *, size=None, layout="nchw", opset=MIN_OPSET, batch=1,
                check_images=(), tol=TOLERANCE, window=None) -> dict:
    """Export a generator (keras.Model or `.keras` path) to `out`; returns a report with the
    metadata and the ORT-vs-TF max |difference|. Raises ExportCheckError above `tol`.
    `window`: the network window it was trained with (default: its run's model.json)."""
    onnx = require("onnx", "train")
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be >= {MIN_OPSET} (got {opset})")
    if layout not in ("nhwc", "nchw"):
        raise ValueError(f"layout must be nhwc or nchw (got {layout!r})")
    if batch < 1:
        raise ValueError(f"batch must be >= 1 (got {batch})")
    keras_model = load(model)
    if window is None:
        window = trained_window(model) if isinstance(model, (str, os.PathLike)) else None
    if window is None:
        raise ValueError(f"{model if isinstance(model, (str, os.PathLike)) else 'the model'}: "
                         "cannot tell which network window it was trained with (no model.json "
                         "beside it); pass window='auto' or 'full' (cxrmt export --window)")
    if size is not None:
        check_size(get_variant(describe_generator(keras_model)[0]), size, levels(keras_model))
        keras_model = at_size(keras_model, size)
    size = int(keras_model.input_shape[1])
    variant, task = describe_generator(keras_model)
    proto = to_onnx_proto(keras_model, size, layout, opset, batch)
    meta = md.model_metadata(variant, task, size, layout,
                             md.sha256_weights(keras_model.get_weights()), "fp32", batch,
                             window)
    md.set_onnx_metadata(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    _save(proto, out)
    diff = compare_with_keras(out, keras_model, layout, check_images, batch)
    log.info(f"{out}: {variant} {size}x{size} {layout} opset {opset}, window {window}; ORT vs TF "
        f"max |d| = {diff:.2e}")
    if not diff <= tol:
        os.replace(out, out + ".rejected")
        raise ExportCheckError(f"ONNX Runtime and TensorFlow disagree by {diff:.3g} > {tol:g}; "
                               f"the graph was kept as {out}.rejected for inspection")
    return {"path": os.fspath(out), "max_abs_diff": diff, "metadata": meta,
            "sha256": md.sha256_file(out)}


def compare_with_keras(path, keras_model, layout, check_images=(), batch=1) -> float:
    """Max |ORT(path) - TF| over the check inputs."""
    import onnxruntime as ort

    sess = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    size = int(keras_model.input_shape[1])
    worst = 0.0
    for x in check_inputs(size, layout, check_images):
        x = np.concatenate([x * np.float32(1 - 0.1 * b) for b in range(batch)])  # distinct
        y_ort = sess.run(None, {"image": x})[0]
        x_tf = x if layout == "nhwc" else x.transpose(0, 2, 3, 1)
        y_tf = keras_model(x_tf, training=False).numpy()
        if layout == "nchw":
            y_tf = y_tf.transpose(0, 3, 1, 2)
        worst = max(worst, float(np.max(np.abs(y_ort - y_tf))))
    return worst


def _save(proto, out) -> None:
    write_bytes(out, proto.SerializeToString())
