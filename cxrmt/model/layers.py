"""Small custom Keras layers of the cxrmt networks (registered, so saved models reload)."""

import keras
from keras import ops

PACKAGE = "cxrmt"
INFERENCE_STATS = ("moving", "instance")


def conv_init():
    """pix2pix initialisation: weights ~ N(0, 0.02)."""
    return keras.initializers.RandomNormal(0.0, 0.02)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Norm(keras.layers.BatchNormalization):
    """BatchNorm whose inference statistics are selectable.

    training: batch statistics (and moving averages updated), as in every pix2pix.
    inference, "moving": the moving averages (a fixed per-channel affine; exports as Mul/Add).
    inference, "instance": the sample's own per-channel statistics over H x W, which equal the
    batch statistics seen in training at batch size 1 without coupling the samples of a batch.
    """

    def __init__(self, inference_stats="moving", **kwargs):
        kwargs.setdefault("momentum", 0.9)
        kwargs.setdefault("epsilon", 1e-5)
        kwargs.setdefault("gamma_initializer", keras.initializers.RandomNormal(1.0, 0.02))
        super().__init__(**kwargs)
        if inference_stats not in INFERENCE_STATS:
            raise ValueError(f"inference_stats must be one of {INFERENCE_STATS}")
        self.inference_stats = inference_stats

    def call(self, x, training=None, mask=None):
        if training or self.inference_stats == "moving":
            return super().call(x, training=training, mask=mask)
        xf = ops.cast(x, "float32")
        mean, var = ops.moments(xf, axes=(1, 2), keepdims=True)  # (N, 1, 1, C)
        y = (xf - mean) * ops.rsqrt(var + self.epsilon) * self.gamma + self.beta
        return ops.cast(y, x.dtype)

    def get_config(self):
        return {**super().get_config(), "inference_stats": self.inference_stats}


@keras.saving.register_keras_serializable(package=PACKAGE)
class OutputHead(keras.layers.Layer):
    """Turns the last layer's logits z into the model output, in float32.

    paper:    tanh(z) on every channel (the network re-creates the bone-suppressed image).
    residual: tanh(z) on the segmentation channels; the bone channels predict the bone layer b
              and output clip(x - b, -1, 1), the identity when b = 0 (how it is initialised).
    """

    def __init__(self, head="paper", seg_channels=3, **kwargs):
        kwargs["dtype"] = "float32"  # outputs stay float32 under mixed precision
        super().__init__(**kwargs)
        self.head, self.seg_channels = head, seg_channels

    def call(self, inputs):
        x, z = (ops.cast(t, "float32") for t in inputs)
        if self.head == "paper" or z.shape[-1] == self.seg_channels:
            return ops.tanh(z)
        k = self.seg_channels
        bone = ops.clip(x[..., : z.shape[-1] - k] - z[..., k:], -1.0, 1.0)
        return ops.concatenate([ops.tanh(z[..., :k]), bone], axis=-1) if k else bone

    def get_config(self):
        return {**super().get_config(), "head": self.head, "seg_channels": self.seg_channels}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TiedAutoencoder(keras.layers.Layer):
    """Convolutional autoencoder whose decoder reuses the encoder's kernels transposed.

    Encoder: 5x5 convolutions, stride 2, no biases, ReLU, filters 1 -> 16 -> 32 -> 64; decoder:
    the same three kernels as transposed convolutions back to 1 channel. 64,400 weights, the
    paper's count for its autoencoder baseline. Returns logits (N, H, W, 1).
    """

    def __init__(self, filters=(16, 32, 64), kernel=5, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel = tuple(filters), kernel

    def build(self, input_shape):
        chans = (1, *self.filters)
        self.kernels = [self.add_weight(name=f"kernel{i}", initializer=conv_init(),
                                        shape=(self.kernel, self.kernel, chans[i], chans[i + 1]))
                        for i in range(len(self.filters))]

    def call(self, x):
        h = x[..., :1]                                # (N, S, S, 1): the grey image
        for k in self.kernels:                        # S/2, S/4, S/8; 16, 32, 64 channels
            h = ops.relu(ops.conv(h, k, strides=2, padding="same"))
        for i in reversed(range(len(self.kernels))):  # transposed, back to (N, S, S, 1)
            h = ops.conv_transpose(h, self.kernels[i], strides=2, padding="same")
            if i:
                h = ops.relu(h)
        return h

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 1)

    def get_config(self):
        return {**super().get_config(), "filters": list(self.filters), "kernel": self.kernel}
