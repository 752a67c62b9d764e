"""Radiograph-like benchmark inputs from the real film shipped in the package.

PNG costs depend on content (a smooth synthetic image compresses far better than a film with
detector noise), so the benchmarks feed the shipped NIH radiograph (1024² 8-bit), resized and
requantised to 12 bits with Gaussian noise of a few grey levels (a digital detector's quantum
noise), stored in 16 bits (x16) as a 2048² export would be. Seeds vary the noise.
"""

import cv2
import numpy as np

from cxrmt.samples import demo_radiograph

NOISE_12BIT = 6.0   # standard deviation in 12-bit grey levels


def radiograph(size=2048, seed=0) -> np.ndarray:
    """(size, size) uint16: the shipped film at 12-bit depth with noise, scaled by 16."""
    film = cv2.imread(demo_radiograph(), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    film = cv2.resize(film, (size, size), interpolation=cv2.INTER_CUBIC) * (4095.0 / 255.0)
    film += np.random.default_rng(seed).normal(0.0, NOISE_12BIT, film.shape).astype(np.float32)
    return (np.clip(np.rint(film), 0, 4095).astype(np.uint16) * 16).astype(np.uint16)
