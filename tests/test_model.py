"""Networks: Table IV parameter counts, shapes, the dilated layer, BatchNorm modes, heads."""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from cxrmt.model import build as mb  # noqa: E402
from cxrmt.model.variants import VARIANTS, check_size, get_variant  # noqa: E402


def conv(k, cin, cout):  # weights + biases of a k x k (transposed) convolution
    return k * k * cin * cout + cout


def pix2pix_counts(ngf, levels, out, in_ch=3):
    """Closed-form count of the pix2pix generator and PatchGAN (BN: scale + offset)."""
    f = [ngf * min(2 ** i, 8) for i in range(levels)]
    g = conv(4, in_ch, f[0]) + sum(conv(4, f[i - 1], f[i]) + 2 * f[i] for i in range(1, levels))
    g += conv(4, f[-1], f[-2]) + 2 * f[-2]                     # first decoder level: no skip
    g += sum(conv(4, 2 * f[i], f[i - 1]) + 2 * f[i - 1] for i in range(levels - 2, 0, -1))
    g += conv(4, 2 * f[0], out)
    d = conv(4, in_ch + out, 64) + sum(conv(4, a, b) + 2 * b for a, b in
                                       ((64, 128), (128, 256), (256, 512))) + conv(4, 512, 1)
    return g, d


@pytest.mark.parametrize("variant,total", [("st-seg", 57_190_084), ("mtdg", 57_199_303)])
def test_table_iv_parameter_counts(variant, total):
    counts = mb.param_counts(variant, 512, 64)
    assert counts["total"] == total  # the paper's Table IV
    assert (counts["generator"], counts["discriminator"]) == pix2pix_counts(
        64, 8, get_variant(variant).out_channels)


@pytest.mark.parametrize("variant", ["st-bse", "stdg-seg", "mt"])
def test_counts_match_closed_form_at_small_width(variant):
    v = get_variant(variant)
    counts = mb.param_counts(variant, 64, 8, levels=5)
    assert (counts["generator"], counts["discriminator"]) == pix2pix_counts(8, 5, v.out_channels)
    assert counts["total"] == sum(pix2pix_counts(8, 5, v.out_channels))


def test_baseline_counts():
    ae = mb.param_counts("autoencoder", 64)
    assert ae == {"generator": 64_400, "discriminator": 0, "total": 64_400}  # paper: 64,400
    f = (64, 128, 256, 512, 1024)
    unet = sum(conv(3, a, b) + conv(3, b, b) for a, b in zip((3,) + f[:-1], f))
    unet += sum(conv(2, f[i + 1], f[i]) + conv(3, 2 * f[i], f[i]) + conv(3, f[i], f[i])
                for i in range(4)) + conv(1, 64, 3)
    assert mb.param_counts("unet", 64)["generator"] == unet == 31_031_875


