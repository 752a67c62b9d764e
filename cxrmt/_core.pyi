from typing import Literal, Optional, Tuple

import numpy as np

class Frame:
    height: int
    width: int
    size: int
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    window_lo: float
    window_hi: float
    invert: bool
    side: int
    def __init__(self, height: int, width: int, size: int, pad_top: int = 0, pad_bottom: int = 0,
                 pad_left: int = 0, pad_right: int = 0, window_lo: float = 0.0, window_hi: float = 1.0,
                 invert: bool = False) -> None: ...

Layout = Literal["nhwc", "nchw"]
Device = Literal["cpu", "cuda"]

def build_info() -> dict: ...
def cuda_available() -> bool: ...
def resolve_window(image: np.ndarray, bits_stored: int = 0, invert: bool = False,
                   window: Optional[Tuple[float, float]] = None,
                   percentile: Optional[Tuple[float, float]] = None,
                   field: bool = False, size: int = 0) -> Tuple[float, float]: ...
def preprocess(image: np.ndarray, size: int = 512, *, bits_stored: int = 0, invert: bool = False,
               window: Optional[Tuple[float, float]] = None,
               percentile: Optional[Tuple[float, float]] = None, field: bool = False,
               layout: Layout = "nhwc",
               pad_value: float = -1.0, out: Optional[np.ndarray] = None,
               device: Device = "cpu", multiple_of: int = 1) -> Tuple[np.ndarray, Frame]: ...
def decode(output: np.ndarray, frame: Frame, *, task: Literal["auto", "mt", "seg", "bse"] = "auto",
           layout: Layout = "nhwc", image: Optional[np.ndarray] = None,
           model_input: Optional[np.ndarray] = None, input_layout: Layout = "nhwc",
           bone_mode: Literal["residual", "resize"] = "residual",
           resample: Literal["bilinear", "area"] = "bilinear",
           bone_dtype: Literal["uint8", "uint16"] = "uint8",
           bone_window: Optional[Tuple[float, float]] = None, masks: bool = True, labels: bool = True,
           bone_suppressed: bool = True, device: Device = "cpu") -> dict: ...
def colourise(seg: np.ndarray, palette: Optional[np.ndarray] = None, *,
              device: Device = "cpu") -> np.ndarray: ...
def overlay(image: np.ndarray, frame: Frame, seg: np.ndarray, *, alpha: int = 128,
            filter: Literal["point", "linear"] = "point", mode: Literal["fill", "outline"] = "fill",
            thickness: int = 1, palette: Optional[np.ndarray] = None,
            device: Device = "cpu") -> np.ndarray: ...
def cleanup(masks: np.ndarray, *, keep_largest: bool = True, fill_holes: bool = True) -> np.ndarray: ...
def relabel(labels: np.ndarray, masks: np.ndarray) -> np.ndarray: ...
def png_unfilter(filtered: bytes | bytearray | memoryview, height: int, width: int, channels: int,
                 depth: int) -> np.ndarray: ...
def bone_to_input_depth(bone16: np.ndarray, input_dtype: "np.typing.DTypeLike",
                        white: float) -> np.ndarray: ...
def measure(masks: np.ndarray, spacing: Optional[Tuple[float, float]] = None) -> dict: ...
def preprocess_device(image: int, image_dtype: "np.typing.DTypeLike", height: int, width: int,
                      size: int, out: int, *, bits_stored: int = 0, invert: bool = False,
                      window: Optional[Tuple[float, float]] = None,
                      percentile: Optional[Tuple[float, float]] = None, field: bool = False,
                      layout: Layout = "nhwc", pad_value: float = -1.0, stream: int = 0,
                      host: bool = False) -> Frame: ...
def decode_device(output: int, output_dtype: "np.typing.DTypeLike", frame: Frame, *,
                  task: Literal["mt", "seg", "bse"], layout: Layout = "nhwc", image: int = 0,
                  image_dtype: "Optional[np.typing.DTypeLike]" = None, model_input: int = 0,
                  input_layout: Optional[Layout] = None,
                  bone_mode: Literal["residual", "resize"] = "residual",
                  resample: Literal["bilinear", "area"] = "bilinear",
                  bone_dtype: Literal["uint8", "uint16"] = "uint8",
                  bone_window: Optional[Tuple[float, float]] = None, masks: int = 0,
                  labels: int = 0, bone_suppressed: int = 0, stream: int = 0,
                  host: bool = False) -> None: ...
def overlay_device(image: int, image_dtype: "np.typing.DTypeLike", frame: Frame, seg: int,
                   out: int, *, masks: bool = False, seg_shape: Optional[Tuple[int, int]] = None,
                   alpha: int = 128, filter: Literal["point", "linear"] = "point",
                   mode: Literal["fill", "outline"] = "fill", thickness: int = 1,
                   palette: Optional[np.ndarray] = None, stream: int = 0,
                   host: bool = False) -> None: ...


class Pipeline:
    """The C pipeline (cxrmt_pipeline_*); see cxrmt.runtime.native.open_pipeline."""

    def __init__(self, model: str, device: str = "auto", device_index: int = 0, threads: int = 0,
                 library: Optional[str] = None) -> None: ...
    @property
    def info(self) -> dict: ...
    def run(self, image: np.ndarray, *, window: object = None,
            percentile: Optional[Tuple[float, float]] = None, bits_stored: int = 0,
            invert: bool = False, white: Optional[float] = None,
            spacing: Optional[Tuple[float, float]] = None, clean: bool = False, alpha: int = 128,
            filter: str = "point", overlay_mode: str = "fill", thickness: int = 1,
            palette: Optional[np.ndarray] = None, bone_mode: str = "residual",
            resample: str = "bilinear", outputs: set = ...) -> dict: ...
