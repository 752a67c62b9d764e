"""Triton model repository layout and config.pbtxt."""

import re

import pytest

from cxrmt.runtime.metadata import model_metadata
from cxrmt.export.triton import config_pbtxt, write_repository


def _meta(layout="nchw", task="mt", precision="fp32"):
    return model_metadata("mtdg", task, 512, layout, "f" * 64, precision)


def test_config_declares_static_shapes_and_carries_the_metadata():
    text = config_pbtxt("cxrmt", "onnxruntime_onnx", _meta())
    assert 'platform: "onnxruntime_onnx"' in text and "max_batch_size: 0" in text
    dims = re.findall(r"dims: \[([\d, ]+)\]", text)
    assert dims == ["1, 3, 512, 512", "1, 6, 512, 512"]
    assert 'key: "cxrmt.layout"' in text and 'string_value: "nchw"' in text
    assert '\\"heart\\"' in text                         # JSON values are escaped
    assert text.count("{") == text.count("}") and text.count("[") == text.count("]")
    nhwc = config_pbtxt("m", "tensorrt_plan", _meta("nhwc", "seg"))
    assert re.findall(r"dims: \[([\d, ]+)\]", nhwc) == ["1, 512, 512, 3", "1, 512, 512, 3"]
    assert "KIND_GPU" in nhwc


def test_repository_layout(tmp_path):
    model = tmp_path / "m.engine"
    model.write_bytes(b"plan")
    folder = write_repository(model, tmp_path / "repo", _meta(), name="cx", version=3)
    assert (tmp_path / "repo" / "cx" / "3" / "model.plan").read_bytes() == b"plan"
    assert 'platform: "tensorrt_plan"' in (tmp_path / "repo" / "cx" / "config.pbtxt").read_text()
    assert folder.endswith("cx")


def test_repository_errors(tmp_path):
    with pytest.raises(ValueError, match="takes .onnx or .engine"):
        write_repository(tmp_path / "m.pt", tmp_path / "r", _meta())
    with pytest.raises(FileNotFoundError):
        write_repository(tmp_path / "m.onnx", tmp_path / "r", _meta())
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="no cxrmt metadata"):
        write_repository(tmp_path / "m.onnx", tmp_path / "r", {})
