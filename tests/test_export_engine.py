"""TensorRT engine cache keys, sidecar checks, precision plans (no GPU needed), and the real
build + run when TensorRT and a GPU are present."""

import importlib.util
import json

import numpy as np
import pytest

from cxrmt.runtime import engine_cache as cache
from cxrmt.export.engine import build_plan

ORIN = {"gpu": "Orin", "compute_capability": "8.7"}
H100 = {"gpu": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}


def _engine(tmp_path, key, build=None):
    path = tmp_path / "m.engine"
    path.write_bytes(b"engine bytes")
    cache.write_sidecar(path, key, {"cxrmt.size": "512"},
                        build or {"onnx": "models/m.onnx", "fp16_flag": True})
    return path


def test_cache_key_records_what_an_engine_depends_on():
    key = cache.cache_key("ab" * 32, "10.3.0", ORIN, "fp16", dla_core=0)
    assert key == {"onnx_sha256": "ab" * 32, "tensorrt": "10.3.0", "gpu": "Orin",
                   "compute_capability": "8.7", "precision": "fp16", "dla_core": 0}
    with pytest.raises(ValueError, match="precision"):
        cache.cache_key("0", "10.3.0", ORIN, "int8")


def test_engine_from_another_gpu_or_version_says_how_to_rebuild(tmp_path):
    path = _engine(tmp_path, cache.cache_key("0" * 64, "10.3.0", ORIN, "fp16", 0))
    assert cache.check_engine(path, "10.3.0", ORIN)["model"]["cxrmt.size"] == "512"
    with pytest.raises(cache.EngineMismatchError) as err:
        cache.check_engine(path, "11.0.1", H100)
    msg = str(err.value)
    assert "tensorrt: built with 10.3.0, running 11.0.1" in msg
    assert "compute_capability: built with 8.7, running 9.0" in msg
    assert f"cxrmt export models/m.onnx --engine {path} --fp16 --dla 0" in msg


def test_missing_or_broken_sidecar(tmp_path):
    path = tmp_path / "m.plan"
    path.write_bytes(b"x")
    with pytest.raises(cache.EngineMismatchError, match="no sidecar m.plan.json"):
        cache.check_engine(path, "10.3.0", ORIN)
    (tmp_path / "m.plan.json").write_text("{not json")
    with pytest.raises(cache.EngineMismatchError, match="not valid JSON"):
        cache.read_sidecar(path)
    (tmp_path / "m.plan.json").write_text(json.dumps({"key": {}}))
    with pytest.raises(cache.EngineMismatchError, match="not a cxrmt engine sidecar"):
        cache.read_sidecar(path)


def test_cache_hit_only_for_the_identical_key(tmp_path):
    key = cache.cache_key("1" * 64, "10.3.0", ORIN, "fp16")
    path = _engine(tmp_path, key)
    assert cache.is_current(path, key)
    assert not cache.is_current(path, {**key, "onnx_sha256": "2" * 64})   # ONNX changed
    assert not cache.is_current(path, {**key, "precision": "fp32"})
    assert not cache.is_current(tmp_path / "other.engine", key)


@pytest.mark.parametrize("trt, onnx_prec, flag, dla, expect", [
    ("11.0.1", "fp16", False, None, {"strongly_typed": True, "fp16_flag": False,
                                     "precision": "fp16"}),
    ("11.0.1", "fp32", False, None, {"strongly_typed": True, "fp16_flag": False,
                                     "precision": "fp32"}),
    ("10.3.0", "fp32", True, None, {"strongly_typed": False, "fp16_flag": True,
                                    "precision": "fp16"}),
    ("10.3.0", "fp32", True, 0, {"strongly_typed": False, "fp16_flag": True, "precision": "fp16"}),
    ("10.3.0", "fp16", False, None, {"strongly_typed": True, "fp16_flag": False,
                                     "precision": "fp16"}),
    ("10.3.0", "fp32", False, None, {"strongly_typed": False, "fp16_flag": False,
                                     "precision": "fp32"}),
])
def test_build_plan_follows_tensorrt_precision_rules(trt, onnx_prec, flag, dla, expect):
    assert build_plan(trt, onnx_prec, flag, dla) == expect


def test_build_plan_refuses_what_tensorrt_cannot_do():
    with pytest.raises(ValueError, match="no FP16 builder flag.*--fp16"):
        build_plan("11.0.1", "fp32", True)
    with pytest.raises(ValueError, match="DLA path builds from the FP32 ONNX"):
        build_plan("10.3.0", "fp16", False, 0)
    assert build_plan("11.0.1", "fp16", False, 0)["precision"] == "fp16"   # DLA, strongly typed


needs_trt = pytest.mark.skipif(
    importlib.util.find_spec("tensorrt") is None or
    importlib.util.find_spec("cuda") is None,
    reason="TensorRT and cuda-python are not installed (cxrmt[gpu]; needs an NVIDIA GPU)")


@needs_trt
@pytest.mark.cuda
def test_engine_builds_runs_and_matches_onnx_runtime(tmp_path, rng):
    from cxrmt.export.engine import build_engine
    from cxrmt.runtime import open_runner
    from test_runtime_fixtures import affine_model

    onnx_path = affine_model(tmp_path / "m.onnx", 64)
    side = build_engine(onnx_path, str(tmp_path / "m.engine"))
    again = build_engine(onnx_path, str(tmp_path / "m.engine"))
    assert side["key"] == again["key"]                   # second call is a cache hit
    x = np.repeat(rng.uniform(-1, 1, (1, 1, 64, 64)).astype(np.float32), 3, axis=1)
    with open_runner(onnx_path) as a, open_runner(tmp_path / "m.engine") as b:
        assert (b.info.input_shape, b.info.task) == (a.info.input_shape, a.info.task)
        np.testing.assert_allclose(b.run(x), a.run(x), atol=1e-3)
