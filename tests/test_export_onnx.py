"""Keras -> ONNX export: metadata, graph contents, ONNX Runtime vs TensorFlow, the CLI, and the
TensorFlow backend (all with small generators: 64-128 px, ngf 8)."""

import argparse
import json
import logging

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="export needs TensorFlow (cxrmt[train])")
pytest.importorskip("tf2onnx", reason="export needs tf2onnx (cxrmt[train])")
onnx = pytest.importorskip("onnx", reason="export needs onnx (cxrmt[train])")

from cxrmt.runtime import metadata as md  # noqa: E402
from cxrmt.export.phantom import phantom  # noqa: E402
from cxrmt.model.describe import describe_generator  # noqa: E402
from cxrmt.export.onnx_export import (ExportCheckError, at_size,  # noqa: E402
                                      export_onnx)
from cxrmt.runtime import open_runner  # noqa: E402

ALLOWED_OPS = {"Conv", "ConvTranspose", "LeakyRelu", "Relu", "Concat", "Mul", "Add", "Tanh",
               "MaxPool", "Reshape", "Transpose", "Identity"}


@pytest.fixture(scope="module")
def generator():
    from cxrmt.model.build import build_networks
    return build_networks("mtdg", 64, 8, levels=6).generator


@pytest.fixture(scope="module")
def exported(generator, tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    return {layout: export_onnx(generator, str(folder / f"{layout}.onnx"), layout=layout, window="auto") for layout in ("nchw", "nhwc")}


def _tf(generator, x_nhwc):
    return generator(x_nhwc, training=False).numpy()


def test_metadata_describes_the_model(exported, generator):
    m = onnx.load(exported["nchw"]["path"])
    meta = md.onnx_metadata(m)
    assert meta["cxrmt.variant"] == "mtdg" and meta["cxrmt.task"] == "mt"
    assert (meta["cxrmt.size"], meta["cxrmt.layout"], meta["cxrmt.precision"]) == \
        ("64", "nchw", "fp32")
    assert json.loads(meta["cxrmt.channels"])[:3] == ["heart", "left_lung", "right_lung"]
    assert json.loads(meta["cxrmt.palette"])[3] == [255, 0, 0]
    assert "MONOCHROME2" in meta["cxrmt.polarity"]
    assert meta["cxrmt.weights_sha256"] == md.sha256_weights(generator.get_weights())
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 17
    onnx.checker.check_model(m, full_check=True)


def test_graph_is_static_and_plain(exported):
    for layout, rep in exported.items():
        g = onnx.load(rep["path"]).graph
        dims = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
        assert dims == ([1, 3, 64, 64] if layout == "nchw" else [1, 64, 64, 3])
        ops = {n.op_type for n in g.node}
        assert ops <= ALLOWED_OPS, ops - ALLOWED_OPS
        if layout == "nchw":   # tf2onnx folded the layout change into the convolutions
            assert "Transpose" not in ops


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_onnx_runtime_matches_tensorflow(exported, generator, layout, rng):
    xs = [rng.uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)]
    from cxrmt import kernels
    xs.append(kernels.preprocess(phantom(150, 120, 7), 64, bits_stored=12)[0])
    with open_runner(exported[layout]["path"]) as r:
        for x in xs:
            y = r.run(x if layout == "nhwc" else x.transpose(0, 3, 1, 2))
            y = y if layout == "nhwc" else y.transpose(0, 2, 3, 1)
            ref = _tf(generator, x)
            assert np.abs(ref).max() > 0.01              # the comparison means something
            np.testing.assert_allclose(y, ref, atol=1e-5)


def test_export_check_rejects_a_mismatch(generator, tmp_path):
    out = str(tmp_path / "m.onnx")
    with pytest.raises(ExportCheckError, match="disagree"):
        export_onnx(generator, out, tol=0.0, window="auto")   # any rounding fails
    assert (tmp_path / "m.onnx.rejected").exists() and not (tmp_path / "m.onnx").exists()


def test_export_at_another_size_keeps_the_weights(generator, tmp_path, rng):
    rep = export_onnx(generator, str(tmp_path / "m128.onnx"), size=128, layout="nhwc", window="auto")
    assert rep["metadata"]["cxrmt.size"] == "128"
    assert rep["metadata"]["cxrmt.weights_sha256"] == md.sha256_weights(generator.get_weights())
    with open_runner(rep["path"]) as r:
        x = rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
        ref = at_size(generator, 128)(x, training=False).numpy()
        np.testing.assert_allclose(r.run(x), ref, atol=1e-5)
    with pytest.raises(ValueError, match="size 96 is not supported"):
        export_onnx(generator, str(tmp_path / "bad.onnx"), size=96, window="auto")


