"""Pieces `run_training` assembles: data, distribution strategy, networks and checkpoint."""

import json
import logging
import math
import os

from ..data.synth import write_drr_dataset
from ..model.variants import get_variant
from ..runtime.cpu import cpu_has_bf16
from . import data as data_mod

log = logging.getLogger(__name__)


def ensure_data(cfg) -> str:
    """--data, or DRR triplets synthesised once into <out>/drr-data (the embedded default)."""
    if cfg.data:
        return cfg.data
    root = os.path.join(cfg.out, "drr-data")
    if not os.path.exists(os.path.join(root, "cases.csv")):

        log.info(f"no --data: synthesising {cfg.drr_n} DRR triplets of {cfg.size}x{cfg.size} "
            f"into {root}")
        write_drr_dataset(root, cfg.drr_n, cfg.size, cfg.seed)
    return root


def load_split(cfg, root):
    """(train cases, val cases, data record for the JSON)."""
    cases = data_mod.load_cases(root, cfg.size)
    train, val = data_mod.split(cases, cfg.folds, cfg.val_fold, cfg.seed)
    record = {"root": os.path.abspath(root), "cases": len(cases),
              "fingerprint_sha256": data_mod.fingerprint(root, [c.case_id for c in cases]),
              "train_ids": [c.case_id for c in train], "val_ids": [c.case_id for c in val]}
    return train, val, record


def total_steps(cfg, stream) -> int:
    if cfg.steps:
        return cfg.steps
    return cfg.epochs * math.ceil(stream.epoch_len / cfg.batch)


def is_chief() -> bool:
    """The multi-worker chief (TF_CONFIG task 'chief', or worker 0 when there is no chief)."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = tf_config.get("task", {})
    cluster = tf_config.get("cluster", {})
    if not task:
        return True
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in cluster


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def mixed_policy() -> str:
    """The Keras mixed-precision policy for this machine: float16 on a GPU (tensor cores),
    bfloat16 on a CPU with AVX512-BF16 / AMX (float16 there is emulated and ~150x slower)."""
    if has_gpu():
        return "mixed_float16"
    if cpu_has_bf16():
        return "mixed_bfloat16"
    raise ValueError("--mixed-precision: no GPU and this CPU has no bfloat16 units "
                     "(AVX512-BF16 or AMX); train in FP32 (drop --mixed-precision)")


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def build_trainer(cfg, strategy, g_optimizer=None, d_optimizer=None, policy="float32"):
    """Networks, trainer and optimisers (built now, so a checkpoint restores their slots)."""
    from ..model.build import build_networks
    from .trainer import Trainer, adam

    v = get_variant(cfg.variant)
    seg_loss = cfg.seg_loss if (cfg.head == "residual" or v.kind == "unet") else "l1"
    with strategy.scope():
        nets = build_networks(v, cfg.size, cfg.ngf, cfg.levels, cfg.head, cfg.dropout,
                              ndf=cfg.ndf)
        trainer = Trainer(nets.generator, nets.discriminator, cfg.lam, v.seg_channels, seg_loss,
                          cfg.edge)
        scaled = cfg.mixed_precision and policy == "mixed_float16"   # bf16 needs no loss scale
        g_opt = g_optimizer or adam(cfg.lr, cfg.beta1, scaled)
        d_opt = None
        if nets.discriminator is not None:
            d_opt = d_optimizer or adam(cfg.lr, cfg.beta1, scaled)
            d_opt.build(nets.discriminator.trainable_variables)
        g_opt.build(nets.generator.trainable_variables)
        trainer.compile(g_opt, d_opt)
    return trainer


def make_checkpoint(trainer, directory):
    """tf.train checkpoint of both networks, both optimisers (moments, iterations, loss scale),
    the dropout random-number states (a resumed run draws the masks it would have drawn) and
    the global step; keeps the two latest."""
    import tensorflow as tf

    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    rng = [layer.seed_generator.state for layer in trainer.generator.layers
           if hasattr(layer, "seed_generator")]
    parts = {"generator": trainer.generator, "g_optimizer": trainer.g_optimizer, "step": step,
             "dropout_rng": rng}
    if trainer.discriminator is not None:
        parts.update(discriminator=trainer.discriminator, d_optimizer=trainer.d_optimizer)
    ckpt = tf.train.Checkpoint(**parts)
    return ckpt, tf.train.CheckpointManager(ckpt, directory, max_to_keep=2), step
