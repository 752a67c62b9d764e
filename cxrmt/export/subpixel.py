"""Transposed convolutions rewritten as sub-pixel convolutions: the same function, other ops.

A ConvTranspose with stride s, kernel k = s*T and pads p = (k - s) / 2 writes output pixel
(s*m + a, s*n + b) from a T x T neighbourhood of input pixel (m, n) only: each of the s*s output
phases (a, b) is an ordinary T x T convolution of the input, and DepthToSpace interleaves them.
Same multiply-adds, same weights (rearranged). ONNX Runtime's CPU quantizer has int8 kernels for
Conv but not ConvTranspose, so the INT8 export rewrites the decoder this way first.
"""

import numpy as np

from .graph_edit import attributes, drop_unread_initializers, unique_prefix


def phase_taps(a: int, s: int, k: int, p: int) -> tuple:
    """For output phase `a`: (input offset of the first tap, kernel indices of taps 0..T-1), the
    taps read input rows m + offset + t."""
    T = k // s
    r, q = (a + p) % s, (a + p) // s          # kernel indices r, r + s, ... reach phase a
    return q - (T - 1), [r + s * (T - 1 - t) for t in range(T)]


def rewritable(node, weights) -> bool:
    """A ConvTranspose this module can rewrite exactly: 2-D, constant weights, one group, equal
    strides (DepthToSpace), no dilation, output padding or output shape, and k - 2p = s on both
    axes (an output of s*H by s*W)."""
    if node.op_type != "ConvTranspose" or weights is None or weights.ndim != 4:
        return False
    a = attributes(node)
    k, s, pads = list(weights.shape[2:]), a.get("strides", [1, 1]), a.get("pads", [0] * 4)
    if (a.get("group", 1) != 1 or s[0] != s[1] or any(d != 1 for d in a.get("dilations", [1, 1]))
            or any(a.get("output_padding", [0, 0])) or "output_shape" in a
            or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
        return False
    return all(pads[i] == pads[i + 2] and k[i] % s[i] == 0 and k[i] - 2 * pads[i] == s[i] >= 2
               for i in range(2))


def phase_nodes(node, weights: np.ndarray, prefix: str, helper, numpy_helper) -> tuple:
    """(new nodes, new initializers) computing `node` as s*s Convs + Concat + DepthToSpace, all
    named under `prefix`."""
    a = attributes(node)
    s, (ky, kx), pads = a["strides"][0], weights.shape[2:], a.get("pads", [0] * 4)
    bias = [node.input[2]] if len(node.input) > 2 and node.input[2] else []
    nodes, inits, phases = [], [], []
    for pa in range(s):
        off_y, rows = phase_taps(pa, s, ky, pads[0])
        for pb in range(s):
            off_x, cols = phase_taps(pb, s, kx, pads[1])
            name = f"{prefix}/phase{pa}_{pb}"
            # ConvTranspose weights are (Cin, Cout, k, k); Conv wants (Cout, Cin, T, T).
            w = weights[:, :, rows][:, :, :, cols].transpose(1, 0, 2, 3)
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w), name + "/w"))
            ty, tx = len(rows), len(cols)
            conv_pads = [-off_y, -off_x, off_y + ty - 1, off_x + tx - 1]   # k - 2p = s: >= 0
            nodes.append(helper.make_node("Conv", [node.input[0], name + "/w"] + bias, [name],
                                          kernel_shape=[ty, tx], pads=conv_pads, name=name))
            phases.append(name)
    stacked = prefix + "/phases"
    nodes.append(helper.make_node("Concat", phases, [stacked], axis=1, name=stacked))
    nodes.append(helper.make_node("DepthToSpace", [stacked], [node.output[0]], blocksize=s,
                                  mode="DCR", name=prefix + "/interleave"))
    return nodes, inits


def rewrite_conv_transposes(model, keep=()) -> int:
    """Rewrite every exactly-rewritable ConvTranspose of `model` in place, except the nodes
    named in `keep` (the output layer the INT8 export leaves in FP32). Returns the count."""
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    nodes, count = [], 0
    for node in g.node:
        init = inits.get(node.input[1]) if node.op_type == "ConvTranspose" else None
        w = numpy_helper.to_array(init) if init is not None else None
        if (node.name and node.name in keep) or not rewritable(node, w):
            nodes.append(node)
            continue
        prefix = unique_prefix(g, node.name or node.output[0])
        new_nodes, new_inits = phase_nodes(node, w, prefix, helper, numpy_helper)
        nodes.extend(new_nodes)
        g.initializer.extend(new_inits)
        count += 1
    del g.node[:]
    g.node.extend(nodes)
    drop_unread_initializers(g)   # the original weights
    return count
