"""The Triton repository: every config.pbtxt parses as Triton's ModelConfig, the ensemble's steps
fit the composing models, and the pipeline run through it (the Python models' `execute` under a
stand-in for triton_python_backend_utils, the network on ONNX Runtime) gives what
`cxrmt.pipeline.Predictor` gives."""

import json
import os

import numpy as np
import pytest

from cxrmt.export.triton import MAX_BATCH, write_repository
from cxrmt.infer.measure import measurements
from cxrmt.io import read_image
from cxrmt.io.writers import write_png
from cxrmt.pipeline import Predictor
from cxrmt.runtime.metadata import model_metadata, read_onnx_metadata
from test_runtime_fixtures import affine_model, chest
from triton_standin import Repository, TritonError, json_of, model_config_pb2

PB2 = model_config_pb2()
needs_pb2 = pytest.mark.skipif(PB2 is None, reason="Triton's model_config.proto comes from "
                               "tritonclient (dev extra): pip install tritonclient")


def _meta(layout="nchw", task="mt", batch=1, size=32):
    return model_metadata("mtdg", task, size, layout, "f" * 64, "fp32", batch)


def _parse(folder):
    from google.protobuf import text_format
    return text_format.Parse((folder / "config.pbtxt").read_text(), PB2.ModelConfig())


def _configs(repo) -> dict:
    return {p.name: _parse(p) for p in repo.iterdir() if not p.name.startswith(".")}


def _onnx(tmp_path, **kw):
    path = affine_model(tmp_path / "m.onnx", kw.pop("size", 32), **kw)
    return path, read_onnx_metadata(path)


# -- the configs -------------------------------------------------------------------------------
@needs_pb2
def test_configs_parse_and_declare_the_network(tmp_path):
    model, meta = _onnx(tmp_path)
    folders = write_repository(model, tmp_path / "repo", meta)
    assert [os.path.basename(f) for f in folders] == \
        ["cxrmt", "cxrmt_preprocess", "cxrmt_network", "cxrmt_postprocess"]
    c = _configs(tmp_path / "repo")
    net = c["cxrmt_network"]
    assert net.platform == "onnxruntime_onnx" and net.max_batch_size == 0
    assert list(net.input[0].dims) == [1, 3, 32, 32] and list(net.output[0].dims) == [1, 6, 32, 32]
    assert not net.HasField("dynamic_batching")
    assert PB2.ModelInstanceGroup.Kind.Name(net.instance_group[0].kind) == "KIND_CPU"
    [warm] = net.model_warmup
    assert warm.batch_size == 1 and warm.inputs["image"].zero_data
    assert list(warm.inputs["image"].dims) == [1, 3, 32, 32]
    assert net.parameters["cxrmt.layout"].string_value == "nchw"
    assert json.loads(net.parameters["cxrmt.palette"].string_value)[3] == [255, 0, 0]
    assert c["cxrmt"].platform == "ensemble" and len(c["cxrmt"].ensemble_scheduling.step) == 3
    for name in ("cxrmt_preprocess", "cxrmt_postprocess"):
        assert c[name].backend == "python" and c[name].max_batch_size == 0
        assert (tmp_path / "repo" / name / "1" / "model.py").is_file()
    assert {i.name: i.optional for i in c["cxrmt"].input} == {"IMAGE_BYTES": True, "PIXELS": True}
    assert (tmp_path / "repo" / "cxrmt_network" / "1" / "model.onnx").read_bytes() == \
        open(model, "rb").read()


@needs_pb2
def test_a_dynamic_batch_is_batched_by_triton(tmp_path):
    model, meta = _onnx(tmp_path, layout="nhwc", batch="N")
    write_repository(model, tmp_path / "repo", meta)
    net = _parse(tmp_path / "repo" / "cxrmt_network")
    assert net.max_batch_size == MAX_BATCH and net.HasField("dynamic_batching")
    assert list(net.input[0].dims) == [32, 32, 3] and list(net.output[0].dims) == [32, 32, 6]
    assert list(net.model_warmup[0].inputs["image"].dims) == [32, 32, 3]
    assert not wiring_problems(_configs(tmp_path / "repo"))


