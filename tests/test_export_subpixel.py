"""Sub-pixel rewrite of ConvTranspose: the same outputs as a brute-force numpy transposed
convolution, and nodes it cannot rewrite exactly are left alone."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cxrmt.export.subpixel import rewrite_conv_transposes  # noqa: E402


def conv_transpose_loop(x, w, b, s, p):
    """Scatter every input pixel through the kernel (the definition), then crop the pads
    (`p`: one value or (rows, columns))."""
    cin, h, wd = x.shape
    cout, ky, kx = w.shape[1:]
    py, px = (p, p) if np.isscalar(p) else p
    full = np.zeros((cout, (h - 1) * s + ky, (wd - 1) * s + kx))
    for i in range(h):
        for j in range(wd):
            full[:, i * s:i * s + ky, j * s:j * s + kx] += np.einsum("c,cokl->okl", x[:, i, j], w)
    out = full[:, py:full.shape[1] - py, px:full.shape[2] - px]
    return out + (b[:, None, None] if b is not None else 0)


def model_of(layers, shape, named=True):
    """A chain of ConvTranspose nodes: layers = [(w, b, s, p, extra attributes)]; p None: no
    pads attribute; p a pair: (rows, columns)."""
    nodes, inits, x = [], [], "x"
    for i, (w, b, s, p, extra) in enumerate(layers):
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        ins = [x, f"w{i}"]
        if b is not None:
            inits.append(numpy_helper.from_array(b, f"b{i}"))
            ins.append(f"b{i}")
        if p is not None:
            extra = dict(extra, pads=[p, p, p, p] if np.isscalar(p) else [*p, *p])
        nodes.append(helper.make_node("ConvTranspose", ins, [f"y{i}"], name=f"up{i}" if named
                                      else None, strides=[s, s], **extra))
        x = f"y{i}"
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     shape)],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, list("nchw"))], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("s,k,p", [(2, 4, 1), (2, 2, 0), (3, 3, 0), (4, 8, 2), (3, 9, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_rewrite_equals_the_definition(rng, s, k, p, bias):
    cin, cout = 5, 3
    x = rng.normal(size=(1, cin, 6, 7)).astype(np.float32)
    w = rng.normal(size=(cin, cout, k, k)).astype(np.float32)
    b = rng.normal(size=cout).astype(np.float32) if bias else None
    m = model_of([(w, b, s, p, {})], x.shape)
    assert rewrite_conv_transposes(m) == 1
    ops = [n.op_type for n in m.graph.node]
    assert "ConvTranspose" not in ops and ops.count("Conv") == s * s and ops[-1] == "DepthToSpace"
    onnx.checker.check_model(m, full_check=True)
    ref = conv_transpose_loop(x[0].astype(np.float64), w.astype(np.float64), b, s, p)
    out = run(m, x)[0]
    assert out.shape == (cout, 6 * s, 7 * s)
    np.testing.assert_allclose(out, ref, atol=1e-4)
    assert [i.name for i in m.graph.initializer if i.name == "w0"] == []   # old weights gone


def test_what_cannot_be_rewritten_exactly_is_left_alone(rng):
    x = rng.normal(size=(1, 4, 5, 5)).astype(np.float32)
    w4 = rng.normal(size=(4, 4, 4, 4)).astype(np.float32)
    w3 = rng.normal(size=(4, 4, 3, 3)).astype(np.float32)
    cases = [(w4, 2, 1, {"output_padding": [1, 1]}),   # output size is not s*H
             (w3, 2, 1, {}),                            # k - 2p != s
             (w4, 2, 1, {"dilations": [2, 2]}),
             (w4[:, :2], 2, 1, {"group": 2})]
    for w, s, p, extra in cases:
        m = model_of([(w, None, s, p, extra)], x.shape)
        before = run(m, x)
        assert rewrite_conv_transposes(m) == 0, extra
        np.testing.assert_array_equal(run(m, x), before)


def test_kept_nodes_are_left_alone(rng):
    x = rng.normal(size=(1, 4, 5, 5)).astype(np.float32)
    layers = [(rng.normal(size=(4, 4, 4, 4)).astype(np.float32), None, 2, 1, {}),
              (rng.normal(size=(4, 2, 4, 4)).astype(np.float32), None, 2, 1, {})]
    m = model_of(layers, x.shape)
    before = run(m, x)
    assert rewrite_conv_transposes(m, keep={"up1"}) == 1
    assert [n.name for n in m.graph.node if n.op_type == "ConvTranspose"] == ["up1"]
    np.testing.assert_allclose(run(m, x), before, atol=1e-4)


def test_no_pads_attribute_unnamed_nodes_and_unequal_kernels(rng):
    """k == s without a pads attribute, nodes without names, a 4x2 kernel with pads (1, 0)."""
    x = rng.normal(size=(1, 3, 4, 5)).astype(np.float32)
    w1 = rng.normal(size=(3, 4, 2, 2)).astype(np.float32)
    w2 = rng.normal(size=(4, 2, 4, 2)).astype(np.float32)
    m = model_of([(w1, None, 2, None, {}), (w2, None, 2, (1, 0), {})], x.shape, named=False)
    assert rewrite_conv_transposes(m) == 2
    names = [n.name for n in m.graph.node] + [i.name for i in m.graph.initializer]
    assert len(names) == len(set(names))                       # every new name unique
    onnx.checker.check_model(m, full_check=True)
    h = conv_transpose_loop(x[0].astype(np.float64), w1.astype(np.float64), None, 2, 0)
    ref = conv_transpose_loop(h, w2.astype(np.float64), None, 2, (1, 0))
    out = run(m, x)[0]
    assert out.shape == ref.shape == (2, 16, 20)
    np.testing.assert_allclose(out, ref, atol=1e-4)
