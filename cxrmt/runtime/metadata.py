"""The metadata an exported model carries, so a runtime needs nothing but the file.

Stored as ONNX metadata_props "cxrmt.<key>" (strings; lists as JSON) and copied into a TensorRT
engine's sidecar JSON.
"""

import hashlib
import io
import json
import os

import numpy as np

from cxrmt import __version__
from cxrmt.contract import CHANNELS, METADATA_KEYS, PALETTE, POLARITY, PREFIX
from cxrmt.errors import ModelError
from cxrmt.io.digest import sha256_file  # noqa: F401  (re-exported: md.sha256_file)
from cxrmt.window import MODES as WINDOW_MODES


def sha256_weights(weights) -> str:
    """Digest of a model's weight arrays (order, shape, dtype and values): identical for the
    same weights whatever file format they were saved in."""
    h = hashlib.sha256()
    for w in weights:
        a = np.ascontiguousarray(np.asarray(w))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def model_metadata(variant: str, task: str, size: int, layout: str, weights_sha256: str,
                   precision: str = "fp32", batch: int = 1, window: str = "auto") -> dict:
    """The cxrmt.* entries of an exported model (all values strings). `window`: the network
    window the model was trained with (cxrmt.window: auto or full); runtimes default to it."""
    if layout not in ("nhwc", "nchw"):
        raise ValueError(f"layout must be nhwc or nchw (got {layout!r})")
    if window not in WINDOW_MODES:
        raise ValueError(f"window must be one of {', '.join(WINDOW_MODES)} (got {window!r})")
    values = {
        "version": __version__, "variant": variant, "task": task, "size": size, "batch": batch,
        "layout": layout, "precision": precision, "weights_sha256": weights_sha256,
        "output_range": "[-1, 1] (tanh); organ where channel > 0",
        "channels": json.dumps(CHANNELS[task]), "polarity": POLARITY,
        "palette": json.dumps(PALETTE), "window": window,
    }
    assert tuple(values) == METADATA_KEYS
    return {PREFIX + k: str(v) for k, v in values.items()}


def set_onnx_metadata(model_proto, meta: dict) -> None:
    """Replace the cxrmt.* metadata_props of an onnx ModelProto with `meta`."""
    keep = [(p.key, p.value) for p in model_proto.metadata_props if not p.key.startswith(PREFIX)]
    del model_proto.metadata_props[:]
    for k, v in keep + sorted(meta.items()):
        entry = model_proto.metadata_props.add()
        entry.key, entry.value = k, v


def onnx_metadata(model_proto) -> dict:
    return {p.key: p.value for p in model_proto.metadata_props if p.key.startswith(PREFIX)}


# ModelProto fields (onnx.proto3): metadata_props = 14, each a StringStringEntryProto
# (key = 1, value = 2). Protobuf wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
_METADATA_FIELD, _SKIP = 14, {1: 8, 5: 4}


def read_onnx_metadata(path) -> dict:
    """cxrmt.* metadata of an ONNX file, read from its top-level protobuf fields: the graph and
    its weights are skipped by length, not parsed, so this costs a few reads instead of an
    ONNX Runtime session (~0.2 s for the shipped model) and needs neither onnx nor
    onnxruntime. A file that is not an ONNX model raises ModelError naming it."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such ONNX file")
    meta = {}
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            for _, value in _fields(fh, size, {_METADATA_FIELD}):
                entry = dict(_fields(io.BytesIO(value), len(value), {1, 2}))
                key, text = (entry.get(i, b"").decode() for i in (1, 2))
                if key.startswith(PREFIX):
                    meta[key] = text
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(path, f"not an ONNX model ({exc})") from None
    return meta


def _varint(read) -> int:
    shift = value = 0
    while True:
        byte = read(1)
        if not byte:
            raise ValueError("truncated varint")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(stream, size: int, keep):
    """(field number, bytes) of the length-delimited fields numbered in `keep` of a protobuf
    message filling `stream` (a file or BytesIO) up to `size`; every other field is skipped
    with a seek, so a model's graph is never read."""
    while stream.tell() < size:
        tag = _varint(stream.read)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            _varint(stream.read)
        elif wire in _SKIP:
            stream.seek(_SKIP[wire], os.SEEK_CUR)
        elif wire == 2:
            length = _varint(stream.read)
            if stream.tell() + length > size:
                raise ValueError(f"field {field} runs past the end")
            if field in keep:
                yield field, stream.read(length)
            else:
                stream.seek(length, os.SEEK_CUR)
        else:
            raise ValueError(f"unknown protobuf wire type {wire}")
