"""A Triton Inference Server model repository that serves the whole cxrmt pipeline.

    DIR/cxrmt/               ensemble: encoded file or raw pixels in, every output out
    DIR/cxrmt_preprocess/    Python backend: decode, window, pad, resize, scale
    DIR/cxrmt_network/       onnxruntime_onnx (1/model.onnx) or tensorrt_plan (1/model.plan
                             and its sidecar model.plan.json)
    DIR/cxrmt_postprocess/   Python backend: masks, labels, colours, overlay, bone image at full
                             size, measurements

The Python models are the templates in `triton_models/` over `cxrmt.export.triton_steps`: the
cxrmt package must be installed in the Python backend's environment. They take one image per
request (max_batch_size 0); the network batches requests itself (`dynamic_batching`) when its
ONNX has a dynamic batch axis. The cxrmt metadata (size, layout, task, window, palette...) goes
into every config's `parameters`. The ensemble's contract is `TENSORS` below.
"""

import os
import shutil
import tempfile

from cxrmt.contract import OUTPUT_CHANNELS
from cxrmt.io.writers import write_text
from cxrmt.runtime import metadata as md
from cxrmt.runtime.engine_cache import SIDECAR_SUFFIX

PLATFORMS = {".onnx": ("onnxruntime_onnx", "model.onnx"),
             ".engine": ("tensorrt_plan", "model.plan"), ".plan": ("tensorrt_plan", "model.plan")}
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "triton_models")
MAX_BATCH = 8   # the network's max_batch_size when its batch axis is dynamic

# The ensemble's tensors: (Triton type, dims, optional). -1: any size (H, W of the radiograph).
TENSORS = {
    "IMAGE_BYTES": ("TYPE_STRING", [1], True),        # an encoded PNG/TIFF/JPEG/GIF or DICOM file
    "PIXELS": ("TYPE_UINT16", [-1, -1], True),        # or raw grey pixels, display polarity
    "MASKS": ("TYPE_UINT8", [3, -1, -1], False),      # heart, left lung, right lung: 0/1
    "LABELS": ("TYPE_UINT8", [-1, -1], False),        # 0 background, 1 right, 2 left lung, 3 heart
    "SEGMENTATION": ("TYPE_UINT8", [-1, -1, 3], False),
    "OVERLAY": ("TYPE_UINT8", [-1, -1, 3], False),
    "MEASUREMENTS": ("TYPE_STRING", [1], False),      # JSON: areas, extents, CTR
    "BONE_SUPPRESSED": ("TYPE_UINT16", [-1, -1], False),   # the input's scale (8-bit: 0-255)
    "FRAME": ("TYPE_STRING", [1], False),             # JSON: geometry, window, dtype, spacing
    # between the steps
    "ORIGINAL": ("TYPE_FP32", [-1, -1], False),       # the decoded radiograph (exact for uint16)
}
SEG_OUTPUTS = ("MASKS", "LABELS", "SEGMENTATION", "OVERLAY", "MEASUREMENTS")


class Enum(str):
    """A protobuf enum value: written bare in text format."""


def pbtxt(fields: dict, indent: int = 0) -> str:
    """Protobuf text format of nested dicts (messages), lists (repeated fields) and scalars."""
    pad, lines = "  " * indent, []
    for key, value in fields.items():
        if isinstance(value, dict) and _flat(value):
            lines.append(f"{pad}{key} {_inline(value)}")
        elif isinstance(value, dict):
            lines += [f"{pad}{key} {{", pbtxt(value, indent + 1), f"{pad}}}"]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            items = [f"{pad}  {_inline(v)}" if _flat(v) else
                     f"{pad}  {{\n{pbtxt(v, indent + 2)}\n{pad}  }}" for v in value]
            lines += [f"{pad}{key} [", ",\n".join(items), f"{pad}]"]
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(line for line in lines if line)


def _flat(fields: dict) -> bool:
    """Whether a message is short enough for one line (map entries, instance groups)."""
    return len(fields) <= 2 and all(not isinstance(v, (dict, list)) or
                                    (isinstance(v, dict) and _flat(v)) for v in fields.values())


def _inline(fields: dict) -> str:
    parts = [f"{k} {_inline(v)}" if isinstance(v, dict) else f"{k}: {_scalar(v)}"
             for k, v in fields.items()]
    return "{ " + " ".join(parts) + " }" if parts else "{ }"


def _scalar(value) -> str:
    if isinstance(value, Enum):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tensor(name: str, dims=None, dtype=None) -> dict:
    t_type, t_dims, optional = TENSORS.get(name, (dtype, dims, False))
    out = {"name": name, "data_type": Enum(dtype or t_type), "dims": list(dims or t_dims)}
    return {**out, "optional": True} if optional else out


