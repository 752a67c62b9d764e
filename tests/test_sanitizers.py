"""libcxrmt, cxrmt-infer and the C bad-argument program built with AddressSanitizer and UBSan
(leak checks on) in a temporary build folder, then run on the shipped film and model: no report,
same outputs as the ordinary build. About 35 s of compiling on 2 cores; needs ONNX Runtime's
headers (ONNXRUNTIME_ROOT, as .ci/run exports), libpng and a compiler with the sanitizers."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from cxrmt.runtime import native

ROOT = Path(__file__).resolve().parents[1]
CMAKE, CC = shutil.which("cmake"), shutil.which("cc") or shutil.which("gcc")
SAN = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CMAKE is None or CC is None, reason="needs cmake and a C/C++ compiler"),
    pytest.mark.skipif(not os.environ.get("ONNXRUNTIME_ROOT"),
                       reason="set ONNXRUNTIME_ROOT to ONNX Runtime's headers "
                              "(csrc/cmake/get_onnxruntime_headers.sh; .ci/run does)"),
    pytest.mark.skipif(native.onnxruntime_library() is None, reason="no onnxruntime wheel"),
]


def _sanitizers_work(tmp: Path) -> bool:
    src = tmp / "probe.c"
    src.write_text("int main(void) { return 0; }\n")
    return subprocess.run([CC, *SAN.split(), str(src), "-o", str(tmp / "probe")],
                          capture_output=True).returncode == 0


def test_pipeline_clean_under_asan_and_ubsan(tmp_path):
    if not _sanitizers_work(tmp_path):
        pytest.skip("the compiler has no AddressSanitizer/UBSan runtime")
    build = tmp_path / "build"
    t0 = time.perf_counter()
    cfg = subprocess.run([CMAKE, "-S", str(ROOT), "-B", str(build), "-DCXRMT_CUDA=OFF",
                          "-DCXRMT_PYTHON=OFF", "-DCXRMT_EXAMPLES=ON", "-DCXRMT_ONNXRUNTIME=ON",
                          f"-DONNXRUNTIME_ROOT={os.environ['ONNXRUNTIME_ROOT']}",
                          "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DCMAKE_CXX_FLAGS={SAN}",
                          f"-DCMAKE_C_FLAGS={SAN}", f"-DCMAKE_EXE_LINKER_FLAGS={SAN}",
                          f"-DCMAKE_SHARED_LINKER_FLAGS={SAN}"], capture_output=True, text=True)
    if cfg.returncode != 0 and "PNG" in cfg.stderr:
        pytest.skip("libpng's development files are not installed")
    assert cfg.returncode == 0, cfg.stderr
    subprocess.run([CMAKE, "--build", str(build), "-j2"], check=True, capture_output=True)
    args = build / "pipeline_args"
    subprocess.run([CC, "-std=c99", *SAN.split(), str(ROOT / "tests/c/pipeline_args.c"),
                    "-I", str(ROOT / "csrc/include"), str(build / "libcxrmt.so"),
                    f"-Wl,-rpath,{build}", "-pthread", "-o", str(args)], check=True)
    built_s = time.perf_counter() - t0

    from cxrmt.samples import demo_radiograph
    from cxrmt.shipped import default_model
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1",
               CXRMT_ONNXRUNTIME_LIBRARY=native.onnxruntime_library())
    runs = [[build / "cxrmt_example"], [args, default_model()],
            [build / "cxrmt-infer", demo_radiograph(), tmp_path / "film",
             "--model", default_model(), "--clean", "--labels"]]
    t1 = time.perf_counter()
    for cmd in runs:
        run = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=300,
                             env=env)
        report = run.stderr
        assert run.returncode == 0, report[-4000:]
        assert "Sanitizer" not in report and "runtime error:" not in report, report[-4000:]
    assert (tmp_path / "film_bse.png").is_file() and (tmp_path / "film.json").is_file()
    print(f"\nsanitizer build {built_s:.1f} s, runs {time.perf_counter() - t1:.1f} s")
