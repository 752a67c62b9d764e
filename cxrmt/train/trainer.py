"""The training step as a `keras.Model.train_step` override (pix2pix GAN or supervised only).

Per step, as in the paper and the authors' code: the generator produces Y_hat once; D_R and D_F
are computed with the current discriminator; the discriminator is updated with L_D (eq. 4), then
the generator with L_G (eq. 3), both from that same forward pass.

MultiWorkerMirroredStrategy needs three workarounds here, each documented where it is:
`_maybe_symbolic_build` (keras-team/keras#20585), `_logs` (tensorflow/tensorflow#72388) and
`sync_batchnorm_stats` (workers' BatchNorm moving statistics drift apart).
"""

import keras
import tensorflow as tf
from keras import ops

from ..model.build import training_view
from . import losses

TRACKED = ("g_loss", "g_adv", "l1", "rec", "d_loss")


class Trainer(keras.Model):
    """Wraps a generator (and a discriminator, or None) and trains them together."""

    def __init__(self, generator, discriminator=None, lam=10.0, seg_channels=3, seg_loss="l1",
                 edge=0.0, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.gen_view = training_view(generator)
        self.lam, self.seg_channels, self.seg_loss = float(lam), seg_channels, seg_loss
        self.edge = float(edge)
        names = TRACKED if discriminator is not None else ("l1", "rec")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    def compile(self, g_optimizer, d_optimizer=None):
        super().compile()
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # keras-team/keras#20585: fit() reduces the first batch across replicas only to learn
        # its shapes, which fails under MultiWorkerMirroredStrategy (PerReplica to Tensor).
        # Every variable is created by assemble.build_trainer, so nothing is left to build.
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def train_step(self, data):
        x, y = data
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            y_hat, logits = self.gen_view(x, training=True)
            rec = losses.reconstruction(y, y_hat, logits, self.seg_channels, self.seg_loss,
                                        self.edge)
            values = {"l1": losses.l1(y, y_hat), "rec": rec}
            g_loss = rec
            if self.discriminator is not None:
                d_real = self.discriminator([x, y], training=True)
                d_fake = self.discriminator([x, y_hat], training=True)
                values["g_adv"] = losses.generator_adversarial(d_fake)
                values["d_loss"] = losses.discriminator_loss(d_real, d_fake)
                g_loss = values["g_adv"] + self.lam * rec
                d_scaled = self.d_optimizer.scale_loss(values["d_loss"] / replicas)
            values["g_loss"] = g_loss
            g_scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        g_vars = self.generator.trainable_variables
        g_grads = g_tape.gradient(g_scaled, g_vars)
        if self.discriminator is not None:  # D first, then G (eq. 4, then eq. 3)
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        for name, tracker in self.trackers.items():
            tracker.update_state(ops.cast(values[name], "float32"))
        return self._logs()

    def sync_batchnorm_stats(self) -> None:
        """Give every worker replica 0's BatchNorm moving statistics.

        Keras updates moving mean/variance from each replica's own batch with no cross-worker
        aggregation: MirroredStrategy ends up with the first replica's, but under
        MultiWorkerMirroredStrategy each worker keeps its own, so workers' models, validations
        and checkpoints drift apart. Called after every fit() round; replica 0 (on the chief)
        is broadcast as an all-reduce SUM of value x (replica id == 0), so all workers then hold
        exactly what a mirrored run holds."""
        strategy = self.distribute_strategy
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return
        nets = [n for n in (self.generator, self.discriminator) if n is not None]
        moving = [v for n in nets for v in n.non_trainable_variables
                  if v.path.endswith(("/moving_mean", "/moving_variance"))]
        if not moving:
            return

        @tf.function
        def broadcast():
            ctx = tf.distribute.get_replica_context()
            first = tf.cast(tf.equal(ctx.replica_id_in_sync_group, 0), tf.float32)
            return ctx.all_reduce("SUM", [ops.cast(v.value, "float32") * first for v in moving])

        summed = strategy.run(broadcast)
        for var, value in zip(moving, summed):
            var.assign(ops.cast(strategy.experimental_local_results(value)[0], var.dtype))

    def _logs(self):
        """This replica's running means; fit() averages them over replicas. Under
        MultiWorkerMirroredStrategy Keras averages with strategy.reduce("MEAN", axis=0), which
        rejects scalars (tensorflow/tensorflow#72388): give it shape-(1,) values, whose mean
        over axis 0 and the replicas is the scalar a mirrored run logs."""
        logs = {name: t.result() for name, t in self.trackers.items()}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            logs = {name: ops.reshape(v, (1,)) for name, v in logs.items()}
        return logs


def adam(lr=2e-4, beta1=0.5, mixed_precision=False):
    """The paper's optimiser; wrapped for dynamic loss scaling under mixed precision."""
    opt = keras.optimizers.Adam(learning_rate=lr, beta_1=beta1)
    return keras.optimizers.LossScaleOptimizer(opt) if mixed_precision else opt
