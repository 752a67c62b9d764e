"""Backend table, model info from ONNX metadata and shapes, runner errors, TensorRT buffer logic."""

import ctypes
import importlib.util
import types

import numpy as np
import pytest

from cxrmt.runtime import BACKENDS, backend_key, open_runner
from cxrmt.runtime.base import info_from_io, layout_from_shape, task_from_channels
from cxrmt.runtime.ort_backend import choose_providers
from test_runtime_fixtures import affine_model, affine_reference


def test_suffix_table_routes_each_model_type(tmp_path):
    assert backend_key("m.onnx") == ".onnx" and backend_key("M.ONNX") == ".onnx"
    assert BACKENDS[backend_key("m.plan")] == BACKENDS[backend_key("m.engine")]
    assert BACKENDS[".keras"][0].endswith("tf_backend")
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    assert backend_key(tmp_path / "sm") == "savedmodel"


def test_unknown_suffix_and_missing_files_are_clear(tmp_path):
    with pytest.raises(ValueError, match=r"unknown model type '\.pt'.*\.onnx"):
        backend_key("model.pt")
    with pytest.raises(ValueError, match="not a TensorFlow SavedModel"):
        backend_key(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        open_runner(tmp_path / "absent.onnx")


def test_layout_and_task_inference():
    assert layout_from_shape((1, 512, 512, 3)) == "nhwc"
    assert layout_from_shape((1, 3, 512, 512)) == "nchw"
    with pytest.raises(ValueError, match="cannot tell the layout"):
        layout_from_shape((1, 512, 512, 1))
    assert task_from_channels(6) == "mt" and task_from_channels(3) == "seg"
    assert task_from_channels(3, "bse") == "bse"
    with pytest.raises(ValueError, match="needs 6 output channels"):
        task_from_channels(3, "mt")
    with pytest.raises(ValueError, match="not static"):
        info_from_io(("batch", 3, 64, 64), (1, 6, 64, 64), {})


def test_providers_never_fall_back_silently():
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == \
        "CUDAExecutionProvider"
    with pytest.raises(ValueError, match="onnxruntime-gpu"):
        choose_providers("cuda", ["CPUExecutionProvider"])


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_onnx_runner_reads_metadata_and_computes(tmp_path, rng, layout):
    path = affine_model(tmp_path / "m.onnx", 24, layout, "mt")
    with open_runner(path, device="cpu") as r:
        assert (r.info.size, r.info.layout, r.info.task, r.info.batch) == (24, layout, "mt", 1)
        assert r.info.meta["cxrmt.variant"] == "test"
        x = np.repeat(rng.uniform(-1, 1, (1, 1, 24, 24)).astype(np.float32), 3, axis=1)
        y = r.run(x if layout == "nchw" else x.transpose(0, 2, 3, 1))
        y = y if layout == "nchw" else y.transpose(0, 3, 1, 2)
        np.testing.assert_allclose(y, affine_reference(x), atol=1e-6)


def test_onnx_without_metadata_falls_back_to_shapes(tmp_path):
    path = affine_model(tmp_path / "m.onnx", 16, "nhwc", "seg", meta=False)
    with open_runner(path) as r:
        assert (r.info.size, r.info.layout, r.info.task) == (16, "nhwc", "seg")
    with open_runner(path, task="bse") as r:
        assert r.info.task == "bse"


def test_wrong_input_shape_is_rejected_with_the_expected_one(tmp_path):
    with open_runner(affine_model(tmp_path / "m.onnx", 16)) as r:
        with pytest.raises(ValueError, match=r"float32 \(1, 3, 16, 16\) \(nchw\), got float32 "
                                             r"\(1, 16, 16, 3\)"):
            r.run(np.zeros((1, 16, 16, 3), np.float32))


# -- TensorRT runner pieces that need no GPU -------------------------------------------------
class _FakeEngine:
    def __init__(self, tensors):
        self.tensors = tensors  # name -> (mode, shape, dtype)
        self.num_io_tensors = len(tensors)

    def get_tensor_name(self, i):
        return list(self.tensors)[i]

    def get_tensor_mode(self, name):
        return self.tensors[name][0]

    def get_tensor_shape(self, name):
        return self.tensors[name][1]

    def get_tensor_dtype(self, name):
        return self.tensors[name][2]


FAKE_TRT = types.SimpleNamespace(TensorIOMode=types.SimpleNamespace(INPUT="in", OUTPUT="out"),
                                 nptype=lambda t: {"f32": np.float32, "f16": np.float16}[t])


def test_trt_io_specs_sizes_buffers_and_orders_input_first():
    from cxrmt.runtime.trt_backend import io_specs
    eng = _FakeEngine({"output": ("out", (1, 6, 512, 512), "f32"),
                       "image": ("in", (1, 3, 512, 512), "f32")})
    inp, out = io_specs(eng, FAKE_TRT)
    assert (inp.name, inp.nbytes) == ("image", 3 * 512 * 512 * 4)
    assert (out.name, out.nbytes, out.dtype) == ("output", 6 * 512 * 512 * 4, np.float32)


def test_trt_io_specs_reject_dynamic_and_extra_tensors():
    from cxrmt.runtime.trt_backend import io_specs
    with pytest.raises(ValueError, match="dynamic shape"):
        io_specs(_FakeEngine({"image": ("in", (-1, 3, 64, 64), "f32"),
                              "output": ("out", (-1, 6, 64, 64), "f32")}), FAKE_TRT)
    with pytest.raises(ValueError, match="1 input and 1 output"):
        io_specs(_FakeEngine({"a": ("in", (1,), "f32"), "b": ("in", (1,), "f32"),
                              "c": ("out", (1,), "f16")}), FAKE_TRT)


def test_trt_host_view_aliases_the_buffer():
    from cxrmt.runtime.trt_backend import TensorSpec, host_view
    spec = TensorSpec("output", False, (1, 2, 3), np.dtype(np.float16))
    buf = (ctypes.c_byte * spec.nbytes)()
    view = host_view(ctypes.addressof(buf), spec)
    view[...] = 1.5
    assert view.shape == (1, 2, 3) and bytes(buf)[:2] == np.float16(1.5).tobytes()


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None or
                    importlib.util.find_spec("cuda") is None,
                    reason="TensorRT and cuda-python are not installed (cxrmt[gpu]; needs an "
                           "NVIDIA GPU)")
def test_tensorrt_runner_needs_its_sidecar(tmp_path):
    from cxrmt.runtime.engine_cache import EngineMismatchError
    (tmp_path / "m.engine").write_bytes(b"not an engine")
    with pytest.raises(EngineMismatchError, match="cxrmt export MODEL.onnx --engine"):
        open_runner(tmp_path / "m.engine")


@pytest.mark.parametrize("spinning, entry", [(None, "0"), (False, "0"), (True, "1")])
def test_onnxruntime_workers_sleep_unless_asked_to_spin(tmp_path, spinning, entry):
    """Idle intra-op workers do not spin by default (they took the cores of the reader and
    the PNG encoders); `spinning=True` restores ONNX Runtime's own default."""
    path = affine_model(tmp_path / "m.onnx")
    kwargs = {} if spinning is None else {"spinning": spinning}
    with open_runner(path, **kwargs) as r:
        opts = r.session.get_session_options()
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == entry
