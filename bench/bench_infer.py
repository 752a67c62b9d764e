"""`cxrmt infer` as users run it, against the script a competent user would write instead
(bench/reference_infer.py: numpy + OpenCV + onnxruntime, two writer threads, same files).

Groups: `infer-cold` (a new process, imports, model load, one 2048² image, every output
written) and `infer-folder` (a warm model over a folder of 2048² 16-bit PNGs: read,
preprocess, model, decode, encode and write every file). Inside one run the reference test
reports both rates and cxrmt's speed-up over it (extra_info); `..._interleaved` alternates the
two round by round, the ratio to quote on a shared machine. Every comparison asserts that both
wrote the same file set and the same images (tolerances in `assert_same_outputs`).

Run:  pytest bench/bench_infer.py --benchmark-enable --benchmark-autosave
      pytest bench/bench_infer.py --benchmark-enable --benchmark-compare   # against the last save
Without --benchmark-enable (CI) each function runs once on two 512² images: a correctness check.
Targets on a 2-core CPU with the shipped model: cold start <= 2.5 s, >= 2 images/s, and
(#17) folder throughput >= 2x the reference and cold start <= 0.5 s.
CXRMT_BENCH_MODELS: extra models to time beside the shipped one (os.pathsep-separated; e.g. a
TensorRT .engine built on this GPU, see trt/README.md); a model whose backend is missing skips.
"""

import contextlib
import json
import os
import time
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import reference_infer
from cxr_inputs import radiograph

REFERENCE = Path(reference_infer.__file__).resolve()
KINDS = ("_bse.png", "_seg.png", "_overlay.png", ".json")
RATES = {}   # images/s of each timed implementation in this run, for the ratio


def _timed(config) -> bool:
    return bool(config.getoption("benchmark_enable")) or not config.getoption("benchmark_disable")


def _shipped():
    import cxrmt.shipped

    return os.path.join(os.path.dirname(cxrmt.shipped.__file__), cxrmt.shipped.DEFAULT)


def _models():
    extra = [m for m in os.environ.get("CXRMT_BENCH_MODELS", "").split(os.pathsep) if m]
    return [_shipped(), *extra]


def _need(model):
    if not os.path.exists(model):
        pytest.skip(f"{model} not found (the shipped model is missing from this installation)")
    from cxrmt.runtime import BACKENDS, backend_key

    extra = BACKENDS[backend_key(model)][2]
    module = {"gpu": "tensorrt", "train": "tensorflow"}.get(extra)
    if module:
        pytest.importorskip(module, reason=f"{model} needs the {extra} extra")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, request):
    """Radiograph-like 16-bit PNGs (cxr_inputs): six at 2048² when timing, two at 512² in CI."""
    n, size = (6, 2048) if _timed(request.config) else (2, 512)
    d = tmp_path_factory.mktemp("in")
    for i in range(n):
        cv2.imwrite(str(d / f"cxr{i}.png"), radiograph(size, seed=i))
    return d


@pytest.fixture(scope="module")
def one(folder, tmp_path_factory):
    """A folder holding only the first input (the reference script takes folders)."""
    d = tmp_path_factory.mktemp("one")
    shutil.copy(folder / "cxr0.png", d / "cxr0.png")
    return d


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """{implementation: output folder}, shared so that each comparison reuses what ran."""
    return {name: tmp_path_factory.mktemp(f"out-{name}") for name in ("cxrmt", "reference")}


def _stems(folder):
    return sorted(p.stem for p in folder.glob("*.png"))


def _rate(benchmark, n):
    """Images per second of the fastest round (None when timing is off)."""
    if benchmark.stats is None:
        return None
    rate = round(n / benchmark.stats.stats.min, 2)
    benchmark.extra_info["images_per_s"] = rate
    return rate


def cxrmt_loop(stack, model, out, backend="onnxruntime"):
    """`cxrmt infer`'s own loop with a warm Predictor (as `cxrmt infer DIR` runs after
    start-up): a function of the file list returning the failures. `backend`: onnxruntime
    (like for like with the reference) or auto (what `cxrmt infer` picks from 8 inputs on:
    OpenVINO for an FP32 .onnx on a CPU where it is installed, bf16 on AMX)."""
    from cxrmt.infer.run import InferOptions, infer_paths, model_record
    from cxrmt.pipeline import Predictor

    opts = InferOptions(out=str(out), force=True)
    p = stack.enter_context(Predictor(model, bone_dtype="uint16", backend=backend))
    record = model_record(p, model, backend)
    return lambda files: infer_paths(p, files, opts, record, True)


