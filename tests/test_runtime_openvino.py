"""The OpenVINO backend against independent references: the closed-form affine models (numpy),
and ONNX Runtime on the shipped model; its IR export, metadata, threads and the auto rule."""

import os
import sys
import threading

import numpy as np
import pytest

from cxrmt.runtime.metadata import read_onnx_metadata
from cxrmt.shipped import default_model
from cxrmt.runtime import backend_name, open_runner
from cxrmt.runtime.cpu import cpu_has_bf16
from test_runtime_fixtures import affine_model, affine_reference, chest

ov = pytest.importorskip("openvino", reason="the OpenVINO backend needs cxrmt[openvino]")
from cxrmt.runtime.openvino_backend import OpenVinoRunner, read_metadata  # noqa: E402


@pytest.fixture(scope="module")
def shipped_input():
    from cxrmt.pipeline import Predictor

    with Predictor(default_model(), device="cpu") as p:
        x = p.model_input(chest(600, 520))
        return x, p.runner.run(x)


@pytest.mark.parametrize("layout, task", [("nchw", "mt"), ("nhwc", "mt"), ("nchw", "bse")])
def test_affine_models_match_numpy(tmp_path, rng, layout, task):
    path = affine_model(tmp_path / "m.onnx", 16, layout=layout, task=task)
    x = rng.uniform(-1, 1, (1, 3, 16, 16) if layout == "nchw" else (1, 16, 16, 3))
    with open_runner(path, backend="openvino", precision="f32") as r:
        assert isinstance(r, OpenVinoRunner)
        assert (r.info.layout, r.info.task, r.info.window) == (layout, task, "full")
        y = r.run(x.astype(np.float32))
    nchw = x if layout == "nchw" else x.transpose(0, 3, 1, 2)
    ref = affine_reference(nchw, task)
    np.testing.assert_allclose(y if layout == "nchw" else y.transpose(0, 3, 1, 2), ref,
                               atol=1e-5)


def test_shipped_model_matches_onnxruntime(shipped_input):
    x, ref = shipped_input
    with open_runner(default_model(), backend="openvino", precision="f32") as r, \
            open_runner(default_model()) as ort:
        assert r.info == ort.info
        assert np.abs(r.run(x) - ref).max() < 1e-4


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no AVX512-BF16/AMX")
def test_bf16_hint_is_used_and_passes_the_task_check(shipped_input):
    from cxrmt.export.precision import check_precision

    x, ref = shipped_input
    with open_runner(default_model(), backend="openvino") as r:    # precision auto
        assert r.inference_precision == "bf16"
        assert np.abs(r.run(x) - ref).max() > 1e-3    # not silently FP32
    report = check_precision(default_model(), default_model(), label="bf16",
                             backend="openvino", precision="bf16")
    assert report["dice_min"] > 0.995 and report["psnr_min_db"] > 45


def test_threads_share_one_compiled_model(shipped_input):
    x, ref = shipped_input
    xs = [x, -x, np.ascontiguousarray(x[..., ::-1])]
    with open_runner(default_model()) as ort:
        refs = [ort.run(v) for v in xs]
    got, errors = {}, []
    with open_runner(default_model(), backend="openvino", precision="f32") as r:
        def work(t):
            try:
                for i in range(len(xs)):
                    k = (t + i) % len(xs)
                    got[t, k] = r.run(xs[k])
            except BaseException as exc:       # noqa: BLE001 - reported below
                errors.append(exc)
        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(got) == 12
    for (_, k), y in got.items():
        assert np.abs(y - refs[k]).max() < 1e-4


