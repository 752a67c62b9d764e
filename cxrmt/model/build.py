"""Build any variant, count its parameters, switch inference statistics, save and load."""

from dataclasses import dataclass

import keras
import numpy as np

from . import layers as cx_layers
from .baselines import build_autoencoder, build_unet
from .discriminator import build_discriminator
from .generator import build_generator
from .variants import HEADS, Variant, check_size, get_variant


@dataclass
class Networks:
    generator: keras.Model
    discriminator: keras.Model | None  # None for the non-GAN baselines


def build_networks(variant, size=512, ngf=64, levels=8, head="paper", dropout=0.5,
                   inference_stats="moving", ndf=64) -> Networks:
    """Generator (+ PatchGAN for the pix2pix variants) of a variant; raises ValueError for a
    variant, size, head or statistics mode that is not supported."""
    v = variant if isinstance(variant, Variant) else get_variant(variant)
    check_size(v, size, levels)
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS} (got {head!r})")
    if ngf < 1 or ndf < 1:
        raise ValueError(f"ngf and ndf must be positive (got {ngf}, {ndf})")
    if v.kind == "unet":
        return Networks(build_unet(size, v.out_channels), None)
    if v.kind == "autoencoder":
        return Networks(build_autoencoder(size), None)
    gen = build_generator(size, v.out_channels, ngf, levels, v.dilated, head, v.seg_channels,
                          dropout, inference_stats)
    if head == "residual" and v.task != "seg":
        zero_bone_logits(gen, v.seg_channels)
    return Networks(gen, build_discriminator(size, 3, v.out_channels, ndf))


def zero_bone_logits(gen: keras.Model, seg_channels: int) -> None:
    """Residual head: start with b = 0, so the untrained model is the identity on bone channels."""
    last = gen.get_layer("logits")
    kernel, bias = (w.numpy() for w in last.weights)  # kernel (4, 4, out, in)
    kernel[:, :, seg_channels:, :] = 0.0
    bias[seg_channels:] = 0.0
    last.set_weights([kernel, bias])


def count_params(model) -> int:
    """Trainable parameters (weights, biases, BN scale and offset), as the paper's Table IV."""
    if model is None:
        return 0
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def param_counts(variant, size=512, ngf=64, levels=8, head="paper", ndf=64) -> dict:
    nets = build_networks(variant, size, ngf, levels, head, ndf=ndf)
    g, d = count_params(nets.generator), count_params(nets.discriminator)
    return {"generator": g, "discriminator": d, "total": g + d}


def training_view(gen: keras.Model) -> keras.Model:
    """The same weights, returning (output, logits): the losses on logits need the latter."""
    return keras.Model(gen.input, [gen.output, gen.get_layer("logits").output],
                       name=f"{gen.name}_train")


def with_inference_stats(gen: keras.Model, mode: str) -> keras.Model:
    """A copy of the generator whose BatchNorm layers use `mode` statistics at inference."""
    if mode not in cx_layers.INFERENCE_STATS:
        raise ValueError(f"inference statistics must be one of {cx_layers.INFERENCE_STATS}")
    config = gen.get_config()
    for layer in config["layers"]:
        if layer["class_name"].endswith("Norm"):
            layer["config"]["inference_stats"] = mode
    copy = keras.Model.from_config(config, custom_objects=_custom_objects())
    copy.set_weights(gen.get_weights())
    return copy


def _custom_objects() -> dict:
    return {c.__name__: c for c in (cx_layers.Norm, cx_layers.OutputHead,
                                    cx_layers.TiedAutoencoder)}


def load_generator(path) -> keras.Model:
    """Load a saved `.keras` generator (registers the cxrmt layers first), in float32: a model
    trained under a mixed-precision policy runs and exports as the FP32 graph it ships as."""
    model = keras.saving.load_model(path, custom_objects=_custom_objects(), compile=False)
    return as_float32(model)


def as_float32(gen: keras.Model) -> keras.Model:
    """The generator with every layer's dtype policy float32 (the weights are float32 under
    mixed precision already); the model itself when it is float32."""
    config = gen.get_config()
    mixed = False
    for layer in config["layers"]:
        policy = layer["config"].get("dtype")
        name = policy.get("config", {}).get("name") if isinstance(policy, dict) else policy
        if name not in (None, "float32"):
            layer["config"]["dtype"] = "float32"
            mixed = True
    if not mixed:
        return gen
    copy = keras.Model.from_config(config, custom_objects=_custom_objects())
    copy.set_weights(gen.get_weights())
    return copy


def conv_macs(model) -> int:
    """Multiply-accumulates of one forward pass of one image through the (transposed)
    convolutions, the bulk of the work (a FLOP is 2 MACs)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            kh, kw, a, b = layer.kernel.shape
            cin, cout = (b, a) if isinstance(layer, keras.layers.Conv2DTranspose) else (a, b)
            # a transposed conv spreads each input pixel over k x k outputs: count per input
            h, w = (layer.input.shape if isinstance(layer, keras.layers.Conv2DTranspose)
                    else layer.output.shape)[1:3]
            total += int(h) * int(w) * kh * kw * cin * cout
    return total
