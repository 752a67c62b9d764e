"""The C pipeline (cxrmt_pipeline_run over ONNX Runtime's C API, through _core.Pipeline) against
the Python Predictor, end to end in memory on the same model and radiograph: window, preprocess,
network, decode, colours, overlay, bone image at the input's depth and the measurements; what
`cxrmt infer` computes per image before encoding. Each timed run also asserts the outputs agree
(masks and overlay identical, bone image within one grey level).

Run:  pytest bench/bench_capi.py --benchmark-enable --benchmark-columns=median,min,max
Without --benchmark-enable (CI) each runs once on a 512² image: a correctness check. Groups
`capi-2048` (the 2048² 16-bit film of cxr_inputs) and `capi-512`.
"""

import numpy as np
import pytest
from cxr_inputs import radiograph

from cxrmt.runtime import native

pytestmark = pytest.mark.skipif(
    not native.engines().get("onnxruntime") or native.onnxruntime_library() is None,
    reason="libcxrmt built without the ONNX Runtime engine, or no onnxruntime wheel")


def _timed(config) -> bool:
    return bool(config.getoption("benchmark_enable")) or not config.getoption("benchmark_disable")


@pytest.fixture(scope="module")
def model():
    from cxrmt.shipped import default_model
    return str(default_model())


def _image(request, size):
    return radiograph(size if _timed(request.config) else 512)


def _python(model):
    from cxrmt.infer.measure import measurements
    from cxrmt.infer.run import bone_like_input
    from cxrmt.io import Radiograph
    from cxrmt.pipeline import DecodeOptions, Predictor

    p = Predictor(model, decode=DecodeOptions(bone_dtype="uint16"), device="cpu",
                  kernel_device="cpu")

    def run(pixels):
        r = p.run(Radiograph(pixels, 65535.0, None, "<memory>", {}))
        return r, bone_like_input(r.bone_suppressed, pixels, 65535.0), measurements(r.masks)
    return p, run


def _c(model):
    pipe = native.open_pipeline(model, device="cpu")
    return lambda pixels: pipe.run(pixels, white=65535.0)


@pytest.mark.parametrize("size", [2048, 512])
@pytest.mark.parametrize("impl", ["c", "python"])
def test_pipeline(benchmark, request, model, impl, size):
    benchmark.group = f"capi-{size}"
    pixels = _image(request, size)
    predictor, py_run = _python(model)
    c_run = _c(model)
    try:
        ref, ref_bone, ref_meas = py_run(pixels)
        got = c_run(pixels)
        np.testing.assert_array_equal(got["masks"], ref.masks)
        np.testing.assert_array_equal(got["overlay"], ref.overlay)
        assert np.abs(got["bone_suppressed"].astype(int) - ref_bone.astype(int)).max() <= 1
        assert got["measurements"]["organs"] == {o: {k: v for k, v in m.items()}
                                                 for o, m in ref_meas["organs"].items()}
        fn = c_run if impl == "c" else py_run
        benchmark.pedantic(fn, args=(pixels,), rounds=5 if _timed(request.config) else 1,
                           warmup_rounds=1 if _timed(request.config) else 0)
        stats = getattr(benchmark, "stats", None)
        if stats is not None:
            benchmark.extra_info["median_ms"] = round(stats.stats.median * 1e3, 1)
    finally:
        predictor.close()


@pytest.mark.parametrize("size", [2048])
def test_interleaved(benchmark, request, model, size):
    """C and Python alternated round by round (the ratio to quote on a shared machine): both
    medians and C's speed-up in extra_info; the benchmark's own timing is the C pipeline's."""
    import time

    benchmark.group = f"capi-{size}-interleaved"
    rounds = 15 if _timed(request.config) else 1
    pixels = _image(request, size)
    predictor, py_run = _python(model)
    c_run = _c(model)
    times = {"c": [], "python": []}
    try:
        for _ in range(rounds):
            for name, fn in (("c", c_run), ("python", py_run)):
                t0 = time.perf_counter()
                fn(pixels)
                times[name].append(time.perf_counter() - t0)
        benchmark.pedantic(c_run, args=(pixels,), rounds=1)
    finally:
        predictor.close()
    c_ms, py_ms = (float(np.median(times[k])) * 1e3 for k in ("c", "python"))
    benchmark.extra_info.update(c_ms=round(c_ms, 1), python_ms=round(py_ms, 1),
                                speedup=round(py_ms / c_ms, 2))
    print(f"\ncapi interleaved {size}²: C {c_ms:.1f} ms, Python {py_ms:.1f} ms "
          f"(x{py_ms / c_ms:.2f})")
