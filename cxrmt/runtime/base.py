"""What every backend runner exposes: a `ModelInfo` and `run(x) -> y` on model-layout arrays.

Runners are context managers (`with open_runner(path) as r: ...`) and release their sessions,
engines or device buffers on exit.
"""

import json
from dataclasses import dataclass, field

import numpy as np

from cxrmt.contract import OUTPUT_CHANNELS as TASK_CHANNELS
from cxrmt.contract import PREFIX
from cxrmt.errors import CxrmtError, DeviceError


@dataclass(frozen=True)
class ModelInfo:
    """Static description of one loaded model: input (batch, size, layout), task, provenance."""

    size: int
    layout: str                  # "nhwc" or "nchw"
    task: str                    # "mt", "seg" or "bse"
    batch: int = 1
    input_name: str = "image"
    output_name: str = "output"
    precision: str = "fp32"
    meta: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple:
        s = self.size
        return (self.batch, s, s, 3) if self.layout == "nhwc" else (self.batch, 3, s, s)

    @property
    def window(self) -> str:
        """The network window the model was trained with (cxrmt.window); models exported before
        the key existed were trained on the full range."""
        return self.meta.get(PREFIX + "window", "full")

    @property
    def output_channels(self) -> int:
        return TASK_CHANNELS[self.task]

    def check_input(self, x: np.ndarray) -> None:
        if tuple(x.shape) != self.input_shape or x.dtype != np.float32:
            raise ValueError(f"model input must be float32 {self.input_shape} ({self.layout}), "
                             f"got {x.dtype} {tuple(x.shape)}")


def layout_from_shape(shape) -> str:
    """NHWC when the last axis is the 3 grey copies, NCHW when axis 1 is."""
    shape = tuple(shape)
    if len(shape) == 4 and shape[3] == 3 and shape[1] != 3:
        return "nhwc"
    if len(shape) == 4 and shape[1] == 3:
        return "nchw"
    raise ValueError(f"cannot tell the layout of input shape {shape}: expected (N, S, S, 3) or "
                     "(N, 3, S, S)")


def task_from_channels(channels: int, declared: str | None = None) -> str:
    """The task of a model with `channels` outputs; 3 channels need the declared task to tell
    segmentation from bone suppression (segmentation if nothing says otherwise)."""
    if declared:
        if TASK_CHANNELS.get(declared) != channels:
            raise ValueError(f"task {declared!r} needs {TASK_CHANNELS.get(declared)} output "
                             f"channels, the model has {channels}")
        return declared
    if channels == 6:
        return "mt"
    if channels == 3:
        return "seg"
    raise ValueError(f"model has {channels} output channels; cxrmt models have 3 or 6")


def info_from_io(input_shape, output_shape, meta: dict, input_name="image",
                 output_name="output", task=None) -> ModelInfo:
    """ModelInfo from the static I/O shapes, with the cxrmt metadata winning where present."""
    layout = meta.get(PREFIX + "layout") or layout_from_shape(input_shape)
    size = int(input_shape[1] if layout == "nhwc" else input_shape[2])
    if any(not isinstance(d, (int, np.integer)) or d <= 0 for d in input_shape):
        raise ValueError(f"model input shape {tuple(input_shape)} is not static; export it with "
                         "a fixed batch and size (cxrmt export --size)")
    if int(meta.get(PREFIX + "size", size)) != size:
        raise ValueError(f"metadata says size {meta[PREFIX + 'size']}, the input is {size}")
    channels = int(output_shape[3] if layout == "nhwc" else output_shape[1])
    task = task_from_channels(channels, task or meta.get(PREFIX + "task"))
    return ModelInfo(size=size, layout=layout, task=task, batch=int(input_shape[0]),
                     input_name=input_name, output_name=output_name,
                     precision=meta.get(PREFIX + "precision", "fp32"), meta=dict(meta))


def palette_of(meta: dict):
    """The (4, 3) uint8 label palette of a model's cxrmt.* metadata, or None."""
    raw = meta.get(PREFIX + "palette")
    return None if raw is None else np.asarray(json.loads(raw), dtype=np.uint8)


class Runner:
    """Base for backends: subclasses set `self.info` and implement `_infer` and `close`."""

    info: ModelInfo

    def run(self, x: np.ndarray) -> np.ndarray:
        """One forward pass on a float32 batch in the model's layout and size."""
        x = np.ascontiguousarray(x, dtype=np.float32) if x.dtype != np.float32 else x
        self.info.check_input(x)
        try:
            return self._infer(np.ascontiguousarray(x))
        except (CxrmtError, MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:   # the backend's own error types (ORT Fail, OpenVINO, CUDA)
            raise DeviceError(f"{getattr(self, 'path', 'the model')}: inference failed "
                              f"({type(exc).__name__}: {exc})") from exc

    def _infer(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
