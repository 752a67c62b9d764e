"""Hand-built ONNX models whose outputs are known in closed form (no TensorFlow needed), shared
by the runtime and pipeline tests, and the checks of those models themselves.

`affine_model`: output channel c = tanh(w_c * grey + b_c) for c < 3 (segmentation), and the
grey input itself on channels 3..5 (bone = identity, so residual transfer returns the original).
"""

import numpy as np
import pytest

SEG_W = np.array([4.0, -4.0, -6.0], np.float32)     # heart bright, lungs dark
SEG_B = np.array([-1.0, -0.8, -2.0], np.float32)


def affine_model(path, size=32, layout="nchw", task="mt", batch=1, meta=True, window="full"):
    """Write the model; returns `path`. Its metadata declares the full-range network window
    (the references here are full-range) unless `window` says otherwise."""
    onnx = pytest.importorskip("onnx", reason="building test ONNX models needs the onnx package")
    from onnx import TensorProto, helper, numpy_helper

    nchw = layout == "nchw"
    shape_in = [batch, 3, size, size] if nchw else [batch, size, size, 3]
    out_ch = 6 if task == "mt" else 3
    shape_out = [batch, out_ch, size, size] if nchw else [batch, size, size, out_ch]
    nodes, inits = [], []
    x = "image"
    if not nchw:
        nodes.append(helper.make_node("Transpose", [x], ["x_nchw"], perm=[0, 3, 1, 2]))
        x = "x_nchw"
    grey = np.zeros((1, 3, 1, 1), np.float32)
    grey[0, 0] = 1.0                                    # take channel 0 (all three are equal)
    w = np.stack([SEG_W[c] * grey[0] for c in range(3)])            # (3, 3, 1, 1)
    inits += [numpy_helper.from_array(w, "w"), numpy_helper.from_array(SEG_B, "b"),
              numpy_helper.from_array(np.repeat(grey, 3, 0), "w_id")]
    nodes += [helper.make_node("Conv", [x, "w", "b"], ["seg_logits"]),
              helper.make_node("Tanh", ["seg_logits"], ["seg"]),
              helper.make_node("Conv", [x, "w_id"], ["bone"])]
    parts = {"mt": ["seg", "bone"], "seg": ["seg"], "bse": ["bone"]}[task]
    y = "y_nchw" if not nchw else "output"
    nodes.append(helper.make_node("Concat", parts, [y], axis=1))
    if not nchw:
        nodes.append(helper.make_node("Transpose", [y], ["output"], perm=[0, 2, 3, 1]))
    graph = helper.make_graph(nodes, "affine", [helper.make_tensor_value_info(
        "image", TensorProto.FLOAT, shape_in)], [helper.make_tensor_value_info(
            "output", TensorProto.FLOAT, shape_out)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if meta:
        from cxrmt.runtime.metadata import model_metadata, set_onnx_metadata
        set_onnx_metadata(model, model_metadata("test", task, size, layout, "0" * 64,
                                                batch=batch, window=window))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def affine_reference(x_nchw: np.ndarray, task="mt") -> np.ndarray:
    """The model's output computed in numpy (NCHW)."""
    g = x_nchw[:, :1]
    seg = np.tanh(SEG_W[None, :, None, None] * g + SEG_B[None, :, None, None])
    bone = np.repeat(g, 3, axis=1)
    return {"mt": np.concatenate([seg, bone], 1), "seg": seg, "bse": bone}[task]


def chest(h, w, seed=0):
    """A 12-bit image with bright, dark and mid regions (so every organ channel fires)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 2000 + 1500 * np.sin(xx / w * 6.0) * np.cos(yy / h * 4.0) + rng.normal(0, 40, (h, w))
    return np.clip(img, 0, 4095).astype(np.uint16)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("task", ["mt", "seg", "bse"])
def test_affine_model_matches_its_numpy_reference(tmp_path, layout, task, rng):
    import onnxruntime as ort

    path = affine_model(tmp_path / "m.onnx", 16, layout, task)
    x = np.repeat(rng.uniform(-1, 1, (1, 1, 16, 16)).astype(np.float32), 3, axis=1)
    feed = x if layout == "nchw" else x.transpose(0, 2, 3, 1)
    y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"image": feed})[0]
    y = y if layout == "nchw" else y.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, affine_reference(x, task), atol=1e-6)
