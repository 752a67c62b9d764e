"""CMake's CXRMT_ONNXRUNTIME option (configure only, a few seconds each): ON without headers
fails saying what to set, AUTO warns and builds without the engine, and the headers are found
from ONNXRUNTIME_ROOT or from an ONNX Runtime CMake package (onnxruntime_DIR), whose library
becomes the engine's default."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CMAKE = shutil.which("cmake")
pytestmark = pytest.mark.skipif(CMAKE is None, reason="needs cmake")


def configure(build: Path, *defines: str):
    env = {k: v for k, v in os.environ.items() if k != "ONNXRUNTIME_ROOT"}
    run = subprocess.run([CMAKE, "-S", str(ROOT), "-B", str(build), "-DCXRMT_CUDA=OFF",
                          "-DCXRMT_PYTHON=OFF", *defines], capture_output=True, text=True, env=env)
    run.stdout, run.stderr = " ".join(run.stdout.split()), " ".join(run.stderr.split())  # unwrap
    return run


def fake_onnxruntime(prefix: Path) -> Path:
    """A prefix with ONNX Runtime's C header and CMake package (library file empty)."""
    (prefix / "include" / "onnxruntime").mkdir(parents=True)
    (prefix / "include" / "onnxruntime" / "onnxruntime_c_api.h").write_text(
        "#define ORT_API_VERSION 21\n")
    lib = prefix / "lib" / "libonnxruntime.so.1.21.0"
    cfg = prefix / "lib" / "cmake" / "onnxruntime"
    cfg.mkdir(parents=True)
    lib.write_bytes(b"")
    (cfg / "onnxruntimeConfig.cmake").write_text(
        "add_library(onnxruntime::onnxruntime SHARED IMPORTED)\n"
        "set_target_properties(onnxruntime::onnxruntime PROPERTIES\n"
        f"  INTERFACE_INCLUDE_DIRECTORIES \"{prefix.as_posix()}/include/onnxruntime\"\n"
        f"  IMPORTED_LOCATION \"{lib.as_posix()}\")\n")
    return cfg


def test_on_without_headers_fails_clearly(tmp_path):
    run = configure(tmp_path / "b", "-DCXRMT_ONNXRUNTIME=ON", f"-DONNXRUNTIME_ROOT={tmp_path}/none")
    assert run.returncode != 0
    assert "CXRMT_ONNXRUNTIME=ON but onnxruntime_c_api.h was not found" in run.stderr


def test_auto_without_headers_warns_and_builds_without(tmp_path):
    run = configure(tmp_path / "b", f"-DONNXRUNTIME_ROOT={tmp_path}/none")
    assert run.returncode == 0, run.stderr
    assert "WITHOUT the C pipeline's ONNX Runtime engine" in run.stderr
    assert "ONNX Runtime engine OFF" in run.stdout


def test_off_skips_it(tmp_path):
    cfg = fake_onnxruntime(tmp_path / "ort")
    run = configure(tmp_path / "b", "-DCXRMT_ONNXRUNTIME=OFF", f"-Donnxruntime_DIR={cfg}")
    assert run.returncode == 0 and "ONNX Runtime engine OFF" in run.stdout


def test_headers_from_onnxruntime_root(tmp_path):
    fake_onnxruntime(tmp_path / "ort")
    run = configure(tmp_path / "b", f"-DONNXRUNTIME_ROOT={tmp_path / 'ort'}")
    assert run.returncode == 0, run.stderr
    assert f"headers {tmp_path / 'ort' / 'include' / 'onnxruntime'}" in run.stdout


def test_headers_and_library_from_an_onnxruntime_package(tmp_path):
    cfg = fake_onnxruntime(tmp_path / "ort")
    run = configure(tmp_path / "b", f"-Donnxruntime_DIR={cfg}")
    assert run.returncode == 0, run.stderr
    assert f"headers {tmp_path / 'ort' / 'include' / 'onnxruntime'}" in run.stdout
    lib = tmp_path / "ort" / "lib" / "libonnxruntime.so.1.21.0"
    assert f"default library '{lib}'" in run.stdout


def test_build_info_reports_the_engines_this_build_has(tmp_path):
    """`cxrmt info`'s engines say whether a model can open: a build without the ONNX Runtime
    engine says so, naming the CMake option."""
    from cxrmt import kernels
    from cxrmt.runtime import native

    engines = kernels.build_info()["engines"]
    assert set(engines) == {"onnxruntime", "tensorrt"}
    assert all(isinstance(v, bool) for v in engines.values())
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    with pytest.raises(RuntimeError) as err:
        native.open_pipeline(model)
    if engines["onnxruntime"]:
        assert "cannot open the model" in str(err.value)
    else:
        assert "CXRMT_ONNXRUNTIME" in str(err.value)
    with pytest.raises((RuntimeError, ValueError)) as err:
        native.open_pipeline(tmp_path / "m.engine")
    assert ("CXRMT_TENSORRT" in str(err.value)) == (not engines["tensorrt"])


def test_a_vanished_or_changed_header_folder_is_searched_again(tmp_path):
    fake_onnxruntime(tmp_path / "a")
    fake_onnxruntime(tmp_path / "b")
    build = tmp_path / "build"
    for name in ("a", "b"):
        run = configure(build, f"-DONNXRUNTIME_ROOT={tmp_path / name}")
        assert f"headers {tmp_path / name}" in run.stdout
    shutil.rmtree(tmp_path / "b")
    assert "ONNX Runtime engine OFF" in configure(build).stdout