def test_ir_export_keeps_metadata_and_outputs(tmp_path, shipped_input):
    from cxrmt.export.openvino_ir import convert_ir

    x, ref = shipped_input
    xml = tmp_path / "m.xml"
    report = convert_ir(default_model(), xml, check=lambda p: os.path.exists(p))
    assert report["check"] is True and (tmp_path / "m.bin").stat().st_size == report["bytes"]
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "m.xml"]
    src = read_onnx_metadata(default_model())
    src.pop("cxrmt.weights_storage")          # the shipped ONNX stores FP16; this IR FP32
    assert read_metadata(xml) == src
    assert backend_name(xml) == "openvino"
    with open_runner(xml, precision="f32") as r:
        assert np.abs(r.run(x) - ref).max() < 1e-4


def test_failed_ir_check_leaves_no_file(tmp_path):
    from cxrmt.export.openvino_ir import convert_ir

    def refuse(path):
        raise ValueError("refused")
    with pytest.raises(ValueError, match="refused"):
        convert_ir(default_model(), tmp_path / "m.xml", check=refuse)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="OUT.xml"):
        convert_ir(default_model(), tmp_path / "m.ir")


def test_auto_rule(tmp_path):
    onnx = pytest.importorskip("onnx")
    from cxrmt.runtime.metadata import set_onnx_metadata

    fp32 = affine_model(tmp_path / "m.onnx", 16)
    assert backend_name(fp32, choose=True) == "openvino"                  # auto
    assert backend_name(fp32) == backend_name(fp32, None, choose=True) == "onnxruntime"
    assert backend_name(fp32, "auto", device="cuda", choose=True) == "onnxruntime"
    assert backend_name(fp32, "openvino", choose=True) == "openvino"
    with pytest.raises(ValueError, match="--backend openvino runs .xml models"):
        backend_name(fp32, "openvino")        # a caller that opens models by suffix
    model = onnx.load(fp32)
    meta = read_onnx_metadata(fp32)
    set_onnx_metadata(model, {**meta, "cxrmt.precision": "int8"})          # sub-pixel form
    onnx.save(model, str(tmp_path / "ort.int8.onnx"))
    assert backend_name(tmp_path / "ort.int8.onnx", choose=True) == "onnxruntime"
    set_onnx_metadata(model, {**meta, "cxrmt.precision": "int8", "cxrmt.int8_target": "openvino"})
    onnx.save(model, str(tmp_path / "ov.int8.onnx"))
    assert backend_name(tmp_path / "ov.int8.onnx", choose=True) == "openvino"
    with pytest.raises(ValueError, match="runs .xml/.onnx models"):
        backend_name(tmp_path / "m.engine", "openvino", choose=True)
    with pytest.raises(ValueError, match="runs on the CPU"):
        open_runner(fp32, backend="openvino", device="cuda")


def test_precision_choices(tmp_path, monkeypatch):
    from cxrmt.runtime import openvino_backend

    path = affine_model(tmp_path / "m.onnx", 16)
    monkeypatch.setattr(openvino_backend, "cpu_has_bf16", lambda: False)
    with open_runner(path, backend="openvino") as r:
        assert r.inference_precision == "f32"                 # auto without bf16 units
    with pytest.raises(ValueError, match="needs a CPU with AVX512-BF16 or AMX"):
        open_runner(path, backend="openvino", precision="bf16")    # never a quiet f32 run
    with pytest.raises(ValueError, match="precision must be one of auto, f32, bf16"):
        open_runner(path, backend="openvino", precision="fp16")
    monkeypatch.setattr(openvino_backend, "cpu_has_bf16", lambda: True)
    with open_runner(path, backend="openvino") as r:
        assert r.inference_precision == "bf16"


def test_missing_openvino_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)          # import openvino fails
    with pytest.raises(ImportError, match=r"cxrmt\[openvino\]"):
        open_runner(affine_model(tmp_path / "m.onnx", 16), backend="openvino")


def test_bad_ir_is_named(tmp_path):
    (tmp_path / "m.xml").write_text("<net/>")
    with pytest.raises(FileNotFoundError, match="m.bin are missing"):
        open_runner(tmp_path / "m.xml")
    (tmp_path / "m.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="m.xml: OpenVINO cannot read"):
        open_runner(tmp_path / "m.xml")