def reference_loop(model, out):
    m = reference_infer.Model(model)
    return lambda files: reference_infer.run_folder(m, files, str(out))


def timed_loop(loop, files, benchmark=None, rounds=3):
    loop(files[:1])                                                  # warm-up
    if benchmark is None:
        return loop(files)
    return benchmark.pedantic(loop, args=(files,), rounds=rounds, iterations=1)


def run_cxrmt(model, files, out, benchmark=None, backend="onnxruntime"):
    with contextlib.ExitStack() as stack:
        return timed_loop(cxrmt_loop(stack, model, out, backend), files, benchmark)


# Why these tolerances: the two compute the same function in float32 with different summation
# orders (area reduction, window percentiles, bilinear taps), so the model inputs differ by
# ~1e-6. A label can change only where a network channel is that close to 0 or to another
# channel: at most a few model cells (64 px each at 2048²), hence 1e-4 of the pixels; where the
# labels agree the overlay is the same blend of the same grey (+-1 for rounding); the bone
# image is original - upsampled change, within 2 grey levels (16-bit) everywhere.
LABEL_FRACTION = 1e-4
BONE_LEVELS = 2


def _read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def assert_same_outputs(ref: Path, cx: Path, stems, labels_only=False,
                        label_fraction=LABEL_FRACTION):
    """Same file set; labels identical but for `label_fraction` of the pixels; unless
    `labels_only` (another precision), overlay, bone image and JSON as explained above."""
    visible = lambda d: sorted(p.name for p in d.iterdir() if not p.name.startswith("."))  # noqa
    expected = sorted(s + k for s in stems for k in KINDS)
    assert visible(ref) == expected and visible(cx) == expected
    for s in stems:
        seg_r, seg_c = _read(ref / f"{s}_seg.png"), _read(cx / f"{s}_seg.png")
        same = (seg_r == seg_c).all(axis=2)
        assert 1 - same.mean() <= label_fraction, f"{s}: labels differ at {1 - same.mean():.2e}"
        if labels_only:
            continue
        ov = np.abs(_read(ref / f"{s}_overlay.png").astype(np.int16)
                    - _read(cx / f"{s}_overlay.png").astype(np.int16))
        assert ov[same].max() <= 1, f"{s}: overlay differs by {ov[same].max()} where labels agree"
        bone_r, bone_c = _read(ref / f"{s}_bse.png"), _read(cx / f"{s}_bse.png")
        assert bone_r.dtype == bone_c.dtype == np.uint16
        diff = np.abs(bone_r.astype(np.int32) - bone_c.astype(np.int32)).max()
        assert diff <= BONE_LEVELS, f"{s}: bone images differ by {diff} grey levels"
        _assert_same_record(json.loads((ref / f"{s}.json").read_text()),
                            json.loads((cx / f"{s}.json").read_text()), same.size)


def _assert_same_record(r: dict, c: dict, pixels: int):
    assert r["window"]["lo"] == pytest.approx(c["window"]["lo"], rel=1e-5)
    assert r["window"]["hi"] == pytest.approx(c["window"]["hi"], rel=1e-5)
    for organ, m in c["organs"].items():
        assert abs(r["organs"][organ]["area_px"] - m["area_px"]) <= LABEL_FRACTION * pixels
    assert (r["cardiothoracic_ratio"] is None) == (c["cardiothoracic_ratio"] is None)


@pytest.mark.benchmark(group="infer-cold")
@pytest.mark.parametrize("model", _models(), ids=os.path.basename)
def test_cold_start_one_png(benchmark, model, folder, tmp_path):
    """Python start, imports, model load, one 2048² image, every output written."""
    _need(model)
    cmd = [sys.executable, "-m", "cxrmt.cli", "infer", str(folder / "cxr0.png"), "--out",
           str(tmp_path), "--model", model, "--force", "--quiet"]

    def once():
        subprocess.run(cmd, check=True, capture_output=True)

    benchmark.pedantic(once, rounds=3, iterations=1, warmup_rounds=1)
    assert (tmp_path / "cxr0_bse.png").exists() and (tmp_path / "cxr0.json").exists()


