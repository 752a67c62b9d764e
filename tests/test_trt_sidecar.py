"""The C++ TensorRT engine's sidecar check (csrc/src/trt_sidecar.cpp) against the Python one
(cxrmt/runtime/engine_cache.py): same accepted engines, metadata, rebuild commands and messages.
Runs without TensorRT: the check is compiled alone with a small driver (tests/cpp)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cxrmt.runtime import engine_cache as cache

ROOT = Path(__file__).resolve().parents[1]
CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
SYSTEM = {"tensorrt": "10.3.0", "gpu": "NVIDIA H200", "compute_capability": "9.0"}
MODEL = {"cxrmt.size": "512", "cxrmt.layout": "nhwc", "cxrmt.task": "mt",
         "cxrmt.palette": "[[0, 0, 0], [0, 0, 255], [0, 255, 0], [255, 0, 0]]"}


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    if CXX is None:
        pytest.skip("no C++ compiler on PATH")
    exe = tmp_path_factory.mktemp("trt_sidecar") / "trt_sidecar_driver"
    src = ROOT / "csrc" / "src"
    subprocess.run([CXX, "-std=c++17", "-O0", "-Wall", "-Wextra", "-Werror", f"-I{src}",
                    str(src / "json.cpp"), str(src / "trt_sidecar.cpp"),
                    str(ROOT / "tests" / "cpp" / "trt_sidecar_driver.cpp"), "-o", str(exe)],
                   check=True)
    return exe


def check_cpp(driver, engine, system=SYSTEM):
    run = subprocess.run([str(driver), str(engine), system["tensorrt"], system["gpu"],
                          system["compute_capability"]], capture_output=True, text=True, timeout=30)
    status, *lines = run.stdout.rstrip("\n").split("\n")
    assert run.returncode == (0 if status == "ok" else 1), run.stderr
    if status == "error":
        return "\n".join(lines)
    fields = dict(line.split("=", 1) for line in lines if not line.startswith("meta:"))
    fields["meta"] = dict(line[5:].split("=", 1) for line in lines if line.startswith("meta:"))
    return fields


def check_python(engine, system=SYSTEM):
    """What the Python runtime accepts (trt_backend.TensorRTRunner) or its error message."""
    try:
        sidecar = cache.check_engine(engine, system["tensorrt"],
                                     {k: system[k] for k in ("gpu", "compute_capability")})
    except cache.EngineMismatchError as exc:
        return str(exc)
    dla = sidecar["key"].get("dla_core")
    return {"precision": sidecar["key"]["precision"], "dla": "none" if dla is None else str(dla),
            "rebuild": cache.rebuild_command(sidecar, engine),
            "meta": {**sidecar["model"], "cxrmt.precision": sidecar["key"]["precision"]}}


def engine(tmp_path, name="model.engine", model=MODEL, build=None, **key):
    path = tmp_path / name
    path.write_bytes(b"plan")
    k = cache.cache_key("ab" * 32, SYSTEM["tensorrt"], SYSTEM, "fp16", None)
    k.update(key)
    cache.write_sidecar(path, k, model, build if build is not None else
                        {"onnx": "m.onnx", "fp16_flag": True})
    return path


@pytest.mark.parametrize("name, key, build", [
    ("model.engine", {}, None),                             # this system: accepted
    ("model.engine", {"dla_core": 0, "precision": "fp32"}, {"onnx": "models/m.onnx"}),
    ("model.engine", {"gpu": "Orin (nvgpu)"}, None),        # another GPU
    ("model.engine", {"compute_capability": "8.7", "dla_core": 1}, None),
    ("model.engine", {"tensorrt": "11.1.0"}, {"onnx": "my model's.onnx", "fp16_flag": False}),
    ("with space/m.engine", {"tensorrt": "10.3.00", "gpu": "A", "compute_capability": "7.5"}, {}),
])
def test_same_outcome_as_python(driver, tmp_path, name, key, build):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    path = engine(tmp_path, name, build=build, **key)
    expected = check_python(path)
    assert check_cpp(driver, path) == expected
    accepted = not ({"gpu", "compute_capability", "tensorrt"} & set(key))
    assert isinstance(expected, dict) == accepted  # the cases mean what they say


def test_missing_and_broken_sidecars_same_message(driver, tmp_path):
    bare = tmp_path / "bare.engine"
    bare.write_bytes(b"plan")
    assert check_cpp(driver, bare) == check_python(bare)
    assert "no sidecar bare.engine.json" in check_cpp(driver, bare)
    partial = tmp_path / "partial.engine"
    partial.write_bytes(b"plan")
    Path(cache.sidecar_path(partial)).write_text(json.dumps({"key": {}}))
    assert check_cpp(driver, partial) == check_python(partial)
    broken = tmp_path / "broken.engine"
    broken.write_bytes(b"plan")
    Path(cache.sidecar_path(broken)).write_text('{"key": ')
    prefix = f"{cache.sidecar_path(broken)}: not valid JSON ("
    assert check_python(broken).startswith(prefix) and check_cpp(driver, broken).startswith(prefix)


def test_tensorrt_version_with_build_number(driver, tmp_path):
    """Python's trt.__version__ may be "10.3.0.26"; the C++ library reports 10.3.0."""
    assert check_cpp(driver, engine(tmp_path, "a.engine", tensorrt="10.3.0.26"))["precision"] == "fp16"
    assert "tensorrt: built with 10.3.00, running 10.3.0" in check_cpp(
        driver, engine(tmp_path, "b.engine", tensorrt="10.3.00"))
    assert "tensorrt: built with 10.3.0.26, running 10.3.1" in check_cpp(
        driver, engine(tmp_path, "c.engine", tensorrt="10.3.0.26"), {**SYSTEM, "tensorrt": "10.3.1"})


def test_numbers_and_bad_fields(driver, tmp_path):
    meta = check_cpp(driver, engine(tmp_path, "n.engine", model={"cxrmt.size": 512}))["meta"]
    assert meta == {"cxrmt.size": "512", "cxrmt.precision": "fp16"}   # str(512), as Python reads it
    msg = check_cpp(driver, engine(tmp_path, "p.engine", precision="int8"))
    assert msg == f"{tmp_path}/p.engine.json: key.precision must be \"fp32\" or \"fp16\" (got int8)"
    msg = check_cpp(driver, engine(tmp_path, "d.engine", dla_core="zero"))
    assert "key.dla_core must be null or a DLA core number (got zero)" in msg


@pytest.mark.skipif(not os.environ.get("CXRMT_TRT_HEADERS"),
                    reason="CXRMT_TRT_HEADERS not set (NVIDIA/TensorRT's include/; see trt/README.md)")
def test_engine_compiles_against_tensorrt_headers():
    """The TensorRT engine with -Wall -Wextra -Wpedantic -Werror against NVIDIA's headers."""
    run = subprocess.run(["bash", str(ROOT / "trt" / "check_compile.sh"),
                          os.environ["CXRMT_TRT_HEADERS"]], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("ok: ") == 2
