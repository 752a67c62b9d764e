"""DRR synthesis speed, with correctness asserted on every benchmarked result.

Run: PYTHONPATH=. python -m pytest bench/bench_drr.py --benchmark-only
Targets (issue 3): <= 0.5 s per 512x512 triplet, <= 60 s one-off CT preparation.
"""

import time

import cv2
import numpy as np
import pytest

from cxrmt.data.ct import default_ct_paths, load_nifti_pair
from cxrmt.data.drr import synthesize
from cxrmt.data.prepare import CHANNELS, prepare
from cxrmt.data.synth import case_rng, load_stack

TRIPLET_S, PREP_S = 0.5, 60.0


@pytest.fixture(scope="module")
def stack():
    return load_stack()


def _check(t, size):
    right, left, heart = t.masks["right_lung"], t.masks["left_lung"], t.masks["heart"]
    assert t.image.shape == (size, size) and t.image.dtype == np.uint8
    assert np.nonzero(right)[1].mean() < size / 2 < np.nonzero(left)[1].mean()
    assert heart.sum() > 0 and not (heart & (left | right)).any()
    far = cv2.dilate((np.abs(t.bone_path) > 0).astype(np.uint8), np.ones((13, 13), np.uint8))
    assert np.abs(t.image.astype(int) - t.bone_suppressed.astype(int))[far == 0].max() <= 1


def test_drr_triplet_512(benchmark, stack):
    synthesize(stack, 512, case_rng(0, 0))  # warm-up outside the timing
    seeds = iter(range(10_000))
    result = benchmark.pedantic(lambda: synthesize(stack, 512, case_rng(1, next(seeds))),
                                rounds=10, iterations=1)
    _check(result, 512)
    if not benchmark.disabled:  # timing targets only when timing (--benchmark-enable)
        assert benchmark.stats.stats.median <= TRIPLET_S


def test_ct_preparation(benchmark):
    paths = default_ct_paths()
    t0 = time.perf_counter()
    ct = load_nifti_pair(*paths)
    load_s = time.perf_counter() - t0
    slabs = benchmark.pedantic(prepare, args=(ct,), rounds=1, iterations=1)
    assert slabs.slabs.shape[-1] == len(CHANNELS) and np.isfinite(slabs.slabs).all()
    if not benchmark.disabled:
        assert load_s + benchmark.stats.stats.median <= PREP_S