@pytest.mark.benchmark(group="infer-cold")
def test_cold_start_reference(benchmark, one, tmp_path):
    """The same for the reference script: its own process, imports, session, one image."""
    model = _shipped()
    _need(model)
    cmd = [sys.executable, str(REFERENCE), str(one), str(tmp_path), "--model", model]

    def once():
        subprocess.run(cmd, check=True, capture_output=True)

    benchmark.pedantic(once, rounds=3, iterations=1, warmup_rounds=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted("cxr0" + k for k in KINDS)


@pytest.mark.benchmark(group="infer-folder")
@pytest.mark.parametrize("backend", ["onnxruntime", "auto"])
@pytest.mark.parametrize("model", _models(), ids=os.path.basename)
def test_throughput_folder(benchmark, model, backend, folder, written, tmp_path):
    """A warm Predictor over the folder; extra_info holds images per second. The shipped
    model on onnxruntime is the like-for-like rate the reference test divides by; `auto` is
    the backend `cxrmt infer` picks (bf16 OpenVINO here: labels within 1 %, not identical)."""
    _need(model)
    from cxrmt.io.inputs import expand

    files, _ = expand([str(folder)])
    assert len(files) == len(_stems(folder))
    like_for_like = model == _shipped() and backend == "onnxruntime"
    out = written["cxrmt"] if like_for_like else tmp_path
    try:
        failed = run_cxrmt(model, files, out, benchmark, backend)
    except ValueError as exc:   # e.g. an .engine under --backend onnxruntime
        pytest.skip(str(exc))
    assert failed == []
    if not like_for_like and any(written["cxrmt"].glob("*.json")):
        assert_same_outputs(written["cxrmt"], Path(out), _stems(folder), labels_only=True,
                            label_fraction=1e-2)
    rate = _rate(benchmark, len(files))
    if like_for_like:
        RATES[Path(model).name] = rate
    elif rate:
        benchmark.extra_info["backend"] = backend


@pytest.mark.benchmark(group="infer-folder")
def test_throughput_folder_reference(benchmark, folder, written):
    """The reference script's loop over the same folder, warm; its outputs must match
    cxrmt's; extra_info: both rates and cxrmt's speed-up over the reference."""
    model = _shipped()
    _need(model)
    files = reference_infer.inputs(str(folder))
    stems = _stems(folder)
    timed_loop(reference_loop(model, written["reference"]), files, benchmark)
    rate = _rate(benchmark, len(files))
    if not any(written["cxrmt"].glob("*.json")):     # run alone (-k): produce cxrmt's outputs
        from cxrmt.io.inputs import expand

        run_cxrmt(model, expand([str(folder)])[0], written["cxrmt"])
    assert_same_outputs(written["reference"], written["cxrmt"], stems)
    cxrmt_rate = RATES.get(os.path.basename(model))
    if rate and cxrmt_rate:
        benchmark.extra_info.update(cxrmt_images_per_s=cxrmt_rate,
                                    cxrmt_over_reference=round(cxrmt_rate / rate, 2))


@pytest.mark.benchmark(group="infer-folder")
def test_throughput_folder_interleaved(benchmark, folder, written):
    """The fair ratio on a shared machine: each round runs cxrmt over the folder, then the
    reference, so that load from other processes weighs on both alike. The timed function is
    the pair; extra_info splits it: min and median images/s of each, and their ratios."""
    model = _shipped()
    _need(model)
    files = reference_infer.inputs(str(folder))
    times = {"cxrmt": [], "reference": []}
    with contextlib.ExitStack() as stack:
        loops = {"cxrmt": cxrmt_loop(stack, model, written["cxrmt"]),
                 "reference": reference_loop(model, written["reference"])}
        for loop in loops.values():
            loop(files[:1])                                          # warm-up

        def pair():
            for name, loop in loops.items():
                t0 = time.perf_counter()
                loop(files)
                times[name].append(time.perf_counter() - t0)

        benchmark.pedantic(pair, rounds=3, iterations=1)
    assert_same_outputs(written["reference"], written["cxrmt"], _stems(folder))
    if benchmark.stats is not None:
        rate = {k: (len(files) / min(v), len(files) / float(np.median(v)))
                for k, v in times.items()}
        benchmark.extra_info.update(
            {f"{k}_images_per_s_min_median": [round(r, 2) for r in v] for k, v in rate.items()},
            cxrmt_over_reference_best=round(rate["cxrmt"][0] / rate["reference"][0], 2),
            cxrmt_over_reference_median=round(rate["cxrmt"][1] / rate["reference"][1], 2))
