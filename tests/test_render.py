import cv2
import numpy as np
import pytest

from cxrmt import kernels as k
from reference import PALETTE, blend, masks_colour, nearest_to_original, normalise


def test_colourise_labels_uses_paper_palette():
    labels = np.array([[0, 1], [2, 3]], np.uint8)
    rgb = k.colourise(labels)
    np.testing.assert_array_equal(rgb, [[[0, 0, 0], [0, 0, 255]], [[0, 255, 0], [255, 0, 0]]])
    np.testing.assert_array_equal(k.PALETTE, PALETTE)


def test_colourise_masks_overlap_and_custom_palette(rng):
    masks = rng.integers(0, 2, size=(3, 9, 7), dtype=np.uint8)
    pal = rng.integers(0, 256, size=(4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(k.colourise(masks, pal), masks_colour(masks, pal))
    np.testing.assert_array_equal(k.colourise(masks.astype(bool)), masks_colour(masks))


def overlay_setup(rng, shape=(45, 61), size=16):
    img = rng.integers(0, 4096, size=shape, dtype=np.uint16)
    _, f = k.preprocess(img, size, bits_stored=12)
    labels = rng.integers(0, 4, size=(size, size), dtype=np.uint8)
    grey = normalise(img, 0, 4095) * 255.0
    return img, f, labels, grey


@pytest.mark.parametrize("alpha", [0, 128, 255])
def test_overlay_point_fill(rng, alpha):
    img, f, labels, grey = overlay_setup(rng)
    rgb = k.overlay(img, f, labels, alpha=alpha)
    full = nearest_to_original(labels, f)
    colour = PALETTE[full].astype(np.float64)
    a = np.where(full > 0, alpha, 0)[..., None].astype(np.float64)
    ref = blend(grey[..., None], a * colour, a)
    assert np.abs(rgb.astype(int) - ref).max() <= 1


def test_overlay_linear_fill(rng):
    img, f, labels, grey = overlay_setup(rng)
    a_cell = np.where(labels > 0, 128.0, 0.0)
    rgba = np.concatenate([a_cell[..., None] * PALETTE[labels], a_cell[..., None]], axis=-1).astype(np.float32)
    d = f.side
    up = cv2.resize(rgba, (d, d), interpolation=cv2.INTER_LINEAR)
    up = up[f.pad_top:f.pad_top + f.height, f.pad_left:f.pad_left + f.width]
    ref = blend(grey[..., None], up[..., :3], up[..., 3:])
    rgb = k.overlay(img, f, labels, filter="linear")
    assert np.abs(rgb.astype(int) - ref).max() <= 1


@pytest.mark.parametrize("thickness", [1, 3])
def test_overlay_outline_matches_erosion(rng, thickness):
    img, f, _, grey = overlay_setup(rng, shape=(90, 70), size=32)
    yy, xx = np.mgrid[:32, :32]
    masks = np.stack([(yy - 16) ** 2 + (xx - 16) ** 2 < 60,      # heart disc
                      (xx > 18) & (yy > 4) & (yy < 28),           # left lung (image right)
                      (xx < 13) & (yy > 4) & (yy < 28)]).astype(np.uint8)
    rgb = k.overlay(img, f, masks, mode="outline", thickness=thickness, alpha=255)
    kernel = np.ones((2 * thickness + 1,) * 2, np.uint8)
    edges = []
    for c in range(3):
        full = nearest_to_original(masks[c], f)
        eroded = cv2.erode(full, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        edges.append(full & (1 - eroded))
    edges = np.stack(edges)
    colour = masks_colour(edges).astype(np.float64)
    a = np.where(edges.any(0), 255.0, 0.0)[..., None]
    ref = blend(grey[..., None], a * colour, a)
    assert np.abs(rgb.astype(int) - ref).max() <= 1
    assert edges.any(0).sum() > 0


def test_overlay_at_original_resolution_labels(rng):
    img, f, _, grey = overlay_setup(rng)
    labels = rng.integers(0, 4, size=img.shape, dtype=np.uint8)
    rgb = k.overlay(img, f, labels, alpha=200, filter="linear")  # linear on a 1:1 grid = point
    a = np.where(labels > 0, 200.0, 0.0)[..., None]
    ref = blend(grey[..., None], a * PALETTE[labels], a)
    assert np.abs(rgb.astype(int) - ref).max() <= 1
