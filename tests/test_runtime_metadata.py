"""read_onnx_metadata scans the protobuf's top level; onnx's full parser is the reference."""
import pytest

onnx = pytest.importorskip("onnx")

from cxrmt.errors import ModelError  # noqa: E402
from cxrmt.runtime.metadata import read_onnx_metadata  # noqa: E402
from cxrmt.shipped import default_model  # noqa: E402


def _tiny_model(path, props: dict) -> None:
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, producer_name="test", doc_string="d" * 300)
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, path)


def test_shipped_model_matches_onnx():
    model = onnx.load(str(default_model()), load_external_data=False)
    ref = {p.key: p.value for p in model.metadata_props if p.key.startswith("cxrmt.")}
    assert len(ref) >= 10 and read_onnx_metadata(default_model()) == ref


def test_only_cxrmt_keys_unicode_and_long_values(tmp_path):
    props = {"cxrmt.task": "mt", "other": "x", "cxrmt.note": "é" * 200 + "\u2603",
             "cxrmt.palette": "[" + ", ".join(["[0, 0, 255]"] * 100) + "]", "cxrmt.empty": ""}
    _tiny_model(tmp_path / "m.onnx", props)
    assert read_onnx_metadata(tmp_path / "m.onnx") == {k: v for k, v in props.items()
                                                       if k.startswith("cxrmt.")}


def test_truncated_model_names_the_file(tmp_path):
    with open(default_model(), "rb") as fh:
        data = fh.read()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.onnx"):
        read_onnx_metadata(bad)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        read_onnx_metadata("nope.onnx")
