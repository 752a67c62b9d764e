"""ONNX Runtime latency, FP32 vs FP16 vs INT8 ONNX, at 256 and 512; the CPU runtimes side by side
(ONNX Runtime FP32/INT8, OpenVINO f32/bf16/INT8, one group per model); and the Predictor end to
end (2048² 12-bit radiograph -> masks, labels, colours, overlay, bone image), with GFLOP/s (of the
FP32 graph, so the INT8 figure is an effective rate).

Run:  pytest bench/bench_runtime.py --benchmark-only --benchmark-columns=median,min,max
      pytest bench/bench_runtime.py -k cpu_runtimes --benchmark-enable  (ratios in one run)
      CXRMT_BENCH_PAPER=1 ... adds the paper's full-width MTdG (ngf 64; its export peaks at ~15 GB
      and a few minutes, so it is off by default).
      CXRMT_BENCH_SLIM_NGF (default 16) sets the slim model's width.
Models are exported in a child process (TensorFlow never enters the timing process) into
build/bench-models/, reused across runs; the INT8 variant is calibrated on chest phantoms (the
weights are seeded, not trained). Without TensorFlow/tf2onnx the benchmarks skip.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cxrmt.export.phantom import phantom
from cxrmt.pipeline import Predictor
from cxrmt.runtime import open_runner

MODELS = Path(__file__).resolve().parents[1] / "build" / "bench-models"
SLIM_NGF = int(os.environ.get("CXRMT_BENCH_SLIM_NGF", "16"))
PAPER = os.environ.get("CXRMT_BENCH_PAPER") == "1"
CONFIGS = [("shipped", 32, 256), ("slim", SLIM_NGF, 256), ("slim", SLIM_NGF, 512),
           ("paper", 64, 256), ("paper", 64, 512)]

EXPORT = textwrap.dedent("""
    import sys, keras
    from cxrmt.export.onnx_export import export_onnx
    from cxrmt.export.fp16 import convert_fp16
    from cxrmt.model.build import build_networks
    ngf, size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    keras.utils.set_random_seed(0)
    g = build_networks("mtdg", size, ngf).generator
    export_onnx(g, out, window="auto")
    convert_fp16(out, out[:-5] + ".fp16.onnx")
