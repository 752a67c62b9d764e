"""FP16 ONNX: conversion keeps FP32 I/O and metadata, the task-level check passes a healthy model
and catches overflow and quality loss."""

import numpy as np
import pytest

from cxrmt.export.precision import PrecisionCheckError, compare, failures
from cxrmt.pipeline import Result

pytest.importorskip("onnxconverter_common", reason="FP16 export needs onnxconverter-common")
onnx = pytest.importorskip("onnx", reason="FP16 export needs onnx")


def _result(masks=None, bone=None, out=None):
    return Result(masks, None, None, None, bone, out, None, {})


def test_compare_and_failures_on_known_results(rng):
    masks = (rng.random((3, 40, 40)) > 0.5).astype(np.uint8)
    bone = rng.integers(0, 65535, (40, 40)).astype(np.uint16)
    out = rng.uniform(-1, 1, (6, 8, 8)).astype(np.float32)
    same = compare([_result(masks, bone, out)], [_result(masks, bone, out)])
    assert same["dice_min"] == 1.0 and same["psnr_min_db"] == float("inf") and not failures(same)

    flipped = masks.copy()
    flipped[0, :4] ^= 1                                  # 10 % of the heart channel wrong
    noisy = np.clip(bone + rng.normal(0, 2000, bone.shape), 0, 65535).astype(np.uint16)
    black = np.full_like(out, -1.0)
    bad = compare([_result(masks, bone, out)], [_result(flipped, noisy, black)])
    text = "; ".join(failures(bad))
    assert "Dice" in text and "PSNR" in text and "collapsed" in text

    truth = masks.copy()
    ratio = compare([_result(masks, bone, out)], [_result(flipped, bone, out)], [truth])
    assert ratio["dice_ratio_min"] < 0.995 and "x FP32's" in failures(ratio)[0]

    empty = np.zeros_like(masks)              # both models miss every organ: no loss
    none = compare([_result(empty, bone, out)], [_result(empty, bone, out)], [truth])
    assert none["dice_ratio_min"] == 1.0 and not failures(none)


@pytest.fixture(scope="module")
def fp32_onnx(tmp_path_factory):
    pytest.importorskip("tensorflow", reason="needs TensorFlow (cxrmt[train])")
    pytest.importorskip("tf2onnx", reason="needs tf2onnx (cxrmt[train])")
    from cxrmt.export.onnx_export import export_onnx
    from cxrmt.model.build import build_networks

    import keras
    keras.utils.set_random_seed(0)
    g = build_networks("mt", 128, 8, levels=7).generator
    path = str(tmp_path_factory.mktemp("fp16") / "m.onnx")
    export_onnx(g, path, window="auto")
    return path


def test_fp16_model_is_half_inside_float_outside_and_close(fp32_onnx, tmp_path, rng):
    from cxrmt.export.fp16 import convert_fp16
    from cxrmt.runtime import open_runner

    half = convert_fp16(fp32_onnx, str(tmp_path / "m.fp16.onnx"))
    m = onnx.load(half)
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    assert {i.data_type for i in m.graph.initializer} & floats == {onnx.TensorProto.FLOAT16}
    x = rng.uniform(-1, 1, (1, 3, 128, 128)).astype(np.float32)
    with open_runner(fp32_onnx) as a, open_runner(half) as b:
        assert b.info.precision == "fp16" and b.info.meta["cxrmt.variant"] == "mt"
        diff = np.abs(a.run(x) - b.run(x)).max()
    assert 1e-6 < diff < 2e-2, diff                       # really FP16, and still accurate
    with pytest.raises(ValueError, match="already FP16"):
        convert_fp16(half, str(tmp_path / "again.onnx"))


def test_fp16_check_passes_a_confident_model(tmp_path):
    """An untrained U-Net's segmentation logits hover around 0, so FP16 rounding flips many
    mask pixels; the hand-built model has organ-shaped, confident masks like a trained one."""
    from cxrmt.export.fp16 import convert_fp16
    from cxrmt.export.precision import check_precision
    from test_runtime_fixtures import affine_model, chest

    fp32 = affine_model(tmp_path / "a.onnx", 64)
    half = convert_fp16(fp32, str(tmp_path / "a.fp16.onnx"))
    images = [chest(300, 240, seed=s) for s in range(2)]
    report = check_precision(fp32, half, images)
    assert report["psnr_min_db"] >= 45 and report["dice_min"] >= 0.995
    assert report["dice_min"] < 1.0 or report["psnr_min_db"] < float("inf")  # FP16 did differ


def test_fp16_nan_output_becomes_a_check_failure():
    from cxrmt.export.precision import _run

    class Overflowing:
        def run(self, image):
            raise FloatingPointError("the model produced NaN or Inf")

    with pytest.raises(PrecisionCheckError, match="FP16 overflow"):
        list(_run(Overflowing(), [None], "FP16"))


def test_fp16_out_of_range_model_is_refused(fp32_onnx, tmp_path):
    """Weights far beyond FP16's comfortable range: the converter clamps them (to 1e4) and the
    activations saturate, so FP16 and FP32 part ways; the check must refuse the FP16 model."""
    from cxrmt.export.fp16 import convert_fp16
    from cxrmt.export.precision import check_precision

    m = onnx.load(fp32_onnx)
    first = next(i for i in m.graph.initializer if len(i.dims) == 4)
    w = onnx.numpy_helper.to_array(first) * 1e6
    first.CopyFrom(onnx.numpy_helper.from_array(w.astype(np.float32), first.name))
    hot = str(tmp_path / "hot.onnx")
    onnx.save(m, hot)
    convert_fp16(hot, str(tmp_path / "hot.fp16.onnx"))
    with pytest.raises(PrecisionCheckError, match="overflow|collapsed|Dice|PSNR") as err:
        check_precision(hot, str(tmp_path / "hot.fp16.onnx"))
    print(err.value)
