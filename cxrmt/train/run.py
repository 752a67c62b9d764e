"""`run_training`: train one variant, resumable, with validation and a saved model + JSON.

Run folder:
  run.json            config, data record, versions (refuses a resume with another network)
  checkpoints/        tf.train checkpoints: networks, optimiser state, global step (2 latest)
  logs/               TensorBoard scalars (train/*, val_moving/*, val_instance/*)
  best.weights.h5     generator weights of the best validation score, best.json its scores
  model.keras         the final generator (best validation weights, or the last with --keep
                      last; chosen BatchNorm mode)
  model.json          config, data fingerprint, versions, training summary, the BN choice
  progress.json       step and training seconds summed over every session (updated at each
                      checkpoint, so time before a crash or resume is counted)
"""

import logging
import os
import shutil
import time

from .._optional import require
from ..model.variants import get_variant
from . import assemble
from .config import TrainConfig
from .data import SampleStream, arrays, make_dataset
from .provenance import now, read_json, versions, write_json

LOG = logging.getLogger(__name__)


class Labelled(logging.LoggerAdapter):
    """Messages prefixed with a label ("mtdg fold 1: "), for runs inside an experiment."""

    def process(self, msg, kwargs):
        return self.extra["label"] + msg, kwargs


def run_training(cfg: TrainConfig, label: str = "", g_optimizer=None, d_optimizer=None) -> dict:
    """Train (or resume) and return the model.json record. Optimisers may be injected; `label`
    prefixes every logged message."""
    log = Labelled(LOG, {"label": label})
    cfg.validate()
    chief = assemble.is_chief()
    # Multi-worker: every worker saves (the save is collective), only the chief into --out;
    # the other workers' folders are removed when they finish, however they finish.
    out = cfg.out if chief else os.path.join(cfg.out, f"worker-tmp-{os.getpid()}")
    os.makedirs(out, exist_ok=True)
    try:
        return _train(cfg, out, log, g_optimizer, d_optimizer)
    finally:
        if not chief:
            shutil.rmtree(out, ignore_errors=True)


def _train(cfg, out, log, g_optimizer, d_optimizer) -> dict:
    cfg.check_resumable(os.path.join(out, "run.json"))
    require("tensorflow", "train")
    train_cases, val_cases, data_record = assemble.load_split(cfg, assemble.ensure_data(cfg))

    import keras
    import tensorflow as tf


    strategy = assemble.make_strategy(cfg.strategy)
    if cfg.batch % strategy.num_replicas_in_sync:
        raise ValueError(f"--batch {cfg.batch} must be a multiple of the "
                         f"{strategy.num_replicas_in_sync} replicas")
    previous_policy = keras.mixed_precision.global_policy()
    policy = assemble.mixed_policy() if cfg.mixed_precision else "float32"
    if cfg.mixed_precision:
        log.info(f"mixed precision: {policy}")
        keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(cfg.seed)  # reproducible initial weights and dropout masks
    try:
        trainer = assemble.build_trainer(cfg, strategy, g_optimizer, d_optimizer, policy)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    ckpt, manager, step_var = assemble.make_checkpoint(trainer, os.path.join(out, "checkpoints"))
    latest = tf.train.latest_checkpoint(os.path.join(cfg.out, "checkpoints"))  # the chief's
    if latest:
        ckpt.restore(latest).assert_existing_objects_matched()
        log.info(f"resumed from {latest} at step {int(step_var.numpy())}")
    variant = get_variant(cfg.variant)
    stream = SampleStream(train_cases, variant, cfg.augment, cfg.lung_masked, cfg.seed,
                          cfg.window)
    total = assemble.total_steps(cfg, stream)
    run_record = {"config": cfg.to_dict(), "data": data_record, "versions": versions(),
                  "created": now(), "precision_policy": policy}
    write_json(os.path.join(out, "run.json"), {**cfg.to_dict(), "record": run_record})

    validator = None
    if val_cases:
        from .validate import Validator, identity_scores

        vx, vy = arrays(val_cases, variant, cfg.lung_masked, cfg.window)
        validator = Validator(trainer.generator, vx, vy, variant.task, out)
        run_record["identity_val"] = identity_scores(vx, vy, variant.task)
    writer = tf.summary.create_file_writer(os.path.join(out, "logs"))
    summary = _loop(cfg, trainer, stream, make_dataset, manager, step_var, total, validator,
                    writer, log)
    return _finish(cfg, out, trainer, validator, run_record, summary, log)


