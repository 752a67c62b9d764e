"""The paper's baselines: Ronneberger's U-Net (segmentation) and the tied-weight convolutional
autoencoder (bone suppression). Both end in the same OutputHead as the generators, so their
outputs follow the model-output contract (tanh, [-1, 1], organ where channel > 0)."""

import keras
from keras import layers

from .layers import OutputHead, TiedAutoencoder

UNET_FILTERS = (64, 128, 256, 512, 1024)


def _double_conv(x, filters, name):
    for k in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv{k}")(x)
    return x


def build_unet(size, out_channels=3, name="unet"):
    """(S, S, 3) -> (S, S, out): 4 poolings, 3x3 convs, 2x2 up-convs, 1x1 output (31,031,875
    weights for 3 -> 3 channels; the paper reports 31,084,008 without the layer detail)."""
    x = keras.Input((size, size, 3), name="image")
    skips, h = [], x
    for i, f in enumerate(UNET_FILTERS[:-1]):
        h = _double_conv(h, f, f"down{i + 1}")                   # (S/2^i, S/2^i, f)
        skips.append(h)
        h = layers.MaxPool2D(2, name=f"down{i + 1}_pool")(h)
    h = _double_conv(h, UNET_FILTERS[-1], "bottom")               # (S/16, S/16, 1024)
    for i in reversed(range(len(skips))):
        f = UNET_FILTERS[i]
        h = layers.Conv2DTranspose(f, 2, strides=2, name=f"up{i + 1}_upconv")(h)
        h = layers.Concatenate(name=f"up{i + 1}_skip")([skips[i], h])
        h = _double_conv(h, f, f"up{i + 1}")                     # (S/2^i, S/2^i, f)
    z = layers.Conv2D(out_channels, 1, name="logits")(h)
    return keras.Model(x, OutputHead("paper", out_channels, name="output")([x, z]), name=name)


def build_autoencoder(size, name="autoencoder"):
    """(S, S, 3) -> (S, S, 3): the grey channel through the tied autoencoder, tanh, replicated."""
    x = keras.Input((size, size, 3), name="image")
    z1 = TiedAutoencoder(name="autoencoder")(x)                    # (S, S, 1)
    z = layers.Concatenate(name="logits")([z1, z1, z1])           # (S, S, 3)
    return keras.Model(x, OutputHead("paper", 0, name="output")([x, z]), name=name)