@pytest.mark.parametrize("size", [256, 512])
def test_output_shapes(size):
    for name in ("mtdg", "st-bse"):
        nets = mb.build_networks(name, size, 8)
        c = VARIANTS[name].out_channels
        assert tuple(nets.generator.output.shape) == (None, size, size, c)
        assert tuple(nets.generator.get_layer("enc8_bn").output.shape) == (
            None, size // 256, size // 256, 64)
        p = size // 8 - 2  # PatchGAN: 70x70 receptive field, 30x30 at 256
        assert tuple(nets.discriminator.output.shape) == (None, p, p, 1)


def test_dilated_generator_layers():
    gen = mb.build_networks("mtdg", 256, 8).generator
    for level in range(2, 8):
        c = gen.get_layer(f"enc{level}_conv")
        assert (c.strides, c.dilation_rate) == ((1, 1), (2, 2))
        assert gen.get_layer(f"enc{level}_pool").output.shape[1] == 256 // 2 ** level
    for level in (1, 8):
        c = gen.get_layer(f"enc{level}_conv")
        assert (c.strides, c.dilation_rate) == ((2, 2), (1, 1))
    plain = mb.build_networks("mt", 256, 8).generator
    assert not any("pool" in layer.name for layer in plain.layers)


def test_dilated_level_against_zero_stuffed_kernel(rng):
    """conv(k4, rate 2) -> max-pool equals a dense 7x7 conv with the kernel's taps spread out."""
    gen = mb.build_networks("stdg-seg", 64, 4, levels=5).generator
    conv_layer = gen.get_layer("enc2_conv")
    sub = keras.Model(gen.get_layer("enc2_lrelu").output, gen.get_layer("enc2_pool").output)
    x = rng.normal(size=(1, 32, 32, 4)).astype(np.float32)
    k, b = (w.numpy() for w in conv_layer.weights)
    dense = np.zeros((7, 7) + k.shape[2:], np.float32)
    dense[::2, ::2] = k
    import tensorflow as tf
    y = tf.nn.conv2d(x, dense, 1, [[0, 0], [3, 3], [3, 3], [0, 0]]).numpy() + b
    ref = y.reshape(1, 16, 2, 16, 2, -1).max(axis=(2, 4))
    np.testing.assert_allclose(np.asarray(sub(x)), ref, rtol=1e-5, atol=1e-5)


def test_inference_is_deterministic_and_training_is_not(rng):
    gen = mb.build_networks("mtdg", 64, 8, levels=6).generator
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    a, b = np.asarray(gen(x, training=False)), np.asarray(gen(x, training=False))
    np.testing.assert_array_equal(a, b)
    t1, t2 = np.asarray(gen(x, training=True)), np.asarray(gen(x, training=True))
    assert np.abs(t1 - t2).max() > 1e-3  # dropout is active only in training
    assert a.min() >= -1 and a.max() <= 1


def test_instance_statistics_match_batch1_training_norm(rng):
    from cxrmt.model.layers import Norm

    layer = Norm("instance")
    x = rng.normal(2.0, 3.0, (3, 5, 5, 4)).astype(np.float32)
    layer.build(x.shape)
    layer.gamma.assign(rng.normal(size=4).astype(np.float32))
    layer.beta.assign(rng.normal(size=4).astype(np.float32))
    got = np.asarray(layer(x, training=False))
    mu, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    ref = (x - mu) / np.sqrt(var + 1e-5) * layer.gamma.numpy() + layer.beta.numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(layer(x[:1], training=True)), ref[:1], atol=1e-4)
    moving = Norm("moving")
    moving.build(x.shape)
    np.testing.assert_allclose(np.asarray(moving(x, training=False)), x / np.sqrt(1 + 1e-5)
                               * moving.gamma.numpy(), rtol=1e-5, atol=1e-5)


def test_residual_head_is_identity_on_bone_channels_at_init(rng):
    gen = mb.build_networks("mtdg", 64, 8, levels=6, head="residual").generator
    x = rng.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    y = np.asarray(gen(x, training=False))
    np.testing.assert_array_equal(y[..., 3:], x)
    assert np.abs(y[..., :3]).max() > 0  # organ channels are not zeroed


def test_save_load_and_switch_statistics(tmp_path, rng):
    gen = mb.build_networks("stdg-bse", 64, 8, levels=5, head="residual").generator
    x = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    path = tmp_path / "g.keras"
    gen.save(path)
    np.testing.assert_array_equal(np.asarray(mb.load_generator(path)(x)), np.asarray(gen(x)))
    inst = mb.with_inference_stats(gen, "instance")
    assert all(layer.inference_stats == "instance" for layer in inst.layers
               if hasattr(layer, "inference_stats"))
    np.testing.assert_allclose(np.asarray(inst(x[:1], training=False)),
                               np.asarray(gen(x[:1], training=False)), atol=0.5)
    with pytest.raises(ValueError, match="inference statistics"):
        mb.with_inference_stats(gen, "batch")


@pytest.mark.parametrize("variant,size,levels,match", [
    ("mtdg", 300, 8, "size 300 is not supported"), ("mtdg", 64, 8, "multiple of 256"),
    ("unet", 40, 8, "multiple of 16"), ("nope", 256, 8, "unknown variant")])
def test_bad_configuration_errors(variant, size, levels, match):
    with pytest.raises(ValueError, match=match):
        check_size(get_variant(variant), size, levels)


def test_model_params_command(capsys):
    import argparse

    from cxrmt.model.commands import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model", "params", "--variant", "autoencoder", "--size", "256",
                              "--json"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out) == {"generator": 64400, "discriminator": 0,
                                                   "total": 64400}