@needs_pb2
def test_gpu_options_and_a_plan_with_its_sidecar(tmp_path):
    model, meta = _onnx(tmp_path)
    write_repository(model, tmp_path / "ort", meta, ort_tensorrt="fp16", instances=2)
    net = _parse(tmp_path / "ort" / "cxrmt_network")
    group = net.instance_group[0]
    assert PB2.ModelInstanceGroup.Kind.Name(group.kind) == "KIND_GPU" and group.count == 2
    [acc] = net.optimization.execution_accelerators.gpu_execution_accelerator
    assert acc.name == "tensorrt" and acc.parameters["precision_mode"] == "FP16"
    plan = tmp_path / "m.engine"
    plan.write_bytes(b"plan")
    (tmp_path / "m.engine.json").write_text('{"key": {}, "model": {}}')
    write_repository(plan, tmp_path / "trt", _meta("nhwc", "seg"), name="cx")
    net = _parse(tmp_path / "trt" / "cx_network")
    assert net.platform == "tensorrt_plan" and list(net.input[0].dims) == [1, 32, 32, 3]
    assert PB2.ModelInstanceGroup.Kind.Name(net.instance_group[0].kind) == "KIND_GPU"
    assert (tmp_path / "trt" / "cx_network" / "1" / "model.plan").read_bytes() == b"plan"
    assert (tmp_path / "trt" / "cx_network" / "1" / "model.plan.json").is_file()
    outputs = {o.name for o in _parse(tmp_path / "trt" / "cx").output}
    assert outputs == {"MASKS", "LABELS", "SEGMENTATION", "OVERLAY", "MEASUREMENTS", "FRAME"}
    assert not wiring_problems(_configs(tmp_path / "trt"))


def test_repository_errors(tmp_path):
    with pytest.raises(ValueError, match="takes .onnx or .engine"):
        write_repository(tmp_path / "m.pt", tmp_path / "r", _meta())
    with pytest.raises(FileNotFoundError, match="no such model file"):
        write_repository(tmp_path / "m.onnx", tmp_path / "r", _meta())
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(ValueError, match="no cxrmt metadata"):
        write_repository(tmp_path / "m.onnx", tmp_path / "r", {})
    with pytest.raises(ValueError, match="ort_tensorrt: fp16 or fp32"):
        write_repository(tmp_path / "m.onnx", tmp_path / "r", _meta(), ort_tensorrt="int8")
    (tmp_path / "m.plan").write_bytes(b"plan")
    with pytest.raises(FileNotFoundError, match="no sidecar m.plan.json"):
        write_repository(tmp_path / "m.plan", tmp_path / "r", _meta())
    assert not (tmp_path / "r").exists()


def test_a_rewrite_replaces_the_folders_and_leaves_no_temporaries(tmp_path):
    model, meta = _onnx(tmp_path)
    write_repository(model, tmp_path / "repo", meta)
    (tmp_path / "repo" / "cxrmt_network" / "1" / "stale.onnx").write_bytes(b"old")
    (tmp_path / "repo" / "other_model").mkdir()
    write_repository(model, tmp_path / "repo", meta)
    assert sorted(os.listdir(tmp_path / "repo")) == \
        ["cxrmt", "cxrmt_network", "cxrmt_postprocess", "cxrmt_preprocess", "other_model"]
    assert not (tmp_path / "repo" / "cxrmt_network" / "1" / "stale.onnx").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".cxrmt-")]


# -- the ensemble's wiring ---------------------------------------------------------------------
def _full(config, tensor) -> list:
    return ([-1] if config.max_batch_size > 0 else []) + list(tensor.dims)


def _fits(a, b) -> bool:
    return len(a) == len(b) and all(x == y or -1 in (x, y) for x, y in zip(a, b))


