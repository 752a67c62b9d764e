"""A stand-in for Triton's `triton_python_backend_utils` and a small runner of a written model
repository: the Python models' `execute` through the stand-in, the network through ONNX
Runtime, the ensemble by its own `ensemble_scheduling`. Tensors are checked against each
model's config (type, dims) as Triton checks them."""

import importlib.util
import json
import os
import sys
import types

import numpy as np

DTYPES = {"TYPE_STRING": np.object_, "TYPE_UINT8": np.uint8, "TYPE_UINT16": np.uint16,
          "TYPE_FP32": np.float32}


def model_config_pb2():
    """Triton's ModelConfig messages, from tritonclient's generated module (loaded by path: the
    `tritonclient.grpc` package itself wants grpcio); None without tritonclient."""
    try:
        import tritonclient
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(tritonclient.__file__), "grpc", "model_config_pb2.py")
    spec = importlib.util.spec_from_file_location("cxrmt_test_model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TritonError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self._message = message

    def message(self):
        return self._message


class Tensor:
    def __init__(self, name, array):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"Tensor {name}: needs a numpy array (got {type(array).__name__})")
        self._name, self._array = name, array

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array


class InferenceRequest:
    def __init__(self, model_name="", requested_output_names=(), inputs=()):
        self.model_name, self._inputs = model_name, list(inputs)

    def inputs(self):
        return self._inputs


class InferenceResponse:
    def __init__(self, output_tensors, error=None):
        self._outputs, self._error = list(output_tensors), error

    def output_tensors(self):
        return self._outputs

    def has_error(self):
        return self._error is not None

    def error(self):
        return self._error


def _by_name(tensors, name):
    return next((t for t in tensors if t.name() == name), None)


def get_input_tensor_by_name(request, name):
    return _by_name(request.inputs(), name)


def get_output_tensor_by_name(response, name):
    return _by_name(response.output_tensors(), name)


def module():
    """The stand-in as the module the Python backend provides."""
    m = types.ModuleType("triton_python_backend_utils")
    for obj in (TritonError, Tensor, InferenceRequest, InferenceResponse,
                get_input_tensor_by_name, get_output_tensor_by_name):
        setattr(m, obj.__name__, obj)
    return m


def check_tensor(pb2, config, name, array, kind):
    """`array` fits the config's declaration of tensor `name` (kind "input" or "output")."""
    decl = next((t for t in getattr(config, kind) if t.name == name), None)
    assert decl is not None, f"{config.name}: no {kind} {name}"
    dtype = pb2.DataType.Name(decl.data_type)
    assert array.dtype == DTYPES[dtype], f"{config.name}.{name}: {array.dtype} vs {dtype}"
    dims = ([-1] if config.max_batch_size > 0 else []) + list(decl.dims)
    assert len(dims) == array.ndim and all(d in (-1, n) for d, n in zip(dims, array.shape)), \
        f"{config.name}.{name}: shape {array.shape} vs dims {dims}"


class Repository:
    """A written repository, its configs parsed with Triton's ModelConfig."""

    def __init__(self, root, pb2, monkeypatch):
        from google.protobuf import json_format, text_format
        self.root, self.pb2, self.models, self.configs = str(root), pb2, {}, {}
        monkeypatch.setitem(sys.modules, "triton_python_backend_utils", module())
        for name in sorted(os.listdir(root)):
            config = text_format.Parse(open(os.path.join(root, name, "config.pbtxt")).read(),
                                       pb2.ModelConfig())
            self.configs[name] = config
            if config.backend == "python":
                spec = importlib.util.spec_from_file_location(
                    f"triton_{name}", os.path.join(root, name, "1", "model.py"))
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                model = mod.TritonPythonModel()
                model.initialize({"model_config": json_format.MessageToJson(
                    config, preserving_proto_field_name=True), "model_name": name})
                self.models[name] = model

    def run_model(self, name, inputs: dict) -> dict:
        """{output name: array} of one request; a TritonError for an error response."""
        config = self.configs[name]
        for n, a in inputs.items():
            check_tensor(self.pb2, config, n, a, "input")
        if config.platform == "onnxruntime_onnx":
            import onnxruntime as ort
            sess = ort.InferenceSession(os.path.join(self.root, name, "1", "model.onnx"),
                                        providers=["CPUExecutionProvider"])
            outputs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, inputs)))
        else:
            request = InferenceRequest(name, inputs=[Tensor(n, a) for n, a in inputs.items()])
            [response] = self.models[name].execute([request])
            if response.has_error():
                raise response.error()
            outputs = {t.name(): t.as_numpy() for t in response.output_tensors()}
        for n, a in outputs.items():
            check_tensor(self.pb2, config, n, a, "output")
        return outputs

    def run_ensemble(self, name, inputs: dict) -> dict:
        config = self.configs[name]
        tensors = dict(inputs)
        for step in config.ensemble_scheduling.step:
            feed = {key: tensors[value] for key, value in step.input_map.items()
                    if value in tensors}
            got = self.run_model(step.model_name, feed)
            tensors.update({value: got[key] for key, value in step.output_map.items()})
        return {o.name: tensors[o.name] for o in config.output}


def json_of(string_tensor) -> dict:
    return json.loads(string_tensor.reshape(-1)[0])
