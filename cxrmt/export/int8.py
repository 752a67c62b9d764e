"""INT8 ONNX for CPUs: static quantization with ONNX Runtime, calibrated on real radiographs.

Weights are int8 per output channel, activations uint8 with ranges measured on the calibration
images (QDQ format, which ONNX Runtime fuses into int8 convolutions; VNNI CPUs run those up to
4x faster than FP32). Two choices keep the task intact:
- for ONNX Runtime (`target="onnxruntime"`), the decoder's transposed convolutions become
  sub-pixel convolutions first (`subpixel.py`, the same function), since ONNX Runtime has int8
  kernels for Conv but not ConvTranspose. OpenVINO's CPU plugin has int8 deconvolutions but its
  low-precision passes reject the sub-pixel form ("[DepthToSpaceTransformation] Argument shapes
  are inconsistent", OpenVINO 2026.4, also with DepthToSpace spelt Reshape/Transpose/Reshape
  and with per-tensor weight scales),
  so `target="openvino"` quantizes the plain ConvTranspose (QDQ around it), which it compiles;
- the output layer and everything after it stay FP32 and read the FP32 input: the residual head
  subtracts a small bone image from the input, and 8 bits would erase it (on JSRT, an all-INT8
  model dropped BSR from 0.56 to 0.34; see MODEL_CARD.md for the kept-FP32 figures).
"""

import logging
import os
import tempfile

import numpy as np

from cxrmt._optional import require
from cxrmt.io.writers import write_bytes
from cxrmt.pipeline import Predictor
from cxrmt.runtime import metadata as md
from cxrmt.runtime import open_runner

from .fp16 import load_fp32_onnx
from .graph_edit import name_unnamed_nodes
from .half_weights import unpack_half_weights
from .subpixel import rewrite_conv_transposes

REWRITE_ATOL = 1e-4    # the sub-pixel graph must equal the original (FP32 rounding only)
TARGETS = ("onnxruntime", "openvino")    # the runtime an INT8 graph is shaped for


def output_layer_nodes(model) -> list:
    """Names of the last Conv/ConvTranspose and of every node after it (the output head)."""
    nodes = list(model.graph.node)
    convs = [i for i, n in enumerate(nodes) if n.op_type in ("Conv", "ConvTranspose")]
    return [n.name for n in nodes[convs[-1]:]] if convs else []


def read_fp32_in_head(graph, head: set) -> None:
    """The quantizer shares one Quantize/Dequantize pair among all readers of a tensor, so the
    FP32 head would read the image at 8 bits: noise that the residual head passes on to the
    bone image. Point the head at the FP32 model input again. (Only graph inputs: a pair on an
    activation may also stand for a ReLU the quantizer folded into it.)"""
    inputs = {i.name for i in graph.input}
    producers = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.name not in head:
            continue
        for i, name in enumerate(node.input):
            dq = producers.get(name)
            q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" \
                else None
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] in inputs:
                node.input[i] = q.input[0]


def calibration_inputs(fp32_path, images) -> tuple:
    """(model inputs of `images` (paths, Radiographs or arrays), preprocessed as `cxrmt infer`
    does and repeated to the model's static batch; the FP32 output of the first, the reference
    the sub-pixel rewrite must reproduce)."""

    images = list(images)
    if not images:
        raise ValueError("INT8 needs calibration radiographs (--calibrate): the activation "
                         "ranges are measured on them")
    with Predictor(fp32_path, device="cpu") as p:
        xs = [np.repeat(p.model_input(im), p.info.batch, axis=0) for im in images]
        return xs, p.runner.run(xs[0])


def _max_difference(path, x, reference) -> float:

    with open_runner(path, device="cpu") as r:
        return float(np.abs(r.run(x) - reference).max())


def quantize_int8(src, dst, calibration, target="onnxruntime") -> dict:
    """Write `dst`, the INT8 ONNX of the FP32 ONNX `src`, calibrated on `calibration` images,
    in the form `target` (TARGETS) runs fastest (recorded as cxrmt.int8_target).
    Returns {"rewritten": transposed convolutions made sub-pixel, "images": n, "bytes": size}."""
    if target not in TARGETS:
        raise ValueError(f"INT8 target must be one of {', '.join(TARGETS)} (got {target!r})")
    onnx, model, meta = load_fp32_onnx(src)
    q = require("onnxruntime.quantization", "train")
    xs, reference = calibration_inputs(src, calibration)
    unpack_half_weights(model)          # FP16-stored weights (the shipped model) as constants
    name_unnamed_nodes(model.graph)
    head = output_layer_nodes(model)
    rewritten = rewrite_conv_transposes(model, keep=set(head)) if target == "onnxruntime" else 0
    with tempfile.TemporaryDirectory(prefix="cxrmt-int8-") as tmp:
        sub, out = os.path.join(tmp, "subpixel.onnx"), os.path.join(tmp, "int8.onnx")
        onnx.save(model, sub)
        diff = _max_difference(sub, xs[0], reference)
        if diff > REWRITE_ATOL:
            raise RuntimeError(f"{src}: the sub-pixel rewrite changed the output (max |d| "
                               f"{diff:.2e} > {REWRITE_ATOL}); please report this model")
        reader = _reader(q, model.graph.input[0].name, xs)
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)   # ORT's generic "consider pre-processing" advice
        try:
            q.quantize_static(sub, out, reader, quant_format=q.QuantFormat.QDQ, per_channel=True,
                              activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                              nodes_to_exclude=head,
                              extra_options={"ActivationSymmetric": False})
        finally:
            logging.disable(previous)
        quantized = onnx.load(out)
    read_fp32_in_head(quantized.graph, set(head))
    meta.pop(md.PREFIX + "weights_storage", None)     # int8 now, whatever the source stored
    md.set_onnx_metadata(quantized, {**meta, md.PREFIX + "precision": "int8",
                                     md.PREFIX + "int8_target": target,
                                     md.PREFIX + "int8_calibration_images": str(len(xs))})
    onnx.checker.check_model(quantized)
    data = quantized.SerializeToString()
    write_bytes(dst, data)
    return {"rewritten": rewritten, "images": len(xs), "bytes": len(data)}


def _reader(q, name, xs):
    """An onnxruntime.quantization.CalibrationDataReader over prepared inputs."""
    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.items = iter([{name: x} for x in xs])

        def get_next(self):
            return next(self.items, None)
    return Reader()
