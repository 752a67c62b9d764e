"""Inputs for export checks: real radiographs when given, else a seeded chest-like phantom.

Random noise alone is a poor test input: it never drives the network into the saturated,
organ-shaped activations real radiographs do, which is where FP16 overflow and ORT/TF
disagreements show up. The phantom has the large-scale structure of a PA chest film.
"""

import numpy as np

from cxrmt import kernels
from cxrmt.io import read_image


def phantom(height=512, width=512, seed=0) -> np.ndarray:
    """(H, W) uint16 12-bit chest-like image: bright mediastinum and diaphragm, dark lung
    fields, rib arcs, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = xx / width - 0.5, yy / height - 0.5
    body = np.exp(-((u / 0.42) ** 8 + (v / 0.55) ** 8))
    lungs = sum(np.exp(-(((u - c) / 0.15) ** 2 + ((v + 0.05) / 0.3) ** 2) ** 2)
                for c in (-0.19, 0.19))
    ribs = 0.08 * (np.sin(2 * np.pi * (v * 9 + 2 * u ** 2)) > 0.6) * body
    img = 0.25 + 0.65 * body - 0.45 * lungs + ribs
    img += rng.normal(0, 0.01, img.shape)
    return np.clip(img * 4095, 0, 4095).astype(np.uint16)


def check_inputs(size: int, layout: str, paths=(), seeds=(0, 1)) -> list:
    """Model inputs (1, ...) in `layout` from the radiographs at `paths` and from phantoms."""

    xs = []
    for p in paths:
        rg = read_image(p)
        xs.append(kernels.preprocess(rg.pixels, size, window=(0.0, float(rg.white)),
                                     layout=layout)[0])
    for s in seeds:
        img = phantom(size + 37 * s, size + 11 * s, seed=s)   # not square: exercise padding
        xs.append(kernels.preprocess(img, size, bits_stored=12, layout=layout)[0])
    return xs
