"""PatchGAN discriminator C64-C128-C256-C512-1 (70x70 receptive field) on concat(input, output)."""

import keras
from keras import layers

from .layers import Norm, conv_init


def build_discriminator(size, in_channels, out_channels, ndf=64, name="discriminator"):
    """(S, S, in) and (S, S, out) -> (S/8 - 2, S/8 - 2, 1) logits; sigmoid(logit) = D, the
    probability that the pair is real (the losses apply the sigmoid in a stable form)."""
    x = keras.Input((size, size, in_channels), name="image")
    y = keras.Input((size, size, out_channels), name="target")
    h = layers.Concatenate(name="pair")([x, y])                              # (S, S, in + out)
    h = layers.Conv2D(ndf, 4, strides=2, padding="same", kernel_initializer=conv_init(),
                      name="c1_conv")(h)                                     # (S/2, S/2, 64)
    h = layers.LeakyReLU(0.2, name="c1_lrelu")(h)
    for i, (mult, stride) in enumerate(((2, 2), (4, 2), (8, 1)), start=2):  # S/4, S/8, S/8 - 1
        if stride == 1:
            h = layers.ZeroPadding2D(1, name=f"c{i}_pad")(h)
        h = layers.Conv2D(ndf * mult, 4, strides=stride,
                          padding="same" if stride == 2 else "valid",
                          kernel_initializer=conv_init(), name=f"c{i}_conv")(h)
        h = Norm(name=f"c{i}_bn")(h)
        h = layers.LeakyReLU(0.2, name=f"c{i}_lrelu")(h)
    h = layers.ZeroPadding2D(1, name="c5_pad")(h)
    z = layers.Conv2D(1, 4, kernel_initializer=conv_init(), dtype="float32",
                      name="logits")(h)                                      # (S/8 - 2, ., 1)
    return keras.Model([x, y], z, name=name)
