"""Preprocess -> backend -> decode: one radiograph in, every cxrmt output out.

`Predictor(model)` picks the backend by the model's suffix (`cxrmt.runtime.BACKENDS`) and reads the
model's size, layout and task from it. `run` is safe to call from several threads at once: a
Predictor holds no per-call state, ONNX Runtime sessions are thread-safe, and the TensorFlow and
TensorRT runners serialise their forward pass with a lock (for parallel GPU work, use one
Predictor per thread).

With a TensorRT engine and a CUDA-built core, `run` stays on the device from the raw image to the
outputs (`cxrmt.runtime.device_pipeline`); other backends run the kernels on host arrays.
"""

import os
import time
import warnings
from dataclasses import dataclass, field, fields, replace

import numpy as np

from cxrmt import kernels
from cxrmt import window as window_mod
from cxrmt.io import Radiograph, read_image
from cxrmt.runtime import Runner, open_runner
from cxrmt.runtime.base import palette_of

STAGES = ("read", "preprocess", "inference", "decode")


@dataclass(frozen=True)
class PreprocessOptions:
    """How a radiograph becomes the model input (C: `cxrmt_preprocess_options`). `window`: None
    (the model's own `cxrmt.window`), "auto", "full" or (lo, hi); `percentile`: (p_lo, p_hi) over
    the whole image instead; `bits_stored`: e.g. 12 for 12-bit data in uint16."""

    window: object = None
    percentile: tuple | None = None
    bits_stored: int = 0
    invert: bool = False


@dataclass(frozen=True)
class DecodeOptions:
    """How the model output returns to the radiograph (C: `cxrmt_decode_options`)."""

    bone_mode: str = "residual"
    resample: str = "bilinear"
    bone_dtype: str = "auto"   # the input's bit depth: 8 bits stay 8, else 16


@dataclass(frozen=True)
class OverlayOptions:
    """The overlay of the labels on the radiograph (C: `cxrmt_overlay_options`); `palette`: 4 x 3
    uint8 by label, None for the model's metadata or the paper's colours."""

    alpha: int = 128
    filter: str = "point"
    mode: str = "fill"
    palette: object = None


OPTION_GROUPS = {"preprocess": PreprocessOptions, "decode": DecodeOptions,
                 "overlay": OverlayOptions}
_FLAT_NAMES = {("overlay", "mode"): "overlay_mode"}   # (group, field) -> flat keyword, if renamed


@dataclass
class Result:
    """All outputs at the radiograph's original resolution (H, W).

    masks: (3, H, W) uint8 0/1 in channel order heart, left lung, right lung (None for a
    bone-suppression-only model); labels: (H, W) uint8 (0 background, 1 right lung, 2 left lung,
    3 heart); segmentation: (H, W, 3) RGB of the labels; overlay: (H, W, 3) RGB labels over the
    radiograph; bone_suppressed: (H, W) bone-suppressed radiograph on the input's full scale (residual
    mode; `bone_mode="resize"` gives it in the network's window), uint8 for uint8 inputs and
    uint16 otherwise unless `bone_dtype` says (None for a segmentation-only model);
    output: the raw model output for this image (model layout, batch axis dropped);
    timings: milliseconds per stage plus "total".
    """

    masks: np.ndarray | None
    labels: np.ndarray | None
    segmentation: np.ndarray | None
    overlay: np.ndarray | None
    bone_suppressed: np.ndarray | None
    output: np.ndarray
    spacing: tuple | None = None
    timings: dict = field(default_factory=dict)
    window: tuple | None = None   # the (lo, hi) that fed the network, in the input's values

    @property
    def bone(self):
        """The 0.1 name of `bone_suppressed`, kept for one release."""
        warnings.warn("Result.bone is now Result.bone_suppressed", DeprecationWarning, 2)
        return self.bone_suppressed


@dataclass
class _Prepared:
    pixels: np.ndarray
    white: float | None
    x: np.ndarray
    frame: object
    spacing: tuple | None
    timings: dict


