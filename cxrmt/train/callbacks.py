"""Callbacks: progress line with losses and ETA, TensorBoard scalars, the L1 stopping target."""

import logging
import time

import keras

log = logging.getLogger(__name__)


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


class StepLosses(RoundCallback):
    """Per-step losses and their mean over the last `every` steps (listed right after
    StepCounter). The trainer reports running means since the round began; step k's own value
    is recovered from two consecutive means: (k + 1) m_k - k m_(k-1)."""

    def __init__(self, clock, every=50):
        super().__init__(clock)
        self.every = every
        self.step_values, self.window = {}, {}
        self._prev, self._sums, self._n = {}, {}, 0

    def on_train_batch_end(self, batch, logs=None):
        for k, v in (logs or {}).items():
            mean = float(v)
            self.step_values[k] = mean if batch == 0 else (batch + 1) * mean - batch * self._prev[k]
            self._prev[k] = mean
            self._sums[k] = self._sums.get(k, 0.0) + self.step_values[k]
        self._n += 1
        if self.clock.step % self.every == 0 or self.clock.step == self.clock.total:
            self.window = {k: v / self._n for k, v in self._sums.items()}
            self._sums, self._n = {}, 0


class Progress(RoundCallback):
    """Every `every` steps: 'step 1200/9000  g_loss 1.23  ...  0.41 s/step  ETA 53m12s'."""

    def __init__(self, clock, losses: StepLosses, every=50):
        super().__init__(clock)
        self.losses, self.every = losses, every
        self.t0 = self.s0 = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.t0 is None:  # the first step includes tracing: time from the second one
            self.t0, self.s0 = now, self.clock.step
            return
        if self.clock.step % self.every and self.clock.step != self.clock.total:
            return
        rate = (now - self.t0) / max(self.clock.step - self.s0, 1)
        losses = "  ".join(f"{k} {v:.4f}" for k, v in self.losses.window.items())
        eta = _hms(rate * (self.clock.total - self.clock.step))
        log.info(f"step {self.clock.step}/{self.clock.total}  {losses}  {rate:.3f} s/step  "
                 f"ETA {eta}")


class L1Target(RoundCallback):
    """Stops training when the exponential moving average of the per-step L1 reaches target."""

    def __init__(self, clock, losses: StepLosses, target, decay=0.98):
        super().__init__(clock)
        self.losses, self.target, self.decay = losses, target, decay
        self.ema = None
        self.reached = False

    def on_train_batch_end(self, batch, logs=None):
        value = self.losses.step_values["l1"]
        self.ema = value if self.ema is None else self.decay * self.ema + (1 - self.decay) * value
        if self.target and self.ema <= self.target:
            self.reached = True
            self.model.stop_training = True


class Scalars(RoundCallback):
    """TensorBoard scalars of the training losses every `every` steps (tf.summary): the mean
    over those steps, so curves do not jump where a fit() round (a validation) begins."""

    def __init__(self, clock, losses: StepLosses, writer, every=50):
        super().__init__(clock)
        self.losses, self.writer, self.every = losses, writer, every

    def on_train_batch_end(self, batch, logs=None):
        if self.clock.step % self.every == 0:
            write_scalars(self.writer, self.losses.window, self.clock.step, "train/")


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
