"""The in-memory radiograph every reader returns."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Radiograph:
    """A grayscale radiograph in display polarity (bone bright, MONOCHROME2).

    pixels: (H, W) uint8, uint16 or float32; `white` is the value that means full white
    (255, 65535, 4095 for 12-bit JSRT, 1.0 for windowed DICOM), so pixels / white is in [0, 1].
    spacing_mm: (row, column) pixel spacing in millimetres, or None when the file does not say.
    """

    pixels: np.ndarray
    white: float
    spacing_mm: tuple | None = None
    path: str | None = None
    meta: dict = field(default_factory=dict)

    def unit(self) -> np.ndarray:
        """Pixels as float32 in [0, 1]."""
        return self.pixels.astype(np.float32) / np.float32(self.white)

    def inverted(self) -> "Radiograph":
        """The same image with polarity reversed (white - value)."""
        # In the pixels' own type: white is representable in it and no value exceeds it, so
        # this is exact without the full-size float64 copy (8 bytes a pixel) it once made.
        inv = np.subtract(np.asarray(self.white, self.pixels.dtype), self.pixels)
        return Radiograph(inv, self.white, self.spacing_mm, self.path, dict(self.meta))
