"""Compile the C example against the installed header and library, run it, and check its numbers
against the Python API and an independent numpy computation."""
import shutil
import subprocess

import numpy as np
import pytest

from cxrmt import kernels as k
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "csrc" / "examples" / "cxrmt_example.c"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")


@pytest.fixture(scope="module")
def example_output(tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler on PATH")
    exe = tmp_path_factory.mktemp("c_api") / "cxrmt_example"
    lib = k.library_path()
    assert (k.include_dir() / "cxrmt" / "cxrmt.h").is_file() and lib.exists()
    subprocess.run([CC, "-std=c99", "-Wall", "-Werror", str(EXAMPLE), "-I", str(k.include_dir()), str(lib),
                    f"-Wl,-rpath,{lib.parent}", "-o", str(exe)], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return dict(line.split("=", 1) for line in run.stdout.strip().splitlines())


def test_c_example_matches_python(example_output):
    h, w, s = 300, 200, 64
    yy, xx = np.mgrid[:h, :w]
    img = ((yy * 13 + xx * 7) % 4096).astype(np.uint16)
    x, f = k.preprocess(img, s, bits_stored=12)
    assert example_output["frame"] == f"{h} {w} {s} {f.pad_top} {f.pad_bottom} {f.pad_left} {f.pad_right}"
    assert float(example_output["input_sum"]) == pytest.approx(float(x.astype(np.float64).sum()), abs=1e-2)
    # Identity bone output -> the original back, in 8 bits (numpy reference).
    ref_bone = np.floor(img / 4095 * 255 + 0.5).astype(np.int64)
    assert abs(int(example_output["bone_sum"]) - ref_bone.sum()) <= img.size // 100
    out = np.concatenate([np.where(x[..., :1] > 0, 1.0, -1.0), -np.ones_like(x[..., :2]), x], -1).astype(np.float32)
    labels = k.decode(out, f, bone_suppressed=False)["labels"]
    assert int(example_output["heart_pixels"]) == int((labels == 3).sum()) > 0
    assert int(example_output["overlay_red_sum"]) == int(k.overlay(img, f, labels)[..., 0].astype(np.int64).sum())


def test_c_example_reports_errors(example_output):
    assert example_output["api_version"] == "3"
    assert example_output["bad_size_status"] == "1"  # CXRMT_ERROR_INVALID_ARGUMENT
    assert "size: must be positive" in example_output["bad_size_error"]
    assert example_output["cuda_available"] == str(int(k.cuda_available()))


def test_cmake_package_is_installed():
    cfg = k.cmake_dir()
    assert (cfg / "cxrmtConfig.cmake").is_file() and (cfg / "cxrmtTargets.cmake").is_file()


@pytest.mark.skipif(shutil.which("cmake") is None or CC is None, reason="needs cmake and a C compiler")
def test_find_package_consumer_builds_and_runs(tmp_path):
    """A project that builds from source: find_package(cxrmt) and link cxrmt::cxrmt."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(consumer C)\n"
        "find_package(cxrmt 0.1 REQUIRED)\n"
        f"add_executable(example {EXAMPLE.as_posix()})\n"
        "target_link_libraries(example PRIVATE cxrmt::cxrmt)\n")
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(src), "-B", str(build), f"-Dcxrmt_DIR={k.cmake_dir()}"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    run = subprocess.run([str(build / "example")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "bad_size_status=1" in run.stdout


NM, CXXFILT, CMAKE = shutil.which("nm"), shutil.which("c++filt"), shutil.which("cmake")
ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set:
    """Names the public headers declare: the C API (cxrmt.h) and the C++ API (core.hpp)."""
    import re
    inc = ROOT / "csrc" / "include" / "cxrmt"
    c_api = set(re.findall(r"CXRMT_EXPORT [^;(]*?\b(cxrmt_\w+)\(", (inc / "cxrmt.h").read_text()))
    cpp = inc / "core.hpp"
    text, names, space = cpp.read_text(), set(), []
    for line in text.splitlines():   # namespaces in order, then "CXRMT_CPP_API type name("
        if m := re.match(r"namespace (\w+) \{", line):
            space.append(m.group(1))
        elif line.startswith("}  // namespace"):
            space.pop()
        elif m := re.match(r"CXRMT_CPP_API [\w:]+ (\w+)\(", line):
            names.add("::".join([*space, m.group(1)]))
    return c_api | names


@pytest.mark.skipif(NM is None or CXXFILT is None, reason="needs binutils (nm, c++filt)")
def test_the_library_exports_only_the_declared_apis():
    out = subprocess.run([NM, "-D", "--defined-only", str(k.library_path())], capture_output=True,
                         text=True, check=True).stdout
    names = subprocess.run([CXXFILT], input=out, capture_output=True, text=True,
                           check=True).stdout
    ours = {line.split(" ", 2)[2].split("(")[0].split("[")[0]
            for line in names.splitlines() if " cxrmt" in line}
    declared = _declared()
    assert len(declared) > 30 and "cxrmt_decode" in declared and "cxrmt::cuda::decode" in declared
    assert not {n for n in ours if "detail" in n}, "internal C++ symbols are exported"
    assert ours <= declared, sorted(ours - declared)
    assert {n for n in declared if n.startswith("cxrmt_")} <= ours   # the C API is all there


@pytest.mark.skipif(CMAKE is None or CC is None, reason="needs cmake and a C compiler")
def test_standalone_install_is_found_from_a_moved_prefix(tmp_path):
    """`cmake --install` outside pip (GNU layout), then the prefix moved elsewhere: a consumer's
    find_package(cxrmt) still finds it, builds the example and runs it."""
    build, prefix = tmp_path / "build", tmp_path / "prefix"
    subprocess.run([CMAKE, "-S", str(ROOT), "-B", str(build), "-DCXRMT_CUDA=OFF",
                    "-DCXRMT_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   capture_output=True)
    subprocess.run([CMAKE, "--build", str(build), "-j2"], check=True, capture_output=True)
    subprocess.run([CMAKE, "--install", str(build), "--prefix", str(prefix)], check=True,
                   capture_output=True)
    moved = tmp_path / "elsewhere"
    prefix.rename(moved)
    src = tmp_path / "consumer"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.22)\nproject(consumer C)\n"
        "find_package(cxrmt 0.1 REQUIRED)\n"
        f"add_executable(example {EXAMPLE.as_posix()})\n"
        "target_link_libraries(example PRIVATE cxrmt::cxrmt)\n")
    cbuild = tmp_path / "cbuild"
    cfg = subprocess.run([CMAKE, "-S", str(src), "-B", str(cbuild),
                          f"-DCMAKE_PREFIX_PATH={moved}"], capture_output=True, text=True)
    assert cfg.returncode == 0, cfg.stderr
    subprocess.run([CMAKE, "--build", str(cbuild)], check=True, capture_output=True)
    run = subprocess.run([str(cbuild / "example")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "bad_size_status=1" in run.stdout and "api_version=3" in run.stdout
