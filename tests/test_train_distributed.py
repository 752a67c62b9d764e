"""`--strategy mirrored` on two logical CPU devices: one step equals the average of per-sample
gradients computed without a strategy from eq. (3) and (4) written out independently."""

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow")

SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from cxrmt.model.build import build_networks
    from cxrmt.train import assemble
    from cxrmt.train.config import TrainConfig

    LR, LAM = 0.05, 10.0
    cfg = TrainConfig(out="-", variant="mt", size=64, ngf=4, levels=4, batch=2, steps=1,
                      dropout=0.0, lam=LAM).validate()
    keras.utils.set_random_seed(0)
    strategy = assemble.make_strategy("mirrored")
    with strategy.scope():
        opts = keras.optimizers.SGD(LR), keras.optimizers.SGD(LR)
    trainer = assemble.build_trainer(cfg, strategy, *opts)
    g0, d0 = trainer.generator.get_weights(), trainer.discriminator.get_weights()
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    y = np.sign(rng.normal(size=(2, 64, 64, 6))).astype(np.float32)
    trainer.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(2), epochs=1, verbose=0)

    ref = build_networks("mt", 64, 4, 4, dropout=0.0)
    G, D = ref.generator, ref.discriminator
    G.set_weights(g0); D.set_weights(d0)
    gsum = [0.0] * len(G.trainable_variables); dsum = [0.0] * len(D.trainable_variables)
    for i in range(2):  # each replica sees one sample; its BatchNorm uses that sample only
        xi, yi = tf.constant(x[i:i + 1]), tf.constant(y[i:i + 1])
        with tf.GradientTape(persistent=True) as tape:
            fake = G(xi, training=True)
            pr = tf.sigmoid(D([xi, yi], training=True))
            pf = tf.sigmoid(D([xi, fake], training=True))
            ld = tf.reduce_mean(-(tf.math.log(pr + 1e-12) + tf.math.log(1 - pf + 1e-12)))
            lg = tf.reduce_mean(-tf.math.log(pf + 1e-12)) + LAM * tf.reduce_mean(tf.abs(yi - fake))
        gsum = [a + b for a, b in zip(gsum, tape.gradient(lg, G.trainable_variables))]
        dsum = [a + b for a, b in zip(dsum, tape.gradient(ld, D.trainable_variables))]
    def gap(model, start, grads):
        want = {v.path: v.numpy() - LR * g.numpy() / 2 for v, g in zip(start, grads)}
        got = {v.path: v.numpy() for v in model.trainable_variables}
        moved = max(float(np.abs(LR * g.numpy() / 2).max()) for g in grads)
        return max(float(np.abs(got[k] - want[k]).max()) for k in want), moved
    G.set_weights(g0); D.set_weights(d0)
    gg, gm = gap(trainer.generator, G.trainable_variables, gsum)
    dg, dm = gap(trainer.discriminator, D.trainable_variables, dsum)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "g_gap": gg, "g_moved": gm,
                      "d_gap": dg, "d_moved": dm}))
""")


def test_mirrored_two_logical_cpus_matches_per_sample_average(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["replicas"] == 2
    assert res["g_moved"] > 1e-4 and res["d_moved"] > 1e-4  # the step did change the weights
    assert res["g_gap"] < 1e-3 * res["g_moved"] + 1e-6, res
    assert res["d_gap"] < 1e-3 * res["d_moved"] + 1e-6, res
