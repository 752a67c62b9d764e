"""Transposed convolutions rewritten as sub-pixel convolutions: the same function, other ops.

A ConvTranspose with stride s, kernel k = s*T and pads p = (k - s) / 2 writes output pixel
(s*m + a, s*n + b) from a T x T neighbourhood of input pixel (m, n) only: each of the s*s output
phases (a, b) is an ordinary T x T convolution of the input, and DepthToSpace interleaves them.
Same multiply-adds, same weights (rearranged). ONNX Runtime's CPU quantizer has int8 kernels for
Conv but not ConvTranspose, so the INT8 export rewrites the decoder this way first.
"""

import numpy as np


def phase_taps(a: int, s: int, k: int, p: int) -> tuple:
    """For output phase `a`: (input offset of the first tap, kernel indices of taps 0..T-1), the
    taps read input rows m + offset + t."""
    T = k // s
    r, q = (a + p) % s, (a + p) // s          # kernel indices r, r + s, ... reach phase a
    return q - (T - 1), [r + s * (T - 1 - t) for t in range(T)]


def rewritable(node, weights) -> bool:
    """A ConvTranspose this module can rewrite exactly: 2-D, constant weights, one group, equal
    strides (DepthToSpace), no dilation, output padding or output shape, and k - 2p = s (an
    output of s*H)."""
    from onnx import helper

    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    if node.op_type != "ConvTranspose" or weights is None or weights.ndim != 4:
        return False
    k, s, pads = list(weights.shape[2:]), a.get("strides", [1, 1]), a.get("pads", [0] * 4)
    if (a.get("group", 1) != 1 or s[0] != s[1] or any(d != 1 for d in a.get("dilations", [1, 1]))
            or any(a.get("output_padding", [0, 0])) or "output_shape" in a
            or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
        return False
    for i in range(2):
        p = pads[i]
        if p != pads[i + 2] or k[i] % s[i] or k[i] - 2 * p != s[i] or s[i] < 2:
            return False
        if any(phase_taps(ph, s[i], k[i], p)[0] > 0 for ph in range(s[i])):
            return False
    return True


def phase_nodes(node, weights: np.ndarray, helper, numpy_helper) -> tuple:
    """(new nodes, new initializers) computing `node` as s*s Convs + Concat + DepthToSpace."""
    a = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    (sy, sx), (ky, kx), py, px = a["strides"], weights.shape[2:], a["pads"][0], a["pads"][1]
    bias = [node.input[2]] if len(node.input) > 2 and node.input[2] else []
    nodes, inits, phases = [], [], []
    for pa in range(sy):
        off_y, rows = phase_taps(pa, sy, ky, py)
        for pb in range(sx):
            off_x, cols = phase_taps(pb, sx, kx, px)
            name = f"{node.name}/phase{pa}{pb}"
            # ConvTranspose weights are (Cin, Cout, k, k); Conv wants (Cout, Cin, T, T).
            w = weights[:, :, rows][:, :, :, cols].transpose(1, 0, 2, 3)
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w), name + "/w"))
            ty, tx = len(rows), len(cols)
            pads = [-off_y, -off_x, off_y + ty - 1, off_x + tx - 1]
            nodes.append(helper.make_node("Conv", [node.input[0], name + "/w"] + bias, [name],
                                          kernel_shape=[ty, tx], pads=pads, name=name))
            phases.append(name)
    stacked = node.name + "/phases"
    nodes.append(helper.make_node("Concat", phases, [stacked], axis=1, name=stacked))
    nodes.append(helper.make_node("DepthToSpace", [stacked], [node.output[0]], blocksize=sy,
                                  mode="DCR", name=node.name + "/interleave"))
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
        if node.name in keep or not rewritable(node, w):
            nodes.append(node)
            continue
        new_nodes, new_inits = phase_nodes(node, w, helper, numpy_helper)
        nodes.extend(new_nodes)
        g.initializer.extend(new_inits)
        count += 1
    del g.node[:]
    g.node.extend(nodes)
    read = {i for n in g.node for i in n.input}
    for init in [i for i in g.initializer if i.name not in read]:   # the original weights
        g.initializer.remove(init)
    return count