class Predictor:
    """Run a cxrmt model (.onnx, .engine/.plan, .keras, SavedModel) on radiographs.

    Options come in three groups that mirror the C API's structs: `preprocess=PreprocessOptions`
    (intensity window, bits stored, invert), `decode=DecodeOptions` (bone mode, resampling, bone
    dtype) and `overlay=OverlayOptions` (alpha, filter, mode, palette); their fields may also be
    passed flat (`Predictor(m, window="full", alpha=96)`; `overlay_mode=` for the overlay's mode).
    Keywords in no group go to the runner (ONNX Runtime: device="auto"|"cpu"|"cuda", threads;
    TensorRT: device index; all: task).

    Window (`cxrmt.window`): by default the one the model was trained with (its `cxrmt.window`
    metadata): "auto", the robust field-percentile window, or "full" (a Radiograph's full scale,
    its `white`, or for a bare array the range of its dtype), `(lo, hi)`, or
    `percentile=(p_lo, p_hi)` over the whole image. The bone-suppressed image comes back in the
    input's own scale whatever the window. Colours: the palette given, else the model's
    metadata's, else the paper's. `clean=True` keeps the largest connected component of each
    organ and fills its holes (labels follow the cleaned masks). `render`: which of the
    colour segmentation and the overlay to draw (None in the Result otherwise). Overlay
    `filter="point"` by default: "linear" looks smoother but costs ~5x more at 2048² on the
    CPU. With a batch-1
    TensorRT engine and CUDA kernels (`kernel_device` "auto" or "cuda" on a CUDA build),
    preprocessing, inference, decoding and the overlay run on the GPU around the engine's own
    buffers, so the radiograph crosses PCIe once each way (`clean=True` draws the overlay of the
    cleaned labels after the download).
    """

    def __init__(self, model, *, preprocess=None, decode=None, overlay=None,
                 kernel_device="auto", clean=False, flip_tta=False,
                 render=("segmentation", "overlay"), **options):
        groups, backend_options = _group_options(options, preprocess=preprocess, decode=decode,
                                                 overlay=overlay)
        self._owns_runner = not isinstance(model, Runner)   # a caller's runner stays open
        self.runner = open_runner(model, **backend_options) if self._owns_runner else model
        self.info = self.runner.info
        pre = groups["preprocess"]
        if pre.window is None and pre.percentile is None:
            pre = replace(pre, window=self.info.window)
        window_mod.preprocess_args(pre.window, pre.percentile)   # a bad choice fails here
        self.preprocess_options, self.decode_options = pre, groups["decode"]
        ov = groups["overlay"]
        self.overlay_options = replace(ov, palette=ov.palette if ov.palette is not None
                                       else palette_of(self.info.meta))
        self.device = _kernel_device(kernel_device, getattr(self.runner, "on_gpu", False))
        self.clean, self.flip_tta = clean, flip_tta
        unknown = set(render) - {"segmentation", "overlay"}
        if unknown:
            raise ValueError(f"render: segmentation and/or overlay (got {', '.join(unknown)})")
        self.render = frozenset(render)
        pipeline = getattr(self.runner, "device_pipeline", None)
        self._device_pipeline = pipeline if self.device == "cuda" and self.info.batch == 1 else None
        if flip_tta and self._device_pipeline is not None:
            raise ValueError("flip_tta runs on the host path; pass kernel_device='cpu' with it")

    @property
    def window(self):
        return self.preprocess_options.window

    @property
    def palette(self):
        return self.overlay_options.palette

    # -- public API ---------------------------------------------------------------------------
    def run(self, image, spacing=None) -> Result:
        """`image`: a path, a `cxrmt.io.Radiograph` or a 2-D array (display polarity)."""
        return self.run_batch([image], [spacing])[0]

    def model_input(self, image) -> np.ndarray:
        """The preprocessed model input of one image (batch axis 1), as `run` feeds the model."""
        return self._prepare(image, None).x

    def run_batch(self, images, spacings=None) -> list:
        """Results for several images, sent through the model `info.batch` at a time."""
        spacings = list(spacings) if spacings is not None else [None] * len(images)
        if len(spacings) != len(images):
            raise ValueError(f"{len(images)} images but {len(spacings)} spacings")
        if self._device_pipeline is not None:
            return [self._run_device(im, sp) for im, sp in zip(images, spacings)]
        results = []
        n = self.info.batch
        for start in range(0, len(images), n):
            chunk = [self._prepare(im, sp) for im, sp in
                     zip(images[start:start + n], spacings[start:start + n])]
            results.extend(self._infer_decode(chunk))
        return results

    def close(self) -> None:
        if self._owns_runner:
            self.runner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- stages -------------------------------------------------------------------------------
    def _prepare(self, image, spacing) -> _Prepared:
        t0 = time.perf_counter()
        pixels, white, file_spacing = _read(image)
        t1 = time.perf_counter()
        pre = self.preprocess_options
        x, frame = kernels.preprocess(pixels, self.info.size, bits_stored=pre.bits_stored,
                                      invert=pre.invert, layout=self.info.layout,
                                      device=self.device, **self._window(white))
        t2 = time.perf_counter()
        return _Prepared(pixels, white, x, frame,
                         spacing if spacing is not None else file_spacing,
                         {"read": _ms(t0, t1), "preprocess": _ms(t1, t2)})

    def _infer_decode(self, chunk) -> list:
        x = np.concatenate([p.x for p in chunk])
        if len(chunk) < self.info.batch:  # a static batch: fill it with copies of the last image
            x = np.concatenate([x] + [chunk[-1].x] * (self.info.batch - len(chunk)))
        t0 = time.perf_counter()
        y = self.runner.run(x)
        if self.flip_tta:
            y = flip_average(y, self.runner.run(flip_lr(x, self.info.layout)), self.info)
        infer_ms = _ms(t0, time.perf_counter()) / len(chunk)
        return [self._decode(p, y[i:i + 1], infer_ms) for i, p in enumerate(chunk)]

    def _decode(self, p: _Prepared, y: np.ndarray, infer_ms: float) -> Result:
        check_finite(y)
        t0 = time.perf_counter()
        layout = self.info.layout
        out = kernels.decode(y, p.frame, task=self.info.task, layout=layout, image=p.pixels,
                             model_input=p.x, input_layout=layout, device=self.device,
                             **self._decode_options(p.pixels, p.white))
        out["output"], out["frame"] = y, p.frame
        timings = dict(p.timings, inference=infer_ms, decode=0.0)
        return self._postprocess(out, p.pixels, p.spacing, timings, t0)

    def _postprocess(self, out: dict, pixels, spacing, timings: dict, t0: float,
                     colour_device=None) -> Result:
        """Clean-up, relabelling, colours and overlay (unless the device drew it), timings: the
        tail both paths share. `t0`: when this image's decode stage began; `colour_device`:
        where the colour image is drawn (the device path keeps that cheap step on the host,
        where its labels already are)."""
        seg, rgb = render_outputs(out, pixels, task=self.info.task, overlay=self.overlay_options,
                                  render=self.render, clean=self.clean, device=self.device,
                                  colour_device=colour_device)
        timings["decode"] += _ms(t0, time.perf_counter())
        timings["total"] = sum(timings[s] for s in STAGES)
        frame = out["frame"]
        return Result(out.get("masks"), out.get("labels"), seg, rgb, out.get("bone_suppressed"),
                      out["output"][0], spacing, timings, (frame.window_lo, frame.window_hi))

    def _window(self, white) -> dict:
        """Window keyword arguments of the kernels for an image of full scale `white`."""
        pre = self.preprocess_options
        return window_mod.preprocess_args(pre.window, pre.percentile, white)

    def _decode_options(self, pixels, white) -> dict:
        return decode_kwargs(self.decode_options, pixels, white,
                             self.preprocess_options.bits_stored)

    def _run_device(self, image, spacing) -> Result:
        """One image through the runner's DevicePipeline; same outputs as the host path."""
        t0 = time.perf_counter()
        pixels, white, file_spacing = _read(image)
        t1 = time.perf_counter()
        w, pre = self._window(white), self.preprocess_options
        out = self._device_pipeline.run(
            pixels, w.get("window"), percentile=w.get("percentile"), field=w.get("field", False),
            bits_stored=pre.bits_stored, invert=pre.invert,
            overlay=None if self.clean or "overlay" not in self.render
            else overlay_kwargs(self.overlay_options),
            **self._decode_options(pixels, white))
        check_finite(out["output"])
        timings = dict(out["timings"], read=_ms(t0, t1))
        return self._postprocess(out, pixels, spacing if spacing is not None else file_spacing,
                                 timings, time.perf_counter(), colour_device="cpu")


