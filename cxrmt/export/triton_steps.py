"""The per-request work of the Triton repository's Python models (`triton_models/`): the same
reader, window, kernels and decoding as `cxrmt.pipeline.Predictor`, one image per request.

Pre-processing turns IMAGE_BYTES (an encoded file) or PIXELS (raw uint16, display polarity)
into the network input MODEL_INPUT, the radiograph as float32 ORIGINAL (exact for 8- and 16-bit
pixels; its dtype travels in FRAME) and FRAME, a JSON string: the Frame's geometry and window,
plus dtype, white, spacing. Post-processing decodes MODEL_OUTPUT with them.
"""

import json

import numpy as np

from cxrmt import kernels
from cxrmt import window as window_mod
from cxrmt.io import read_image_bytes
from cxrmt.pipeline import (
    DecodeOptions,
    OverlayOptions,
    check_finite,
    decode_kwargs,
    render_outputs,
)
from cxrmt.runtime import metadata as md
from cxrmt.runtime.base import palette_of

FRAME_FIELDS = ("height", "width", "size", "pad_top", "pad_bottom", "pad_left", "pad_right",
                "window_lo", "window_hi", "invert")


def params_of(args: dict) -> dict:
    """{key: string value} of a Python backend model's config parameters (its `args`)."""
    config = json.loads(args["model_config"])
    return {k: v["string_value"] for k, v in config.get("parameters", {}).items()}


def answer(pb_utils, requests, names, step) -> list:
    """One response per request: `step({name: numpy array or None})` -> {name: array}. A
    request that fails gets an error response naming the problem; the others are answered."""
    responses = []
    for request in requests:
        try:
            tensors = {n: pb_utils.get_input_tensor_by_name(request, n) for n in names}
            outputs = step({n: None if t is None else t.as_numpy() for n, t in tensors.items()})
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(n, a) for n, a in outputs.items()]))
        except Exception as exc:   # one bad request must not fail the others in its batch
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")))
    return responses


def string_tensor(text: str) -> np.ndarray:
    """A TYPE_STRING tensor of dims [1]."""
    return np.array([text.encode()], dtype=object)


def _radiograph(image_bytes, pixels) -> tuple:
    """(pixels, white, spacing, spacing tag) of the request's one image."""
    if (image_bytes is None) == (pixels is None):
        raise ValueError("send IMAGE_BYTES (an encoded PNG/TIFF/JPEG/DICOM file) or PIXELS "
                         "(uint16 H x W, display polarity), exactly one of them")
    if image_bytes is not None:
        if image_bytes.size != 1:
            raise ValueError(f"IMAGE_BYTES: one file per request (got {image_bytes.size})")
        rg = read_image_bytes(image_bytes.reshape(-1)[0], "IMAGE_BYTES")
        return rg.pixels, rg.white, rg.spacing_mm, rg.meta.get("spacing_tag")
    if pixels.ndim != 2 or min(pixels.shape) < 1:
        raise ValueError(f"PIXELS: a 2-D grey image (got shape {pixels.shape})")
    return np.ascontiguousarray(pixels), None, None, None


def prepare(params: dict, image_bytes=None, pixels=None) -> dict:
    """The pre-processing model's outputs for one request."""
    px, white, spacing, tag = _radiograph(image_bytes, pixels)
    window = params.get(md.PREFIX + "window", "full")   # as ModelInfo.window
    x, frame = kernels.preprocess(px, int(params[md.PREFIX + "size"]),
                                  layout=params[md.PREFIX + "layout"],
                                  **window_mod.preprocess_args(window, None, white))
    batch = int(params.get("network_batch", 1)) or 1
    if batch > 1:   # a static batch: copies of the image, as Predictor fills a batch
        x = np.concatenate([x] * batch)
    info = {f: getattr(frame, f) for f in FRAME_FIELDS}
    info.update(dtype=px.dtype.name, white=white, spacing_mm=spacing, spacing_tag=tag)
    return {"MODEL_INPUT": x, "ORIGINAL": px.astype(np.float32),
            "FRAME": string_tensor(json.dumps(info))}


def frame_info(frame) -> dict:
    """FRAME's JSON as a dict."""
    raw = frame.reshape(-1)[0]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def finish(params: dict, model_output, model_input, original, frame) -> dict:
    """The post-processing model's image outputs for one request (measurements aside)."""
    info = frame_info(frame)
    fr = kernels.Frame(**{f: info[f] for f in FRAME_FIELDS})
    pixels = original.astype(info["dtype"])
    task, layout = params[md.PREFIX + "task"], params[md.PREFIX + "layout"]
    y = np.ascontiguousarray(model_output[:1], np.float32)   # a static batch: the first copy
    check_finite(y)
    out = kernels.decode(y, fr, task=task, layout=layout, image=pixels,
                         model_input=np.ascontiguousarray(model_input[:1], np.float32),
                         input_layout=layout,
                         **decode_kwargs(DecodeOptions(), pixels, info["white"]))
    out["frame"] = fr
    seg, rgb = render_outputs(out, pixels, task=task,
                              overlay=OverlayOptions(palette=palette_of(params)))
    results = {}
    if task != "bse":
        results.update(MASKS=out["masks"], LABELS=out["labels"], SEGMENTATION=seg, OVERLAY=rgb)
    if task != "seg":
        results["BONE_SUPPRESSED"] = out["bone_suppressed"].astype(np.uint16)
    return results
