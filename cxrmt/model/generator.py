"""pix2pix U-Net generator, plain or dilated ("dG"), as in the paper and the authors' code.

Encoder level i (1-based) halves the image: S -> S/2^i. Filters: ngf, 2ngf, 4ngf, 8ngf, 8ngf...
Decoder mirrors it with skip concatenations; dropout 0.5 on its first three levels (training only).
"""

import keras
from keras import layers

from .layers import Norm, OutputHead, conv_init

DROPOUT_LEVELS = 3


def encoder_filters(ngf: int, levels: int) -> list:
    return [ngf * min(2 ** i, 8) for i in range(levels)]


def down(x, filters, dilated, stats, name):
    """LeakyReLU 0.2 -> stride-2 conv k4 -> BN; dilated: LReLU -> conv k4 rate 2 stride 1
    'same' -> 2x2 max-pool -> BN (the authors' layer; Keras refuses stride 2 with dilation)."""
    x = layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)
    if dilated:
        x = layers.Conv2D(filters, 4, padding="same", dilation_rate=2,
                          kernel_initializer=conv_init(), name=f"{name}_conv")(x)   # (S, S, f)
        x = layers.MaxPool2D(2, name=f"{name}_pool")(x)                           # (S/2, S/2, f)
    else:
        x = layers.Conv2D(filters, 4, strides=2, padding="same",
                          kernel_initializer=conv_init(), name=f"{name}_conv")(x)  # (S/2, S/2, f)
    return Norm(stats, name=f"{name}_bn")(x)


def up(x, filters, dropout, stats, name):
    """ReLU -> transposed conv k4 stride 2 -> BN [-> dropout]: (s, s, c) -> (2s, 2s, filters)."""
    x = layers.ReLU(name=f"{name}_relu")(x)
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same",
                               kernel_initializer=conv_init(), name=f"{name}_deconv")(x)
    x = Norm(stats, name=f"{name}_bn")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def encoder(x, ngf, levels, dilated, stats):
    """[(S/2, S/2, ngf), ..., (S/2^L, S/2^L, 8ngf)]; levels 2..L-1 dilated in dG."""
    filters = encoder_filters(ngf, levels)
    feats = [layers.Conv2D(filters[0], 4, strides=2, padding="same",
                           kernel_initializer=conv_init(), name="enc1_conv")(x)]
    for i in range(1, levels):
        use_dilation = dilated and i < levels - 1
        feats.append(down(feats[-1], filters[i], use_dilation, stats, f"enc{i + 1}"))
    return feats


def decoder(feats, out_channels, dropout, stats):
    """Back up from the bottleneck, concatenating the skips; returns logits (S, S, out)."""
    filters = encoder_filters(feats[0].shape[-1], len(feats))
    x = feats[-1]
    for j, i in enumerate(range(len(feats) - 2, -1, -1)):   # to the size of encoder level i+1
        drop = dropout if j < DROPOUT_LEVELS else 0.0
        x = up(x, filters[i], drop, stats, f"dec{i + 2}")
        x = layers.Concatenate(name=f"dec{i + 2}_skip")([x, feats[i]])  # (.., 2 * filters[i])
    x = layers.ReLU(name="dec1_relu")(x)
    return layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same",
                                  kernel_initializer=conv_init(), name="logits")(x)


def build_generator(size, out_channels, ngf=64, levels=8, dilated=False, head="paper",
                    seg_channels=3, dropout=0.5, inference_stats="moving", name="generator"):
    """(S, S, 3) in [-1, 1] -> (S, S, out_channels) in [-1, 1]."""
    x = keras.Input((size, size, 3), name="image")
    z = decoder(encoder(x, ngf, levels, dilated, inference_stats), out_channels, dropout,
                inference_stats)
    y = OutputHead(head, seg_channels, name="output")([x, z])
    return keras.Model(x, y, name=name)
