"""Multiply-accumulate count of an exported graph, for GFLOP/s figures (1 MAC = 2 FLOP)."""

import numpy as np

from cxrmt._optional import require


def _shapes(model) -> dict:
    onnx = require("onnx", "train")
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def conv_macs(model) -> int:
    """MACs of every Conv and ConvTranspose (the rest of a pix2pix graph is negligible)."""
    shapes, total = _shapes(model), 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        w = shapes[node.input[1]]            # Conv: (Cout, Cin/g, k, k); ConvT: (Cin, Cout/g, k, k)
        if node.op_type == "Conv":
            out = shapes[node.output[0]]     # (N, Cout, H, W): every output gets Cin/g*k*k MACs
            total += int(np.prod(out)) * int(np.prod(w[1:]))
        else:
            inp = shapes[node.input[0]]      # every input pixel scatters into Cout/g*k*k outputs
            total += int(np.prod(inp)) * int(np.prod(w[1:]))
    return total


def gflop(path) -> float:
    """GFLOP of one forward pass of the ONNX model at `path`."""
    onnx = require("onnx", "train")
    return 2.0 * conv_macs(onnx.load(str(path))) / 1e9
