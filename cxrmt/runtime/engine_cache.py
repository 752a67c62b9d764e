"""TensorRT engine cache keys and sidecar files (pure Python: testable without a GPU).

An engine is valid only for the ONNX, TensorRT version, GPU model (compute capability) and
precision it was built with. `model.engine` is accompanied by `model.engine.json` recording them;
loading checks the sidecar against the running system and says how to rebuild on a mismatch.
"""

import json
import os
import shlex

from cxrmt.errors import CxrmtError
from cxrmt.io.writers import write_text

SIDECAR_SUFFIX = ".json"
KEY_FIELDS = ("onnx_sha256", "tensorrt", "gpu", "compute_capability", "precision", "dla_core")


class EngineMismatchError(CxrmtError, ValueError):
    """The engine was built for another system; the message carries the rebuild command."""


def sidecar_path(engine_path) -> str:
    return os.fspath(engine_path) + SIDECAR_SUFFIX


def cache_key(onnx_sha256: str, tensorrt: str, gpu: dict, precision: str, dla_core=None) -> dict:
    """The fields an engine depends on. `tensorrt` is the full version: engines are tied to it."""
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16 (got {precision!r})")
    return {"onnx_sha256": onnx_sha256, "tensorrt": tensorrt, "gpu": gpu["gpu"],
            "compute_capability": gpu["compute_capability"], "precision": precision,
            "dla_core": dla_core}


def rebuild_command(sidecar: dict, engine_path) -> str:
    """The `cxrmt export` call (and the trtexec equivalent) that rebuilds this engine here."""
    build = sidecar.get("build", {})
    args = ["cxrmt", "export", build.get("onnx", "MODEL.onnx"), "--engine", os.fspath(engine_path)]
    if build.get("fp16_flag"):
        args.append("--fp16")
    if sidecar.get("key", {}).get("dla_core") is not None:
        args += ["--dla", str(sidecar["key"]["dla_core"])]
    return shlex.join(args)


def mismatches(recorded: dict, current: dict, fields=KEY_FIELDS) -> list:
    """['tensorrt: built with 10.3.0, running 11.0.1', ...] for the fields that differ."""
    return [f"{f}: built with {recorded.get(f)}, running {current.get(f)}" for f in fields
            if f in current and recorded.get(f) != current.get(f)]


def write_sidecar(engine_path, key: dict, model_meta: dict, build: dict) -> str:

    path = sidecar_path(engine_path)
    write_text(path, json.dumps({"key": key, "model": model_meta, "build": build}, indent=2) + "\n")
    return path


def read_sidecar(engine_path) -> dict:
    path = sidecar_path(engine_path)
    if not os.path.isfile(path):
        raise EngineMismatchError(
            f"{os.fspath(engine_path)}: no sidecar {os.path.basename(path)}, so cxrmt cannot tell "
            "which ONNX, GPU and TensorRT version it was built for; rebuild it with "
            f"`cxrmt export MODEL.onnx --engine {os.fspath(engine_path)}`")
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise EngineMismatchError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not {"key", "model"} <= set(data):
        raise EngineMismatchError(f"{path}: not a cxrmt engine sidecar (needs 'key' and 'model')")
    return data


def check_engine(engine_path, tensorrt: str, gpu: dict) -> dict:
    """The sidecar of an engine that fits this TensorRT version and GPU; else an
    EngineMismatchError that names the differences and the rebuild command."""
    sidecar = read_sidecar(engine_path)
    current = {"tensorrt": tensorrt, **gpu}
    bad = mismatches(sidecar["key"], current, ("tensorrt", "gpu", "compute_capability"))
    if bad:
        raise EngineMismatchError(
            f"{os.fspath(engine_path)} was built for another system ({'; '.join(bad)}). "
            "TensorRT engines are specific to the GPU model and TensorRT version: rebuild it on "
            f"this machine with `{rebuild_command(sidecar, engine_path)}`")
    return sidecar


def is_current(engine_path, key: dict) -> bool:
    """True when `engine_path` exists and its sidecar records exactly `key` (cache hit)."""
    if not os.path.isfile(engine_path):
        return False
    try:
        return read_sidecar(engine_path)["key"] == key
    except EngineMismatchError:
        return False