def _parameters(meta: dict) -> list:
    return [{"key": k, "value": {"string_value": str(v)}} for k, v in sorted(meta.items())]


def _shape(meta: dict, channels: int, batch: int) -> list:
    """Full network shape; batch 0 (dynamic) gives -1."""
    s = int(meta[md.PREFIX + "size"])
    n = batch or -1
    return [n, s, s, channels] if meta[md.PREFIX + "layout"] == "nhwc" else [n, channels, s, s]


def network_config(name: str, platform: str, meta: dict, batch: int, *, gpu=False,
                   instances=1, ort_tensorrt=None) -> dict:
    """The network's ModelConfig. `batch`: the model's static batch, 0 when its batch axis is
    dynamic (then max_batch_size MAX_BATCH, dynamic batching, dims without the batch axis).
    `ort_tensorrt`: "fp16"/"fp32" runs an ONNX model through ONNX Runtime's TensorRT execution
    provider at that precision (on the GPU)."""
    out_ch = OUTPUT_CHANNELS[meta[md.PREFIX + "task"]]
    x_dims, y_dims = _shape(meta, 3, batch), _shape(meta, out_ch, batch)
    if not batch:
        x_dims, y_dims = x_dims[1:], y_dims[1:]
    on_gpu = gpu or platform == "tensorrt_plan" or ort_tensorrt is not None
    config = {"name": name, "platform": platform, "max_batch_size": 0 if batch else MAX_BATCH,
              "input": [_tensor("image", x_dims, "TYPE_FP32")],
              "output": [_tensor("output", y_dims, "TYPE_FP32")],
              "instance_group": [{"kind": Enum("KIND_GPU" if on_gpu else "KIND_CPU"),
                                  "count": int(instances)}]}
    if not batch:
        config["dynamic_batching"] = {}
    if ort_tensorrt is not None:
        accelerator = {"name": "tensorrt", "parameters": [
            {"key": "precision_mode", "value": ort_tensorrt.upper()}]}
        config["optimization"] = {"execution_accelerators": {
            "gpu_execution_accelerator": [accelerator]}}
    config["model_warmup"] = [{"name": "zeros", "batch_size": 1, "inputs": [
        {"key": "image", "value": {"data_type": Enum("TYPE_FP32"), "dims": x_dims,
                                   "zero_data": True}}]}]
    config["parameters"] = _parameters(meta)
    return config


def _python_config(name: str, inputs: list, outputs: list, meta: dict, batch: int) -> dict:
    return {"name": name, "backend": "python", "max_batch_size": 0, "input": inputs,
            "output": outputs, "instance_group": [{"kind": Enum("KIND_CPU"), "count": 1}],
            "parameters": _parameters({**meta, "network_batch": batch})}


def _outputs(task: str) -> list:
    return ([n for n in SEG_OUTPUTS if task != "bse"]
            + (["BONE_SUPPRESSED"] if task != "seg" else []))


def step_configs(prefix: str, meta: dict, batch: int) -> tuple:
    """(pre-processing, post-processing, ensemble) ModelConfigs around the network
    `prefix`_network. The model input goes to the network and to post-processing (the bone
    image's residual transfer needs it), the frame to post-processing and the client."""
    task = meta[md.PREFIX + "task"]
    x = _tensor("MODEL_INPUT", _shape(meta, 3, batch), "TYPE_FP32")
    y = _tensor("MODEL_OUTPUT", _shape(meta, OUTPUT_CHANNELS[task], batch), "TYPE_FP32")
    carried = [_tensor("ORIGINAL"), _tensor("FRAME")]
    pre = _python_config(f"{prefix}_preprocess", [_tensor("IMAGE_BYTES"), _tensor("PIXELS")],
                         [x, *carried], meta, batch)
    post = _python_config(f"{prefix}_postprocess", [y, x, *carried],
                          [_tensor(n) for n in _outputs(task)], meta, batch)

    def step(model, inputs, outputs):
        return {"model_name": model, "model_version": -1,
                "input_map": [{"key": k, "value": v} for k, v in inputs.items()],
                "output_map": [{"key": k, "value": v} for k, v in outputs.items()]}

    same = lambda *names: {n: n for n in names}   # noqa: E731 - step tensors keep their names
    ensemble = {
        "name": prefix, "platform": "ensemble", "max_batch_size": 0,
        "input": [_tensor("IMAGE_BYTES"), _tensor("PIXELS")],
        "output": [_tensor(n) for n in _outputs(task) + ["FRAME"]],
        "ensemble_scheduling": {"step": [
            step(pre["name"], same("IMAGE_BYTES", "PIXELS"),
                 same("MODEL_INPUT", "ORIGINAL", "FRAME")),
            step(f"{prefix}_network", {"image": "MODEL_INPUT"}, {"output": "MODEL_OUTPUT"}),
            step(post["name"], same("MODEL_OUTPUT", "MODEL_INPUT", "ORIGINAL", "FRAME"),
                 same(*_outputs(task)))]},
        "parameters": _parameters(meta)}
    return pre, post, ensemble