def wiring_problems(configs: dict) -> list:
    """What Triton's ensemble check would refuse: unknown models or tensors, a tensor used
    before it is made, a composing model's required input left unmapped, types that differ,
    dims that fit neither as declared nor with the batch axis of a batching model."""
    problems = []
    ensemble = next(c for c in configs.values() if c.platform == "ensemble")
    known = {t.name: (ensemble, t) for t in ensemble.input}

    def compare(where, a, b):
        (ca, ta), (cb, tb) = a, b
        if ta.data_type != tb.data_type:
            problems.append(f"{where}: {ta.data_type} vs {tb.data_type}")
        elif not (_fits(list(ta.dims), list(tb.dims)) or _fits(_full(ca, ta), _full(cb, tb))):
            problems.append(f"{where}: dims {list(ta.dims)} vs {list(tb.dims)}")

    for step in ensemble.ensemble_scheduling.step:
        model = configs.get(step.model_name)
        if model is None:
            problems.append(f"step {step.model_name}: no such model")
            continue
        inputs, outputs = ({t.name: t for t in getattr(model, k)} for k in ("input", "output"))
        for key, value in step.input_map.items():
            if key not in inputs or value not in known:
                problems.append(f"{model.name}: input {key} <- {value} unknown")
            else:
                compare(f"{model.name}.{key}", known[value], (model, inputs[key]))
        unmapped = [n for n, t in inputs.items() if n not in step.input_map and not t.optional]
        problems += [f"{model.name}: input {n} not fed" for n in unmapped]
        for key, value in step.output_map.items():
            if key not in outputs:
                problems.append(f"{model.name}: no output {key}")
            else:
                known[value] = (model, outputs[key])
    for t in ensemble.output:
        if t.name not in known:
            problems.append(f"ensemble output {t.name}: made by no step")
        else:
            compare(f"ensemble.{t.name}", known[t.name], (ensemble, t))
    return problems


@needs_pb2
@pytest.mark.parametrize("task", ["mt", "seg", "bse"])
def test_the_ensemble_steps_fit_the_composing_models(tmp_path, task):
    model, meta = _onnx(tmp_path, task=task, batch=2)
    write_repository(model, tmp_path / "repo", meta)
    configs = _configs(tmp_path / "repo")
    assert not wiring_problems(configs)
    # and the check can fail: a typo in a step, a type changed, an output nobody makes
    post = configs["cxrmt_postprocess"]
    post.input[0].data_type = PB2.DataType.Value("TYPE_FP16")
    assert any("MODEL_OUTPUT" in p for p in wiring_problems(configs))
    configs = _configs(tmp_path / "repo")
    configs["cxrmt"].ensemble_scheduling.step[1].input_map["image"] = "MODEL_INPTU"
    assert any("MODEL_INPTU" in p for p in wiring_problems(configs))
    configs = _configs(tmp_path / "repo")
    configs["cxrmt_network"].input[0].dims[2] = 31
    assert any("dims" in p for p in wiring_problems(configs))
    configs = _configs(tmp_path / "repo")
    configs["cxrmt"].output.add(name="EXTRA", data_type=PB2.DataType.Value("TYPE_FP32"))
    assert any("EXTRA" in p for p in wiring_problems(configs))


# -- the pipeline through the repository ------------------------------------------------------
def _compare(got: dict, want, rg=None, task="mt"):
    frame = json_of(got["FRAME"])
    assert (frame["window_lo"], frame["window_hi"]) == pytest.approx(want.window)
    if task != "bse":
        np.testing.assert_array_equal(got["MASKS"], want.masks)
        np.testing.assert_array_equal(got["LABELS"], want.labels)
        np.testing.assert_array_equal(got["SEGMENTATION"], want.segmentation)
        np.testing.assert_array_equal(got["OVERLAY"], want.overlay)
        spacing, tag = (rg.spacing_mm, rg.meta.get("spacing_tag")) if rg else (None, None)
        assert json_of(got["MEASUREMENTS"]) == json.loads(json.dumps(
            measurements(want.masks, spacing, tag)))
    if task != "seg":
        assert got["BONE_SUPPRESSED"].dtype == np.uint16
        np.testing.assert_array_equal(got["BONE_SUPPRESSED"], want.bone_suppressed)


def _bytes_tensor(path):
    return np.array([open(path, "rb").read()], dtype=object)


