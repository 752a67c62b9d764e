"""`--strategy mirrored` on two logical CPU devices: one step equals the average of per-sample
gradients computed without a strategy from eq. (3) and (4) written out independently. And
`--strategy multiworker` with two worker processes on loopback equals that mirrored run."""

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


# --- `cxrmt train --strategy multiworker`: two worker processes on loopback -----------------

WRAPPER = textwrap.dedent("""
    # Runs `cxrmt train` and dumps, at the end, every logged training loss and every weight of
    # both networks (BatchNorm moving statistics included) to $CXRMT_DUMP.
    import json, os, sys
    import numpy as np
    if os.environ.get("TWO_CPUS"):
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        two = [tf.config.LogicalDeviceConfiguration()] * 2
        tf.config.set_logical_device_configuration(cpu, two)
    import cxrmt.train.callbacks as callbacks
    import cxrmt.train.run as run
    from cxrmt.cli import main

    losses, write, finish = {}, callbacks.write_scalars, run._finish
    def record(writer, values, step, prefix=""):
        losses.update({f"{prefix}{k}@{step}": float(v) for k, v in values.items()})
        write(writer, values, step, prefix)
    def dump(cfg, out, trainer, *args):
        nets = [trainer.generator, trainer.discriminator]
        weights = {v.path: np.asarray(v) for n in nets for v in n.weights}
        np.savez(os.environ["CXRMT_DUMP"], **weights)
        with open(os.environ["CXRMT_DUMP"] + ".json", "w") as fh:
            json.dump(losses, fh)
        return finish(cfg, out, trainer, *args)
    callbacks.write_scalars, run._finish = record, dump
    sys.exit(main(sys.argv[1:]))
""")


def _free_ports(n):
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _dump(path):
    import numpy as np

    with open(f"{path}.json") as fh:
        losses = json.load(fh)
    with np.load(f"{path}.npz") as npz:
        return losses, {k: npz[k] for k in npz.files}


def test_multiworker_two_loopback_workers_match_mirrored(tmp_path):
    """Two `cxrmt train --strategy multiworker` processes (TF_CONFIG, 127.0.0.1) log the same
    losses and end with the same weights as a two-replica mirrored run on the same data,
    BatchNorm moving statistics included (on every worker: replica 0's, as mirrored keeps);
    only the chief's run folder is left."""
    import os

    import numpy as np

    from cxrmt.data.synth import write_drr_dataset

    data = tmp_path / "drr"
    write_drr_dataset(data, 4, 32, seed=3)
    (tmp_path / "wrap.py").write_text(WRAPPER)
    args = ["train", "--variant", "mt", "--data", str(data), "--size", "32", "--ngf", "4",
            "--levels", "3", "--ndf", "4", "--batch", "2", "--steps", "2", "--val-every", "2",
            "--log-every", "1", "--folds", "0", "--dropout", "0", "--augment", "none",
            "--quiet"]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    base = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    runs = [([*args, "--out", str(tmp_path / "mirrored"), "--strategy", "mirrored"],
             dict(base, TWO_CPUS="1", CXRMT_DUMP=str(tmp_path / "mirrored")))]
    for i in range(2):
        runs.append(([*args, "--out", str(tmp_path / "mw"), "--strategy", "multiworker"],
                     dict(base, CXRMT_DUMP=str(tmp_path / f"worker{i}"), TF_CONFIG=json.dumps(
                         {"cluster": cluster, "task": {"type": "worker", "index": i}}))))
    procs = [subprocess.Popen([sys.executable, str(tmp_path / "wrap.py"), *a], env=env,
                              stderr=subprocess.PIPE, text=True) for a, env in runs]
    try:
        errs = [p.communicate(timeout=240)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, err in zip(procs, errs):
        assert p.returncode == 0, err[-3000:]

    ref_losses, ref_weights = _dump(tmp_path / "mirrored")
    assert {k.split("@")[0] for k in ref_losses} >= {"train/g_loss", "train/d_loss"}
    assert len(ref_losses) == 2 * 5  # two steps, five losses each
    dumps = [_dump(tmp_path / f"worker{i}") for i in range(2)]
    for i, (losses, weights) in enumerate(dumps):
        assert losses.keys() == ref_losses.keys()
        for k, v in ref_losses.items():
            assert abs(losses[k] - v) <= 1e-5 * max(1.0, abs(v)), (i, k, losses[k], v)
        assert weights.keys() == ref_weights.keys()
        assert any("moving_mean" in k for k in weights)
        # Against mirrored: all-reduce order differs, and Adam turns the rounding noise of
        # gradients that are zero in exact arithmetic (conv biases before a BatchNorm) into
        # steps of ~1e-5; a real difference moves a weight by about lr = 2e-4 per step.
        for k, v in ref_weights.items():
            np.testing.assert_allclose(weights[k], v, rtol=1e-5, atol=5e-5, err_msg=f"{i} {k}")
    # The workers agree with each other exactly, BatchNorm moving statistics included.
    for k, v in dumps[0][1].items():
        np.testing.assert_allclose(dumps[1][1][k], v, rtol=1e-6, atol=1e-7, err_msg=k)
    assert sorted(os.listdir(tmp_path / "mw")) == sorted(os.listdir(tmp_path / "mirrored"))
    assert not [n for n in os.listdir(tmp_path / "mw") if n.startswith("worker-tmp")]