def test_static_batch_export_serves_run_batch(generator, exported, tmp_path):
    from cxrmt.pipeline import Predictor
    rep = export_onnx(generator, str(tmp_path / "b2.onnx"), batch=2, window="auto")
    assert rep["metadata"]["cxrmt.batch"] == "2"
    images = [phantom(90 + 10 * i, 80, seed=i) for i in range(3)]
    with Predictor(rep["path"], bits_stored=12) as p2, \
            Predictor(exported["nchw"]["path"], bits_stored=12) as p1:
        assert p2.info.batch == 2
        for a, b in zip(p2.run_batch(images), [p1.run(im) for im in images]):
            np.testing.assert_allclose(a.output, b.output, atol=1e-5)
            assert np.mean(a.masks != b.masks) < 1e-3


def test_bad_export_arguments(generator, tmp_path):
    with pytest.raises(ValueError, match="opset must be >= 17"):
        export_onnx(generator, str(tmp_path / "m.onnx"), opset=13, window="auto")
    with pytest.raises(ValueError, match="batch must be >= 1"):
        export_onnx(generator, str(tmp_path / "m.onnx"), batch=0, window="auto")
    with pytest.raises(FileNotFoundError, match="no such model file"):
        export_onnx(str(tmp_path / "absent.keras"), str(tmp_path / "m.onnx"), window="auto")


def test_variant_is_read_from_the_layers():
    from cxrmt.model.build import build_networks
    for name in ("st-bse", "stdg-seg"):
        g = build_networks(name, 64, 4, levels=6).generator
        assert describe_generator(g) == (name, name.split("-")[1])


def _cli(argv):
    from cxrmt.export import commands
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_export_fp16_and_triton_from_a_keras_file(generator, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="cxrmt")   # the exporter logs; no CLI handler here
    keras_path = str(tmp_path / "g.keras")
    generator.save(keras_path)
    out = tmp_path / "out" / "g.onnx"
    with pytest.raises(ValueError, match="cannot tell which network window"):
        _cli(["export", keras_path, "--onnx", str(out)])    # no model.json beside it
    assert _cli(["export", keras_path, "--onnx", str(out), "--fp16", "--window", "full",
                 "--triton", str(tmp_path / "repo")]) == 0
    from cxrmt.runtime.metadata import read_onnx_metadata
    assert read_onnx_metadata(str(tmp_path / "out" / "g.fp16.onnx"))["cxrmt.window"] == "full"
    text = "".join(capsys.readouterr()) + caplog.text   # the command's report and the log
    assert "ORT vs TF max |d|" in text and "FP16 check passed" in text
    assert (tmp_path / "out" / "g.fp16.onnx").exists()
    assert (tmp_path / "repo" / "cxrmt_network" / "1" / "model.onnx").read_bytes() == \
        (tmp_path / "out" / "g.fp16.onnx").read_bytes()
    with pytest.raises(ValueError, match="--onnx OUT is needed"):
        _cli(["export", keras_path])


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_tensorflow_backend_matches_onnx(generator, exported, tmp_path, layout):
    keras_path = str(tmp_path / "g.keras")
    generator.save(keras_path)
    x = np.random.default_rng(5).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    x = x if layout == "nhwc" else x.transpose(0, 3, 1, 2)
    with open_runner(keras_path, layout=layout) as tf_r, \
            open_runner(exported[layout]["path"]) as ort_r:
        assert tf_r.info.input_shape == ort_r.info.input_shape
        np.testing.assert_allclose(tf_r.run(x), ort_r.run(x), atol=1e-5)


def test_a_model_trained_in_bfloat16_loads_and_exports_as_float32(tmp_path):
    """A generator built under mixed_bfloat16 (as `--mixed-precision` trains on a CPU) loads
    with float32 layers, computing what the mixed model computes within bfloat16 rounding, and
    exports to an ONNX graph the checker accepts."""
    import keras

    from cxrmt.model.build import build_networks, load_generator

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = build_networks("mtdg", 32, 4, 3, head="residual").generator
    finally:
        keras.mixed_precision.set_global_policy(previous)
    path = str(tmp_path / "bf16.keras")
    mixed.save(path)
    loaded = load_generator(path)
    assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    a = np.asarray(mixed(x, training=False), np.float32)
    b = np.asarray(loaded(x, training=False))
    assert b.dtype == np.float32 and np.abs(a - b).max() < 0.05
    rep = export_onnx(path, str(tmp_path / "bf16.onnx"), window="auto")
    assert rep["metadata"]["cxrmt.window"] == "auto"