""")


def _model(ngf: int, size: int, name: str = "") -> Path:
    """FP32 ONNX of an 8-level MTdG (weights seeded), exported once in a child process; for
    "shipped", the model inside the package."""
    if name == "shipped":
        from cxrmt.shipped import default_model
        return Path(default_model())
    path = MODELS / f"mtdg-ngf{ngf}-{size}.onnx"
    if not (path.exists() and path.with_suffix(".fp16.onnx").exists()):
        for mod in ("tensorflow", "tf2onnx", "onnxconverter_common"):
            pytest.importorskip(mod, reason=f"exporting the benchmark models needs {mod}")
        MODELS.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-c", EXPORT, str(ngf), str(size), str(path)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    return path


def _variant(fp32: Path, precision: str) -> Path:
    """The FP32, FP16 or INT8 ONNX of a benchmark model ("int8": shaped for ONNX Runtime,
    "int8-openvino": for OpenVINO)."""
    if precision == "fp32":
        return fp32
    path = MODELS / f"{fp32.stem}.{precision}.onnx"
    if precision.startswith("int8"):
        import cxrmt.export.int8 as int8
        sources = (fp32, Path(int8.__file__))    # rebuilt when the model or the exporter changes
        if not path.exists() or any(path.stat().st_mtime < p.stat().st_mtime for p in sources):
            MODELS.mkdir(parents=True, exist_ok=True)
            target = "openvino" if precision == "int8-openvino" else "onnxruntime"
            int8.quantize_int8(fp32, path, [phantom(700 + 50 * s, 600, seed=s) for s in range(8)],
                               target=target)
    return path


def _params(kind: tuple):
    out = []
    for name, ngf, size in CONFIGS:
        for prec in kind:
            if name == "shipped" and prec == "fp16":
                continue                      # its FP16-stored weights are the FP32 variant
            marks = [] if name != "paper" or PAPER else [pytest.mark.skip(
                reason="paper-width MTdG: set CXRMT_BENCH_PAPER=1 (its export peaks at ~15 GB)")]
            out.append(pytest.param(name, ngf, size, prec, marks=marks,
                                    id=f"{name}-ngf{ngf}-{size}-{prec}"))
    return out


def _report(benchmark, gflop: float) -> None:
    benchmark.extra_info["gflop"] = round(gflop, 2)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        median = stats.stats.median
        benchmark.extra_info["gflop_per_s"] = round(gflop / median, 1)
        print(f"\n{benchmark.name}: median {median * 1e3:.1f} ms, {gflop:.1f} GFLOP, "
              f"{gflop / median:.0f} GFLOP/s")


@pytest.mark.parametrize("name, ngf, size, precision", _params(("fp32", "fp16", "int8")))
def test_onnxruntime_latency(benchmark, name, ngf, size, precision):
    from cxrmt.export.flops import gflop

    fp32 = _model(ngf, size, name)
    path = _variant(fp32, precision)
    benchmark.group = f"onnxruntime-{name}-{size}"
    with Predictor(fp32, device="cpu") as p:   # a chest-like input inside INT8's calibration
        x = p.model_input(phantom(900, 800, seed=42))
        y_ref = p.runner.run(x)
    # One session at a time, so only the timed session's threads compete for the cores.
    with open_runner(path, device="cpu") as r:
        y = benchmark(r.run, x)
    assert y.shape == (1, 6, size, size) and np.isfinite(y).all()
    _assert_close(y, y_ref, precision)
    _report(benchmark, gflop(fp32))


# CPU runtime -> (model variant, open_runner options); OpenVINO INT8 runs its FP32 head at the
# backend's default precision ("auto": bf16 where the CPU has it).
RUNTIMES = {"onnxruntime-fp32": ("fp32", {}), "onnxruntime-int8": ("int8", {}),
            "openvino-f32": ("fp32", {"backend": "openvino", "precision": "f32"}),
            "openvino-bf16": ("fp32", {"backend": "openvino", "precision": "bf16"}),
            "openvino-int8": ("int8-openvino", {"backend": "openvino"})}


def _assert_close(y, y_ref, precision: str) -> None:
    """FP32 runs agree to rounding; bf16 and INT8 (calibrated on phantoms here) are judged by
    their bulk error, not one pixel."""
    err = np.abs(y - y_ref)
    if precision == "fp32":
        assert err.max() < 1e-4, err.max()
    elif precision == "fp16":
        assert err.max() < 0.05, err.max()
    else:
        assert np.percentile(err, 99) < 0.1 and err.mean() < 0.01, np.percentile(err, [99, 99.9])


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name, ngf, size", [p.values[:3] for p in _params(("fp32",))
                                             if p.values[0] in ("shipped", "paper")])
def test_cpu_runtimes(benchmark, name, ngf, size, runtime):
    """The shipped and paper-width MTdG on each CPU runtime, one group per model, so the
    ratios to ONNX Runtime FP32 (today's default) come from one run."""
    from cxrmt.export.flops import gflop
    from cxrmt.runtime.cpu import cpu_has_bf16

    if name == "paper" and not PAPER:
        pytest.skip("paper-width MTdG: set CXRMT_BENCH_PAPER=1 (its export peaks at ~15 GB)")
    variant, options = RUNTIMES[runtime]
    if "backend" in options:
        pytest.importorskip("openvino", reason="OpenVINO is not installed (cxrmt[openvino])")
    if options.get("precision") == "bf16" and not cpu_has_bf16():
        pytest.skip("this CPU has no AVX512-BF16/AMX")
    fp32 = _model(ngf, size, name)
    path = _variant(fp32, variant)
    benchmark.group = f"cpu-runtimes-{name}-{size}"
    with Predictor(fp32, device="cpu") as p:   # a chest-like input inside INT8's calibration
        x = p.model_input(phantom(900, 800, seed=42))
        y_ref = p.runner.run(x)
    with open_runner(path, device="cpu", **options) as r:   # one runtime at a time
        y = benchmark(r.run, x)
        benchmark.extra_info["precision"] = getattr(r, "inference_precision", variant)
    assert y.shape == (1, 6, size, size) and np.isfinite(y).all()
    _assert_close(y, y_ref, "fp32" if runtime.endswith(("fp32", "f32")) else "reduced")
    _report(benchmark, gflop(fp32))


@pytest.mark.parametrize("name, ngf, size, precision",
                         [p for p in _params(("fp32", "int8"))
                          if p.values[2] == 512 or p.values[0] == "shipped"])
def test_predictor_end_to_end_2048(benchmark, name, ngf, size, precision):
    """2048² 12-bit radiograph to every output; target: paper MTdG <= 0.5 s on 2 cores."""
    from cxrmt.export.flops import gflop

    img = phantom(2048, 2048, seed=3)
    benchmark.group = "predictor-2048-to-all-outputs"
    with Predictor(_variant(_model(ngf, size, name), precision), bits_stored=12,
                   device="cpu") as p:
        r = benchmark(p.run, img)
    assert r.masks.shape == (3, 2048, 2048) and r.bone_suppressed.shape == (2048, 2048)
    assert r.overlay.shape == (2048, 2048, 3)
    benchmark.extra_info.update({k: round(v, 1) for k, v in r.timings.items()})
    _report(benchmark, gflop(_model(ngf, size, name)))


JSRT = Path(os.environ.get("CXRMT_JSRT_DIR", Path(__file__).resolve().parents[2] / "shared" /
                           "data" / "jsrt-bse-scr"))


@pytest.mark.skipif(not (JSRT / "images").is_dir(), reason=f"BSE-JSRT data not at {JSRT}")
@pytest.mark.parametrize("size", [256])
def test_residual_transfer_beats_upsampling_on_real_images(size):
    """A perfect S×S bone-suppressed output (the BSE-JSRT target, area-reduced), decoded to
    512² by the Predictor: residual transfer keeps the radiograph's detail, upsampling loses it
    (RMSE on the 0-255 scale and 8x8 M-SSIM against the full-resolution target; "input" =
    doing nothing)."""
    import cv2

    from cxrmt.metrics.bone_suppression import mssim, rmse
    from cxrmt.io import read_image
    from cxrmt.runtime.base import ModelInfo, Runner

    class Oracle(Runner):                     # returns the target as the "model output"
        info = ModelInfo(size, "nhwc", "bse")

        def _infer(self, x):
            return self.output

    oracle = Oracle()
    scores = {f"{m}_{k}": [] for m in ("rmse", "mssim") for k in ("input", "residual", "resize")}
    ids = sorted(p.stem for p in (JSRT / "images").glob("*.png"))[:20]
    with Predictor(oracle) as res, Predictor(oracle, bone_mode="resize") as up:
        for cid in ids:
            img = read_image(JSRT / "images" / f"{cid}.png")
            target = read_image(JSRT / "bone_suppressed" / f"{cid}.png").pixels
            small = cv2.resize(target.astype(np.float32), (size, size),
                               interpolation=cv2.INTER_AREA)
            oracle.output = np.repeat((small / 127.5 - 1.0)[None, ..., None], 3, -1)
            outs = {"input": img.pixels, "residual": res.run(img).bone_suppressed, "resize": up.run(img).bone_suppressed}
            for k, out in outs.items():
                scores[f"rmse_{k}"].append(rmse(out, target))
                scores[f"mssim_{k}"].append(mssim(out, target))
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    print(f"\nBSE-JSRT, {len(ids)} cases, perfect {size}² output decoded to 512²: " +
          ", ".join(f"{k} {v:.4g}" for k, v in mean.items()))
    assert mean["rmse_residual"] < min(mean["rmse_input"], mean["rmse_resize"])
    assert mean["mssim_residual"] > max(mean["mssim_input"], mean["mssim_resize"])