def decode_kwargs(options: DecodeOptions, pixels, white, bits_stored: int = 0) -> dict:
    """Keyword arguments of `kernels.decode` for an image; in residual mode the bone image is
    written in the input's full range (`white`, else its dtype's or `bits_stored`'s)."""
    opts = dict(bone_mode=options.bone_mode, resample=options.resample,
                bone_dtype=options.bone_dtype)
    if opts["bone_dtype"] == "auto":   # the input's bit depth: 8 bits stay 8, else 16
        opts["bone_dtype"] = "uint8" if pixels.dtype == np.uint8 else "uint16"
    if opts["bone_mode"] == "residual":
        opts["bone_window"] = window_mod.full_window(pixels, white, bits_stored)
    return opts


def render_outputs(out: dict, pixels, *, task: str, overlay: OverlayOptions, render=frozenset(
        ("segmentation", "overlay")), clean=False, device="cpu", colour_device=None) -> tuple:
    """(segmentation RGB, overlay RGB) of decoded outputs `out` (kernels.decode's dict plus
    "frame"), each None when not in `render`; `clean=True` first cleans out["masks"] and
    relabels out["labels"] in place. An overlay already in `out` (drawn on the device) is kept
    unless cleaning changed the labels."""
    seg, rgb = None, out.get("overlay")
    if clean and out.get("masks") is not None:
        out["masks"] = kernels.cleanup(out["masks"])
        out["labels"] = relabel(out["labels"], out["masks"])
        rgb = None   # the overlay must show the cleaned labels
    if task != "bse":
        if "segmentation" in render:
            seg = kernels.colourise(out["labels"], overlay.palette, device=colour_device or device)
        if rgb is None and "overlay" in render:
            rgb = kernels.overlay(pixels, out["frame"], out["labels"], device=device,
                                  **overlay_kwargs(overlay))
    return seg, rgb


