"""A Triton Inference Server model repository serving one cxrmt model.

    DIR/<name>/config.pbtxt
    DIR/<name>/1/model.onnx   (platform onnxruntime_onnx)  or  model.plan (tensorrt_plan)

The cxrmt metadata (size, layout, task, channels, palette...) goes into the config's
`parameters`, so a client learns how to pre- and post-process from Triton's model-config API.
"""

import os
import shutil

from cxrmt.contract import OUTPUT_CHANNELS
from cxrmt.io.writers import atomic_path, write_text
from cxrmt.runtime import metadata as md

PLATFORMS = {".onnx": ("onnxruntime_onnx", "model.onnx"),
             ".engine": ("tensorrt_plan", "model.plan"), ".plan": ("tensorrt_plan", "model.plan")}


def _dims(meta: dict, channels: int) -> list:
    s, n = int(meta[md.PREFIX + "size"]), int(meta.get(md.PREFIX + "batch", 1))
    return [n, s, s, channels] if meta[md.PREFIX + "layout"] == "nhwc" else [n, channels, s, s]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_pbtxt(name: str, platform: str, meta: dict) -> str:
    """Text-format ModelConfig: static shapes (max_batch_size 0: the batch axis is in dims)."""
    out_ch = OUTPUT_CHANNELS[meta[md.PREFIX + "task"]]
    lines = [f"name: {_quote(name)}", f"platform: {_quote(platform)}", "max_batch_size: 0",
             "input [", "  {", '    name: "image"', "    data_type: TYPE_FP32",
             f"    dims: {_dims(meta, 3)}", "  }", "]",
             "output [", "  {", '    name: "output"', "    data_type: TYPE_FP32",
             f"    dims: {_dims(meta, out_ch)}", "  }", "]"]
    if platform == "tensorrt_plan":   # a plan runs only on the GPU it was built for
        lines += ["instance_group [ { kind: KIND_GPU, count: 1 } ]"]
    for key, value in sorted(meta.items()):
        lines += ["parameters {", f"  key: {_quote(key)}",
                  f"  value: {{ string_value: {_quote(value)} }}", "}"]
    return "\n".join(lines) + "\n"


def write_repository(model_path, out_dir, meta: dict, name="cxrmt", version=1) -> str:
    """Copy `model_path` (.onnx or a TensorRT engine) into a Triton repository under
    `out_dir`; returns the model folder."""

    suffix = os.path.splitext(os.fspath(model_path))[1].lower()
    if suffix not in PLATFORMS:
        raise ValueError(f"{model_path}: Triton export takes .onnx or .engine/.plan, "
                         f"not {suffix!r}")
    if not os.path.isfile(model_path):
        raise FileNotFoundError(f"{model_path}: no such model file")
    missing = [k for k in ("size", "layout", "task") if md.PREFIX + k not in meta]
    if missing:
        raise ValueError(f"{model_path}: no cxrmt metadata ({', '.join(missing)}); export it "
                         "with `cxrmt export`")
    platform, filename = PLATFORMS[suffix]
    folder = os.path.join(os.fspath(out_dir), name)
    with atomic_path(os.path.join(folder, str(version), filename)) as tmp:
        shutil.copyfile(model_path, tmp)
    write_text(os.path.join(folder, "config.pbtxt"), config_pbtxt(name, platform, meta))
    return folder