@needs_pb2
def test_the_shipped_model_served_gives_the_predictors_outputs(tmp_path, monkeypatch):
    pytest.importorskip("pydicom")
    from cxrmt.shipped import default_model
    from test_io_dicom import make_dicom
    model = default_model()
    write_repository(model, tmp_path / "repo", read_onnx_metadata(model))
    repo = Repository(tmp_path / "repo", PB2, monkeypatch)
    png = tmp_path / "a.png"
    write_png(png, (chest(150, 120).astype(np.uint32) * 16).astype(np.uint16))
    dcm = make_dicom(tmp_path / "b.dcm", chest(100, 130, seed=4), "MONOCHROME1",
                     PixelSpacing=[0.2, 0.3])
    pixels = chest(90, 110, seed=5)
    with Predictor(model) as predictor:
        for path in (png, dcm):
            got = repo.run_ensemble("cxrmt", {"IMAGE_BYTES": _bytes_tensor(path)})
            _compare(got, predictor.run(str(path)), read_image(path))
        got = repo.run_ensemble("cxrmt", {"PIXELS": pixels})
        _compare(got, predictor.run(pixels))
    assert json_of(got["FRAME"])["dtype"] == "uint16" and got["MASKS"].any()


@needs_pb2
@pytest.mark.parametrize("layout,task,batch", [("nhwc", "seg", 2), ("nchw", "bse", 1),
                                               ("nchw", "mt", "N")])
def test_tasks_layouts_and_batches_served(tmp_path, monkeypatch, layout, task, batch):
    model, meta = _onnx(tmp_path, layout=layout, task=task, batch=batch)
    write_repository(model, tmp_path / "repo", meta)
    repo = Repository(tmp_path / "repo", PB2, monkeypatch)
    png = tmp_path / "a.png"
    write_png(png, (chest(70, 90) >> 4).astype(np.uint8))   # 8 bits: the bone image stays 8
    static = model if batch != "N" else affine_model(tmp_path / "s.onnx", 32, layout, task)
    with Predictor(static) as predictor:
        want = predictor.run(str(png))
    got = repo.run_ensemble("cxrmt", {"IMAGE_BYTES": _bytes_tensor(png)})
    _compare(got, want, task=task)
    assert set(got) == {"mt": {"MASKS", "LABELS", "SEGMENTATION", "OVERLAY", "MEASUREMENTS",
                               "BONE_SUPPRESSED", "FRAME"},
                        "seg": {"MASKS", "LABELS", "SEGMENTATION", "OVERLAY", "MEASUREMENTS",
                                "FRAME"},
                        "bse": {"BONE_SUPPRESSED", "FRAME"}}[task]
    if task != "seg":
        assert got["BONE_SUPPRESSED"].max() <= 255


@needs_pb2
def test_bad_requests_get_error_responses_naming_the_problem(tmp_path, monkeypatch):
    import triton_standin as pb
    model, meta = _onnx(tmp_path)
    write_repository(model, tmp_path / "repo", meta)
    repo = Repository(tmp_path / "repo", PB2, monkeypatch)
    with pytest.raises(TritonError, match="IMAGE_BYTES: not a readable PNG/TIFF/JPEG/GIF"):
        repo.run_ensemble("cxrmt", {"IMAGE_BYTES": np.array([b"not an image"], dtype=object)})
    with pytest.raises(TritonError, match="IMAGE_BYTES: truncated PNG"):
        write_png(tmp_path / "a.png", chest(40, 40))
        repo.run_ensemble("cxrmt", {"IMAGE_BYTES": np.array(
            [(tmp_path / "a.png").read_bytes()[:-30]], dtype=object)})
    with pytest.raises(TritonError, match="exactly one of them"):
        repo.run_model("cxrmt_preprocess", {})
    with pytest.raises(TritonError, match="exactly one of them"):
        repo.run_model("cxrmt_preprocess", {"IMAGE_BYTES": _bytes_tensor(tmp_path / "a.png"),
                                            "PIXELS": chest(8, 8)})
    # one bad request in a batch of two: the other is still answered
    good = pb.InferenceRequest(inputs=[pb.Tensor("PIXELS", chest(20, 30))])
    bad = pb.InferenceRequest(inputs=[pb.Tensor("IMAGE_BYTES", np.array([b""], dtype=object))])
    first, second = repo.models["cxrmt_preprocess"].execute([bad, good])
    assert first.has_error() and "empty file" in first.error().message()
    assert not second.has_error()
    assert pb.get_output_tensor_by_name(second, "MODEL_INPUT").as_numpy().shape == (1, 3, 32, 32)