def overlay_kwargs(ov: OverlayOptions) -> dict:
    """Keyword arguments of `kernels.overlay`."""
    return dict(alpha=ov.alpha, filter=ov.filter, mode=ov.mode, palette=ov.palette)


def flip_lr(x: np.ndarray, layout: str) -> np.ndarray:
    """Mirror a model-layout batch left-right (the width axis)."""
    return np.ascontiguousarray(x[..., ::-1, :] if layout == "nhwc" else x[..., ::-1])


def flip_average(y: np.ndarray, y_flipped: np.ndarray, info) -> np.ndarray:
    """Test-time flip augmentation: the mean of an output and the un-mirrored output of the
    mirrored input, whose lung channels are swapped back (a mirrored left lung looks like a
    right lung)."""
    back = flip_lr(y_flipped, info.layout)
    if info.task != "bse":
        axis = -1 if info.layout == "nhwc" else 1
        order = [0, 2, 1] + list(range(3, back.shape[axis]))   # heart, left, right, bone...
        back = np.take(back, order, axis=axis)
    return (0.5 * (y + back)).astype(np.float32)


def relabel(labels: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The label map made consistent with cleaned masks: a pixel whose organ was removed turns
    background; a background pixel inside a (hole-filled) mask takes that organ's label
    (kernels.relabel; a copy)."""
    return kernels.relabel(labels, masks)


def _group_options(options: dict, **groups) -> tuple:
    """({group: options dataclass}, backend options): flat keywords (window=, alpha=, ...) fill
    the fields of their group; what belongs to no group goes to the backend."""
    out, rest = {}, dict(options)
    for name, cls in OPTION_GROUPS.items():
        given = groups.get(name)
        if given is not None and not isinstance(given, cls):
            raise TypeError(f"{name}= takes a {cls.__name__} (got {type(given).__name__})")
        keys = {f.name: _FLAT_NAMES.get((name, f.name), f.name) for f in fields(cls)}
        flat = {fld: rest.pop(key) for fld, key in keys.items() if key in rest}
        if given is not None and flat:
            raise TypeError(f"pass {', '.join(flat)} inside {name}= or flat, not both")
        out[name] = given if given is not None else cls(**flat)
    return out, rest


def _read(image):
    """(pixels, white or None, spacing or None) of a path, Radiograph or array."""

    if isinstance(image, (str, os.PathLike)):
        image = read_image(image)
    if isinstance(image, Radiograph):
        return image.pixels, image.white, image.spacing_mm
    pixels = np.asarray(image)
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D grey radiograph, got an array of shape {pixels.shape}")
    return pixels, None, None


def check_finite(y: np.ndarray) -> None:
    if not np.isfinite(y).all():
        raise FloatingPointError("the model produced NaN or Inf (an FP16 overflow?); "
                                 "re-export without --fp16 or check the model")


def _kernel_device(choice: str, runner_on_gpu: bool) -> str:
    if choice == "auto":
        return "cuda" if runner_on_gpu and kernels.cuda_available() else "cpu"
    if choice == "cuda" and not kernels.cuda_available():
        raise ValueError("kernel_device='cuda' but cxrmt's core was built without CUDA or sees no "
                         "GPU (see `cxrmt info`)")
    if choice not in ("cpu", "cuda"):
        raise ValueError(f"kernel_device must be auto, cpu or cuda (got {choice!r})")
    return choice


def _ms(t0: float, t1: float) -> float:
    return (t1 - t0) * 1e3