def _loop(cfg, trainer, stream, make_dataset, manager, step_var, total, validator, writer, log):
    """fit() in rounds of val_every steps; checkpoint and validate after each round."""
    from .callbacks import (
        L1Target,
        Progress,
        Scalars,
        StepClock,
        StepCounter,
        StepLosses,
        write_scalars,
    )

    step = int(step_var.numpy())
    target_reached, t0, start = False, time.perf_counter(), step
    progress_path = os.path.join(cfg.out, "progress.json")
    before = (read_json(progress_path) or {}).get("seconds", 0.0) if start else 0.0
    l1_stop = L1Target(StepClock(step, total), None, cfg.l1_target)
    while step < total and not target_reached:
        n = min(cfg.val_every - step % cfg.val_every, total - step)
        clock = StepClock(step, total)
        losses = StepLosses(clock, cfg.log_every)   # per round: the trainer's means restart
        l1_stop.clock, l1_stop.losses = clock, losses
        callbacks = [StepCounter(clock), losses, Scalars(clock, losses, writer, cfg.log_every),
                     l1_stop]
        if not cfg.quiet:
            callbacks.append(Progress(clock, losses, cfg.log_every))
        trainer.fit(make_dataset(stream, step * cfg.batch, cfg.batch), steps_per_epoch=n,
                    epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
        if clock.step == step:
            raise RuntimeError(f"no training step was made at step {step}")
        step = clock.step
        target_reached = l1_stop.reached
        trainer.sync_batchnorm_stats()  # multi-worker: every worker holds the same model
        step_var.assign(step)
        manager.save(checkpoint_number=step)
        if assemble.is_chief():  # other workers share --out
            write_json(progress_path, {"step": step,
                                       "seconds": round(before + time.perf_counter() - t0, 1)})
        if validator is not None:
            scores = validator.run(step)
            for mode, values in scores.items():
                write_scalars(writer, values, step, f"val_{mode}/")
            log.info(f"validation at step {step}: " + "  ".join(
                f"{m}: " + " ".join(f"{k} {v:.4f}" for k, v in s.items()) for m, s in
                scores.items()))
    return {"steps": step, "steps_this_session": step - start, "total_steps": total,
            "seconds_this_session": round(time.perf_counter() - t0, 1),
            "seconds_total": round(before + time.perf_counter() - t0, 1),
            "l1_target_reached": target_reached,
            "l1_smoothed": None if l1_stop.ema is None else round(l1_stop.ema, 6)}


def _finish(cfg, out, trainer, validator, record, summary, log) -> dict:
    """Save model.keras (best validation weights, chosen BN mode) and model.json."""
    from ..model.build import with_inference_stats

    gen = trainer.generator
    trainer.generator.save(os.path.join(out, "last.keras"))
    best = validator.best if validator is not None else None
    chosen = best if cfg.keep == "best" else None
    if chosen is not None:
        gen.load_weights(validator.weights_path)
    if cfg.inference_stats != "auto":
        mode, why = cfg.inference_stats, "set by --inference-stats"
    elif chosen is not None:
        mode, why = best["mode"], "better validation score at the best step"
    else:
        mode, why = "moving", ("last weights kept; default" if best is not None
                               else "no validation data; default")
    final = with_inference_stats(gen, mode)
    path = os.path.join(out, "model.keras")
    final.save(path)
    model_json = {**record, "variant": cfg.variant, "model": "model.keras",
                  "inference_stats": {"mode": mode, "why": why}, "training": summary,
                  "best_validation": best, "kept": cfg.keep if chosen else "last",
                  "saved": now()}
    write_json(os.path.join(out, "model.json"), model_json)
    log.info(f"saved {path} (BatchNorm at inference: {mode}, {why})")
    return model_json


__all__ = ["TrainConfig", "run_training"]
