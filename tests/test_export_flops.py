"""Conv/ConvTranspose MAC counts (for the benchmarks' GFLOP/s) against hand counts."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="counting needs the onnx package")

from cxrmt.export.flops import conv_macs, gflop  # noqa: E402
from test_runtime_fixtures import affine_model  # noqa: E402


def test_two_pointwise_convolutions(tmp_path):
    path = affine_model(tmp_path / "m.onnx", 32)
    assert conv_macs(onnx.load(path)) == 2 * (3 * 32 * 32) * 3   # out pixels x Cin x 1 x 1
    assert gflop(path) == pytest.approx(2 * 18432 / 1e9)


def test_strided_transposed_convolution():
    """k4 s2 'same': each of the 5 x 16 x 16 outputs gathers Cin * k*k / s² = 2 * 16 / 4 taps."""
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.zeros((2, 5, 4, 4), np.float32), "w")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2],
                            pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node], "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 16, 16])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert conv_macs(model) == 5 * 16 * 16 * (2 * 16 // 4)
