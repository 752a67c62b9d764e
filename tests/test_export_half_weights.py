"""FP16 weight storage: FP32 compute on FP16-rounded weights, smaller file, metadata kept."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from cxrmt.export.half_weights import store_weights_fp16  # noqa: E402
from cxrmt.runtime.metadata import read_onnx_metadata, set_onnx_metadata  # noqa: E402


def matmul_model(path, w, bias):
    """y = x @ w + bias, with cxrmt metadata."""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, w.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, w.shape[1]])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8            # loadable by every supported onnxruntime, not only the newest
    set_onnx_metadata(m, {"cxrmt.size": "8"})
    onnx.save(m, str(path))


def run(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_outputs_are_fp32_maths_on_fp16_rounded_weights(tmp_path, rng):
    w = rng.normal(0, 1, (64, 48)).astype(np.float32)
    b = rng.normal(0, 1, 48).astype(np.float32)
    matmul_model(tmp_path / "a.onnx", w, b)
    report = store_weights_fp16(tmp_path / "a.onnx", tmp_path / "h.onnx", min_elements=100)
    assert report["converted"] == 1 and report["kept"] == 1           # the bias stays FP32
    x = rng.normal(0, 1, (2, 64)).astype(np.float32)
    expect = x.astype(np.float64) @ w.astype(np.float16).astype(np.float64) + b  # numpy reference
    np.testing.assert_allclose(run(tmp_path / "h.onnx", x), expect, rtol=1e-5, atol=1e-4)
    assert (tmp_path / "h.onnx").stat().st_size < 0.6 * (tmp_path / "a.onnx").stat().st_size
    meta = read_onnx_metadata(tmp_path / "h.onnx")
    assert meta["cxrmt.weights_storage"] == "fp16" and meta["cxrmt.size"] == "8"


def test_weights_beyond_fp16_range_stay_fp32(tmp_path, rng):
    w = rng.normal(0, 1, (32, 32)).astype(np.float32)
    w[0, 0] = 1e5
    matmul_model(tmp_path / "a.onnx", w, np.zeros(32, np.float32))
    assert store_weights_fp16(tmp_path / "a.onnx", tmp_path / "h.onnx", 100)["converted"] == 0
    x = rng.normal(0, 1, (2, 32)).astype(np.float32)
    np.testing.assert_allclose(run(tmp_path / "h.onnx", x), x @ w, rtol=1e-5, atol=1e-3)


def test_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        store_weights_fp16(tmp_path / "nope.onnx", tmp_path / "h.onnx")


def test_unpacking_gives_plain_fp32_constants_of_the_rounded_weights(tmp_path, rng):
    from cxrmt.export.half_weights import unpack_half_weights

    w = rng.normal(0, 1, (64, 48)).astype(np.float32)
    matmul_model(tmp_path / "a.onnx", w, np.zeros(48, np.float32))
    store_weights_fp16(tmp_path / "a.onnx", tmp_path / "h.onnx", min_elements=100)
    m = onnx.load(str(tmp_path / "h.onnx"))
    # A Cast that is no weight storage (int64 -> int32, like a shape) stays as it is.
    m.graph.initializer.append(numpy_helper.from_array(np.array([2, 48], np.int64), "shape64"))
    m.graph.node.append(helper.make_node("Cast", ["shape64"], ["shape32"], to=TensorProto.INT32))
    m.graph.output.append(helper.make_tensor_value_info("shape32", TensorProto.INT32, [2]))
    assert unpack_half_weights(m) == 1
    assert [n.output[0] for n in m.graph.node if n.op_type == "Cast"] == ["shape32"]
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    assert set(inits) == {"w", "b", "shape64"} and inits["w"].dtype == np.float32
    np.testing.assert_array_equal(inits["w"], w.astype(np.float16).astype(np.float32))
    onnx.checker.check_model(m, full_check=True)
