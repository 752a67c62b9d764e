"""The console example csrc/examples/cxrmt_infer.cpp (over cxrmt.hpp), built against the
installed package with find_package(cxrmt) and libpng, against `cxrmt infer` on the same files;
and the C pipeline's bad-argument handling from C (tests/c/pipeline_args.c)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrmt import kernels as k
from cxrmt.runtime import native

ROOT = Path(__file__).resolve().parents[1]
CMAKE, CC = shutil.which("cmake"), shutil.which("cc") or shutil.which("gcc")

pytestmark = [
    pytest.mark.skipif(not native.engines().get("onnxruntime"),
                       reason="libcxrmt built without the ONNX Runtime engine (CXRMT_ONNXRUNTIME)"),
    pytest.mark.skipif(native.onnxruntime_library() is None,
                       reason="the onnxruntime wheel (its libonnxruntime.so) is not installed"),
    pytest.mark.skipif(CMAKE is None or CC is None, reason="needs cmake and a C/C++ compiler"),
]


def consumer(tmp: Path, flags: str = "") -> Path:
    """Configure and build the example as an outside project would; skip without libpng."""
    src = tmp / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.22)\nproject(consumer CXX)\n"
        "find_package(cxrmt REQUIRED)\nfind_package(PNG)\nfind_package(Threads REQUIRED)\n"
        "if(NOT PNG_FOUND)\n  message(FATAL_ERROR \"NO_LIBPNG\")\nendif()\n"
        f"add_executable(cxrmt-infer {(ROOT / 'csrc/examples/cxrmt_infer.cpp').as_posix()})\n"
        "target_link_libraries(cxrmt-infer PRIVATE cxrmt::cxrmt PNG::PNG Threads::Threads)\n")
    build = tmp / "build"
    cfg = subprocess.run([CMAKE, "-S", str(src), "-B", str(build), f"-Dcxrmt_DIR={k.cmake_dir()}",
                          "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_CXX_FLAGS={flags}"],
                         capture_output=True, text=True)
    if "NO_LIBPNG" in cfg.stdout + cfg.stderr:
        pytest.skip("libpng's development files are not installed (Debian: libpng-dev)")
    assert cfg.returncode == 0, cfg.stderr
    subprocess.run([CMAKE, "--build", str(build)], check=True, capture_output=True)
    return build / "cxrmt-infer"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return consumer(tmp_path_factory.mktemp("example"))


@pytest.fixture(scope="module")
def shipped():
    from cxrmt.shipped import default_model
    return str(default_model())


def run_example(exe, image, prefix, *args):
    env = dict(os.environ, CXRMT_ONNXRUNTIME_LIBRARY=native.onnxruntime_library())
    return subprocess.run([str(exe), str(image), str(prefix), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def inputs(tmp: Path) -> list:
    """The shipped NIH film (8-bit, 1024²) and a 16-bit non-square PNG made from it."""
    from cxrmt.samples import demo_radiograph
    film = read(demo_radiograph())
    sixteen = tmp / "sixteen.png"
    crop = cv2.resize(film[100:900, 50:1000], (500, 420), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(sixteen), crop.astype(np.uint16) * 257 + np.uint16(3))
    return [Path(demo_radiograph()), sixteen]


@pytest.mark.parametrize("flags", [[], ["--clean", "--full-range", "--alpha", "90"],
                                   ["--percentile", "2", "98"], ["--window", "20", "230"]])
def test_example_writes_what_cxrmt_infer_writes(example, shipped, tmp_path, flags):
    from cxrmt.cli import main

    for image in inputs(tmp_path):
        stem = image.stem
        ours = tmp_path / "c"
        ours.mkdir(exist_ok=True)
        run = run_example(example, image, ours / stem, "--model", shipped, "--labels", *flags)
        assert run.returncode == 0, run.stderr
        theirs = tmp_path / "py"
        assert main(["infer", str(image), "--out", str(theirs), "--model", shipped, "--quiet",
                     "--force", "--backend", "onnxruntime",
                     "--outputs", "bse,seg,overlay,labels,json",
                     *flags]) == 0
        for suffix in ("_seg.png", "_overlay.png", "_labels.png"):
            np.testing.assert_array_equal(read(ours / (stem + suffix)),
                                          read(theirs / (stem + suffix)), err_msg=suffix)
        a, b = read(ours / f"{stem}_bse.png"), read(theirs / f"{stem}_bse.png")
        assert a.dtype == b.dtype == read(image).dtype
        assert np.abs(a.astype(np.int64) - b.astype(np.int64)).max() <= 1
        cj = json.loads((ours / f"{stem}.json").read_text())
        pj = json.loads((theirs / f"{stem}.json").read_text())
        assert cj["organs"] == pj["organs"]
        assert cj["cardiothoracic_ratio"] == pj["cardiothoracic_ratio"]
        assert cj["window"]["lo"] == pytest.approx(pj["window"]["lo"], rel=1e-6)
        assert cj["window"]["hi"] == pytest.approx(pj["window"]["hi"], rel=1e-6)
        assert cj["input"]["dtype"] == pj["input"]["dtype"]
        assert set(cj["timings_ms"]) == set(pj["timings_ms"])


def test_example_reports_bad_input(example, shipped, tmp_path):
    text = tmp_path / "x.png"
    text.write_text("not a png")
    run = run_example(example, text, tmp_path / "x", "--model", shipped)
    assert run.returncode == 1 and "x.png" in run.stderr
    run = run_example(example, tmp_path / "none.png", tmp_path / "x", "--model", shipped)
    assert run.returncode == 1 and "none.png: cannot open" in run.stderr
    colour = tmp_path / "colour.png"
    cv2.imwrite(str(colour), np.dstack([np.zeros((8, 8), np.uint8), np.full((8, 8), 200, np.uint8),
                                        np.zeros((8, 8), np.uint8)]))
    run = run_example(example, colour, tmp_path / "x", "--model", shipped)
    assert run.returncode == 1 and "colour image" in run.stderr
    assert not list(tmp_path.glob("x_*.png"))
    assert run_example(example, colour, tmp_path / "x").returncode == 2   # no --model


def test_c_bad_arguments_are_status_codes_naming_the_argument(shipped, tmp_path):
    exe = tmp_path / "pipeline_args"
    lib = k.library_path()
    subprocess.run([CC, "-std=c99", "-Wall", "-Werror", str(ROOT / "tests/c/pipeline_args.c"),
                    "-I", str(k.include_dir()), str(lib), f"-Wl,-rpath,{lib.parent}", "-pthread",
                    "-o", str(exe)],
                   check=True)
    env = dict(os.environ, CXRMT_ONNXRUNTIME_LIBRARY=native.onnxruntime_library())
    run = subprocess.run([str(exe), shipped], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    out = dict(line.split("=", 1) for line in run.stdout.strip().splitlines())
    invalid = {"create_null_out": "pipeline: NULL", "create_null_path": "model_path: NULL",
               "create_missing": "model_path: /nonexistent/m.onnx: no such model file",
               "create_bad_device": "options.device", "info_null_pipeline": "pipeline: NULL",
               "info_null_info": "info: NULL", "sizes_null_image": "image: NULL",
               "sizes_null_sizes": "sizes: NULL", "run_null_pipeline": "pipeline: NULL",
               "run_null_image": "image: NULL", "run_null_outputs": "outputs: NULL",
               "run_small_masks": "outputs.masks_size: 10 bytes, the image needs 576",
               "run_bad_dtype": "image.dtype: unknown value 9", "run_null_pixels": "image",
               "run_bad_window": "options.window", "run_bad_spacing": "options.spacing_mm"}
    for case, message in invalid.items():
        status, text = out[case].split("|", 1)
        assert status == "1" and message in text, (case, out[case])
    assert out["create_missing_pipeline_null"] == "1"
    assert out["create"] == "0|" and out["sizes"] == "0|" and out["run_ok"] == "0|"
    assert out["sizes_values"] == f"{3 * 192} 192 {3 * 192} {3 * 192} 192 0"
    assert out["run_ok_total_ms_positive"] == "1"
    assert out["threads_identical"] == "1"
