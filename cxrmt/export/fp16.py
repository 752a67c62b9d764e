"""FP16 ONNX (FP32 inputs and outputs kept) and its check in task terms.

TensorRT >= 11 builds strongly typed networks only (no FP16 builder flag), so FP16 is carried by
the ONNX itself. FP16 U-Nets can overflow (NaN, or an all-black output); `precision.check_precision`
catches both and compares masks and bone images with the FP32 model.
"""

import os
import warnings

from cxrmt._optional import require
from cxrmt.io.writers import write_bytes
from cxrmt.runtime import metadata as md


def load_fp32_onnx(src) -> tuple:
    """(onnx module, model, cxrmt metadata) of an FP32 ONNX; clear errors for a missing file or
    a model that is FP16 or INT8 already."""
    onnx = require("onnx", "train")
    if not os.path.isfile(src):
        raise FileNotFoundError(f"{src}: no such ONNX file")
    model = onnx.load(os.fspath(src))
    meta = md.onnx_metadata(model)
    precision = meta.get(md.PREFIX + "precision", "fp32")
    if precision != "fp32":
        raise ValueError(f"{src} is already {precision.upper()}; pass the FP32 ONNX it was "
                         "made from")
    return onnx, model, meta


def convert_fp16(src, dst) -> str:
    """Write `dst`, an FP16 copy of the FP32 ONNX `src` with FP32 input/output."""
    f16 = require("onnxconverter_common.float16", "train")
    onnx, model, meta = load_fp32_onnx(src)
    _route_input_through_identity(model, onnx)
    with warnings.catch_warnings():  # tiny weights flushed to 1e-7: harmless and very many
        warnings.filterwarnings("ignore", message=r".*will be truncated to -?1e-07")
        half = f16.convert_float_to_float16(model, keep_io_types=True)
    md.set_onnx_metadata(half, {**meta, md.PREFIX + "precision": "fp16"})
    onnx.checker.check_model(half, full_check=True)
    write_bytes(dst, half.SerializeToString())
    return os.fspath(dst)


def _route_input_through_identity(model, onnx) -> None:
    """image -> Identity -> consumers: with keep_io_types, onnxconverter-common inserts one
    cast per consumer of the input under the same name (invalid SSA) when the input feeds
    several nodes, as it does in the residual-head generator."""
    g = model.graph
    name = g.input[0].name
    inner = name + "_fp32"
    for node in g.node:
        node.input[:] = [inner if i == name else i for i in node.input]
    g.node.insert(0, onnx.helper.make_node("Identity", [name], [inner], name="input_identity"))
