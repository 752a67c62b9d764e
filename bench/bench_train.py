"""Training-step time per variant at 256 and 512, full width (ngf 64) and slim, batch 1.

Skipped unless CXRMT_BENCH_TRAIN=1 (a 512 / ngf 64 step takes seconds on a CPU). Run:
    CXRMT_BENCH_TRAIN=1 python -m pytest bench/bench_train.py --benchmark-enable -s
Options: CXRMT_BENCH_VARIANTS (default st-seg,stdg-seg,mt,mtdg), CXRMT_BENCH_SIZES (256,512),
CXRMT_BENCH_SLIM_NGF (32). Each timed step is checked (finite losses, weights moved); the
last test prints the dilated / plain ratio: the dilated generator has 1.96x the MACs (levels
2-7 convolve at twice the resolution, then pool), the whole GAN step ~1.2-1.5x (the PatchGAN is
unchanged). Timings on a shared CPU are noisy: compare medians from one quiet session.
"""

import os
import time

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.environ.get("CXRMT_BENCH_TRAIN") != "1",
                                reason="set CXRMT_BENCH_TRAIN=1 to time training steps")

VARIANTS = os.environ.get("CXRMT_BENCH_VARIANTS", "st-seg,stdg-seg,mt,mtdg").split(",")
SIZES = [int(s) for s in os.environ.get("CXRMT_BENCH_SIZES", "256,512").split(",")]
WIDTHS = [64, int(os.environ.get("CXRMT_BENCH_SLIM_NGF", "32"))]
RESULTS = {}  # (variant, size, ngf) -> median seconds per step


def make_step(variant, size, ngf):
    import tensorflow as tf

    from cxrmt.train import assemble
    from cxrmt.train.config import TrainConfig

    cfg = TrainConfig(out="-", variant=variant, size=size, ngf=ngf, batch=1, steps=1).validate()
    trainer = assemble.build_trainer(cfg, tf.distribute.get_strategy())
    rng = np.random.default_rng(0)
    c = trainer.generator.output.shape[-1]
    x = tf.constant(rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32))
    y = tf.constant(np.sign(rng.normal(size=(1, size, size, c))).astype(np.float32))
    step = tf.function(trainer.train_step)

    def run():
        logs = step((x, y))
        return {k: float(v) for k, v in logs.items()}  # float() waits for the device

    return trainer, run


@pytest.mark.parametrize("ngf", WIDTHS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_train_step(benchmark, variant, size, ngf):
    trainer, run = make_step(variant, size, ngf)
    before = trainer.generator.get_layer("logits").get_weights()[0].copy()
    run(), run()  # tracing and warm-up outside the timing
    logs = benchmark.pedantic(run, rounds=5, iterations=1)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert not np.allclose(trainer.generator.get_layer("logits").get_weights()[0], before)
    if benchmark.stats is not None:  # None under --benchmark-disable (one untimed call)
        RESULTS[(variant, size, ngf)] = benchmark.stats.stats.median
    benchmark.extra_info.update(variant=variant, size=size, ngf=ngf)


def test_dilated_over_plain_ratio():
    """Prints measured step-time ratios beside the convolution-MAC ratios. The dilated generator
    has ~2x the MACs of the plain one (asserted); a GAN step also runs the unchanged PatchGAN
    twice forward and backward, so the whole step is expected at ~1.2-1.5x, not 2x."""
    from cxrmt.model.build import build_networks, conv_macs

    pairs = [(k, (k[0].replace("dg", ""), *k[1:])) for k in RESULTS if "dg" in k[0]]
    pairs = [(d, p) for d, p in pairs if p in RESULTS]
    if not pairs:
        pytest.skip("needs a dilated and a plain variant timed in this session")
    for d, p in sorted(pairs):
        nd, np_ = (build_networks(v, d[1], d[2]) for v in (d[0], p[0]))
        dm = conv_macs(nd.discriminator)
        gd, gp = conv_macs(nd.generator), conv_macs(np_.generator)
        g_ratio, step_ratio = gd / gp, (3 * gd + 6 * dm) / (3 * gp + 6 * dm)
        print(f"{d[0]} / {p[0]} at {d[1]}, ngf {d[2]}: {RESULTS[d]:.3f} s / {RESULTS[p]:.3f} s"
              f" = {RESULTS[d] / RESULTS[p]:.2f} (MACs: generator {g_ratio:.2f}, "
              f"train step {step_ratio:.2f})")
        assert 1.8 < g_ratio < 2.1
    print(time.strftime("measured %Y-%m-%d %H:%M UTC", time.gmtime()))
