"""`cxrmt infer` as users run it: whole-process cold start on one PNG, and steady-state
throughput over a folder of 2048² 16-bit PNGs (read, preprocess, model, decode, write all files).

Run:  pytest bench/bench_infer.py --benchmark-enable --benchmark-autosave
      pytest bench/bench_infer.py --benchmark-enable --benchmark-compare   # against the last save
Targets on a 2-core CPU with the shipped model: cold start <= 2.5 s, >= 2 images/s.
CXRMT_BENCH_MODELS: extra models to time beside the shipped one (os.pathsep-separated; e.g. a
TensorRT .engine built on this GPU, see trt/README.md); a model whose backend is missing skips.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from cxrmt.io.writers import write_png
from test_runtime_fixtures import chest

N_IMAGES = 6


def _models():
    import cxrmt.shipped

    shipped = os.path.join(os.path.dirname(cxrmt.shipped.__file__), cxrmt.shipped.DEFAULT)
    extra = [m for m in os.environ.get("CXRMT_BENCH_MODELS", "").split(os.pathsep) if m]
    return [shipped, *extra]


def _need(model):
    if not os.path.exists(model):
        pytest.skip(f"{model} not found (the shipped model is missing from this installation)")
    from cxrmt.runtime import BACKENDS, backend_key

    extra = BACKENDS[backend_key(model)][2]
    module = {"gpu": "tensorrt", "train": "tensorflow"}.get(extra)
    if module:
        pytest.importorskip(module, reason=f"{model} needs the {extra} extra")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """N 2048² 16-bit radiograph-like PNGs (12-bit content scaled to 16 bits)."""
    d = tmp_path_factory.mktemp("in")
    for i in range(N_IMAGES):
        write_png(d / f"cxr{i}.png", (chest(2048, 2048, seed=i).astype(np.uint32) * 16)
                  .astype(np.uint16))
    return d


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


@pytest.mark.parametrize("model", _models(), ids=os.path.basename)
def test_throughput_folder(benchmark, model, folder, tmp_path):
    """A warm Predictor over the folder; extra_info holds images per second."""
    _need(model)
    from cxrmt.io.inputs import expand
    from cxrmt.infer.run import InferOptions, infer_paths, model_record
    from cxrmt.pipeline import Predictor

    files, _ = expand([str(folder)])
    assert len(files) == N_IMAGES
    opts = InferOptions(out=str(tmp_path), force=True)
    with Predictor(model, bone_dtype="uint16") as p:
        record = model_record(p, model, "bench")
        infer_paths(p, files[:1], opts, record, quiet=True)          # warm-up
        failed = benchmark.pedantic(infer_paths, args=(p, files, opts, record, True),
                                    rounds=2, iterations=1)
    assert failed == []
    if benchmark.stats is not None:
        benchmark.extra_info["images_per_s"] = round(N_IMAGES / benchmark.stats.stats.min, 2)