def network_batch(model_path, meta: dict) -> int:
    """The network's static batch, or 0 when an ONNX model's batch axis is dynamic."""
    if not os.fspath(model_path).lower().endswith(".onnx"):
        return int(meta.get(md.PREFIX + "batch", 1))   # engines are built for one shape
    import onnxruntime as ort
    sess = ort.InferenceSession(os.fspath(model_path), providers=["CPUExecutionProvider"])
    n = sess.get_inputs()[0].shape[0]
    return n if isinstance(n, int) and n > 0 else 0


def write_repository(model_path, out_dir, meta: dict, name="cxrmt", *, gpu=False, instances=1,
                     ort_tensorrt=None, batch=None) -> list:
    """Write the ensemble, its two Python models and the network (a copy of `model_path`, .onnx
    or a TensorRT engine with its sidecar) under `out_dir`; returns the four model folders.
    Each folder is written aside and moved into place whole, replacing one of the same name.
    `batch`: the network's batch (default: read from the model; 0 = dynamic)."""
    model_path, out_dir = os.fspath(model_path), os.fspath(out_dir)
    platform, filename = _check_inputs(model_path, meta, instances, ort_tensorrt)
    batch = network_batch(model_path, meta) if batch is None else int(batch)
    pre, post, ensemble = step_configs(name, meta, batch)
    network = network_config(f"{name}_network", platform, meta, batch, gpu=gpu,
                             instances=instances, ort_tensorrt=ort_tensorrt)
    os.makedirs(out_dir, exist_ok=True)
    # staged beside the repository, not in it, where a polling Triton would try to load it
    with tempfile.TemporaryDirectory(prefix=".cxrmt-triton-", dir=_beside(out_dir)) as stage:
        files = {network["name"]: {filename: model_path},
                 pre["name"]: {"model.py": os.path.join(TEMPLATES, "preprocess.py")},
                 post["name"]: {"model.py": os.path.join(TEMPLATES, "postprocess.py")},
                 ensemble["name"]: {}}
        if platform == "tensorrt_plan":
            files[network["name"]][filename + SIDECAR_SUFFIX] = model_path + SIDECAR_SUFFIX
        for config in (ensemble, pre, network, post):
            folder = os.path.join(stage, config["name"])
            os.makedirs(os.path.join(folder, "1"))
            for target, source in files[config["name"]].items():
                shutil.copyfile(source, os.path.join(folder, "1", target))
            write_text(os.path.join(folder, "config.pbtxt"), pbtxt(config) + "\n")
        return [_move_into(os.path.join(stage, c["name"]), out_dir)
                for c in (ensemble, pre, network, post)]


def _check_inputs(model_path: str, meta: dict, instances, ort_tensorrt) -> tuple:
    suffix = os.path.splitext(model_path)[1].lower()
    if suffix not in PLATFORMS:
        raise ValueError(f"{model_path}: Triton export takes .onnx or .engine/.plan, "
                         f"not {suffix!r}")
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: no such model file")
    missing = [k for k in ("size", "layout", "task") if md.PREFIX + k not in meta]
    if missing:
        raise ValueError(f"{model_path}: no cxrmt metadata ({', '.join(missing)}); export it "
                         "with `cxrmt export`")
    platform = PLATFORMS[suffix]
    if platform[0] == "tensorrt_plan" and not os.path.isfile(model_path + SIDECAR_SUFFIX):
        raise FileNotFoundError(f"{model_path}: no sidecar {os.path.basename(model_path)}"
                                f"{SIDECAR_SUFFIX} to serve beside it (build the engine with "
                                "`cxrmt export --engine`)")
    if ort_tensorrt is not None and (platform[0] != "onnxruntime_onnx"
                                     or ort_tensorrt not in ("fp16", "fp32")):
        raise ValueError(f"ort_tensorrt: fp16 or fp32 for an ONNX model (got {ort_tensorrt!r} "
                         f"for {os.path.basename(model_path)})")
    if int(instances) < 1:
        raise ValueError(f"instances must be >= 1 (got {instances})")
    return platform


def _beside(out_dir: str) -> str:
    return os.path.dirname(os.path.abspath(out_dir))


def _move_into(folder: str, out_dir: str) -> str:
    """Move a staged model folder into `out_dir`, replacing an existing one only once the new
    one is complete."""
    target = os.path.join(out_dir, os.path.basename(folder))
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(prefix=".cxrmt-old-", dir=_beside(out_dir))
        os.replace(target, os.path.join(old, "model"))
    os.replace(folder, target)
    if old:
        shutil.rmtree(old)
    return target
