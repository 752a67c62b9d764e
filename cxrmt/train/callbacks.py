"""Callbacks: progress line with losses and ETA, TensorBoard scalars, the L1 stopping target."""

import sys
import time

import keras


def _hms(seconds: float) -> str:
    s = int(max(seconds, 0))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class StepClock:
    """Global step bookkeeping shared by the callbacks of one `fit` round."""

    def __init__(self, start: int, total: int):
        self.start, self.total, self.step = start, total, start


class RoundCallback(keras.callbacks.Callback):
    """Base of the callbacks that read the global step."""

    def __init__(self, clock: StepClock):
        super().__init__()
        self.clock = clock


class StepCounter(RoundCallback):
    """Advances the global step (round start + batches done); listed first."""

    def on_train_batch_end(self, batch, logs=None):
        self.clock.step = self.clock.start + batch + 1


class Progress(RoundCallback):
    """Every `every` steps: 'step 1200/9000  g_loss 1.23  ...  0.41 s/step  ETA 53m12s'."""

    def __init__(self, clock, every=50, stream=None):
        super().__init__(clock)
        self.every, self.stream = every, stream
        self.t0 = self.s0 = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.t0 is None:  # the first step includes tracing: time from the second one
            self.t0, self.s0 = now, self.clock.step
            return
        if self.clock.step % self.every and self.clock.step != self.clock.total:
            return
        rate = (now - self.t0) / max(self.clock.step - self.s0, 1)
        losses = "  ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items())
        eta = _hms(rate * (self.clock.total - self.clock.step))
        print(f"step {self.clock.step}/{self.clock.total}  {losses}  {rate:.3f} s/step  ETA {eta}",
              file=self.stream or sys.stdout, flush=True)


class L1Target(RoundCallback):
    """Stops training when the exponential moving average of the per-step L1 reaches target.

    The trainer reports running means over the round; the per-step value is recovered from two
    consecutive means."""

    def __init__(self, clock, target, decay=0.98):
        super().__init__(clock)
        self.target, self.decay = target, decay
        self.ema = None
        self.reached = False

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["l1"])
        value = mean if batch == 0 else (batch + 1) * mean - batch * self._prev
        self._prev = mean
        self.ema = value if self.ema is None else self.decay * self.ema + (1 - self.decay) * value
        if self.target and self.ema <= self.target:
            self.reached = True
            self.model.stop_training = True


class Scalars(RoundCallback):
    """TensorBoard scalars of the training losses every `every` steps (tf.summary)."""

    def __init__(self, clock, writer, every=50):
        super().__init__(clock)
        self.writer, self.every = writer, every

    def on_train_batch_end(self, batch, logs=None):
        if self.clock.step % self.every == 0:
            write_scalars(self.writer, logs or {}, self.clock.step, "train/")


def write_scalars(writer, values: dict, step: int, prefix: str = "") -> None:
    """Scalar summaries TensorBoard shows, written with TensorFlow's core `tf.summary.write`
    (the `tensorboard` package itself is not needed for training)."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR)
    with writer.as_default(step=step):
        for k, v in values.items():
            tf.summary.write(prefix + k, tf.constant(float(v), tf.float32), metadata=meta)
    writer.flush()
