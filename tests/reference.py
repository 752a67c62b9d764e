"""Independent numpy/OpenCV references for the compiled kernels (no cxrmt code here)."""

import cv2
import numpy as np


def normalise(img, lo, hi, invert=False):
    t = np.clip((img.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    return 1.0 - t if invert else t


def pad_square(a, value):
    h, w = a.shape[:2]
    d = max(h, w)
    top, left = (d - h) // 2, (d - w) // 2
    out = np.full((d, d) + a.shape[2:], value, dtype=a.dtype)
    out[top:top + h, left:left + w] = a
    return out, top, left


def area_resize_bruteforce(a, size):
    """Exact area averaging by replication: every pixel becomes size x size sub-pixels, then the
    (d x d) blocks are averaged. Independent of any weight table; small inputs only."""
    d = a.shape[0]
    fine = np.kron(a, np.ones((size, size)))  # (d*size)^2
    return fine.reshape(size, d, size, d).mean(axis=(1, 3))


def preprocess_ref(img, size, lo, hi, invert=False, pad_value=-1.0, use_cv2=False):
    s = normalise(img, lo, hi, invert) * 2.0 - 1.0
    sq, top, left = pad_square(s, pad_value)
    if use_cv2:
        r = cv2.resize(sq.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    else:
        r = area_resize_bruteforce(sq, size)
    return r, (top, left)


def nearest_index(n_dst, n_src, n_pad, pad):
    """Pixel-centre nearest neighbour, floor((p + 0.5) * n_src / n_pad), in exact integers.
    (OpenCV's INTER_NEAREST_EXACT computes the same in fixed point and misses exact ties.)"""
    p = np.arange(n_dst, dtype=np.int64) + pad
    return np.minimum((2 * p + 1) * n_src // (2 * n_pad), n_src - 1)


def nearest_to_original(grid, frame):
    """Model-size grid -> original size (crop of the padded square)."""
    d = max(frame.height, frame.width)
    iy = nearest_index(frame.height, grid.shape[0], d, frame.pad_top)
    ix = nearest_index(frame.width, grid.shape[1], d, frame.pad_left)
    return grid[np.ix_(iy, ix)]


def bilinear_to_original(plane, frame):
    d = max(frame.height, frame.width)
    up = cv2.resize(plane.astype(np.float32), (d, d), interpolation=cv2.INTER_LINEAR)
    return up[frame.pad_top:frame.pad_top + frame.height, frame.pad_left:frame.pad_left + frame.width]


def quantise(signed, max_value):
    return np.floor((np.clip(signed, -1, 1) + 1) / 2 * max_value + 0.5)


PALETTE = np.array([[0, 0, 0], [0, 0, 255], [0, 255, 0], [255, 0, 0]], dtype=np.uint8)


def labels_from_channels(seg):
    """seg (3, h, w) heart, left, right -> label map via argmax of positive channels."""
    label_of_channel = np.array([3, 2, 1], dtype=np.uint8)
    best = np.argmax(seg, axis=0)
    return np.where(seg.max(axis=0) > 0, label_of_channel[best], 0).astype(np.uint8)


def masks_colour(masks, palette=PALETTE):
    """(3, h, w) heart, left, right -> RGB, per-component max of present organs' colours."""
    rgb = np.zeros(masks.shape[1:] + (3,), dtype=np.uint8)
    any_organ = masks.any(axis=0)
    rgb[~any_organ] = palette[0]
    for ch, label in ((0, 3), (1, 2), (2, 1)):
        rgb = np.where(masks[ch][..., None] > 0, np.maximum(rgb, palette[label]), rgb)
    return rgb


def blend(grey, premult, a):
    v = (grey * (255.0 - a) + premult) / 255.0
    return np.floor(np.clip(v, 0, 255) + 0.5).astype(np.uint8)


# -- Post-processing: the numpy implementations cxrmt used before the C++ core took them over.
ORGANS = ("heart", "left_lung", "right_lung")  # mask channels
LABEL_OF = {"right_lung": 1, "left_lung": 2, "heart": 3}


def relabel(labels, masks):
    out = labels.copy()
    organs = [(LABEL_OF[o], masks[ORGANS.index(o)] > 0) for o in ("right_lung", "left_lung", "heart")]
    for label, mask in organs:
        out[(labels == label) & ~mask] = 0
    for label, mask in organs:
        out[(out == 0) & mask] = label
    return out


def bone_like_input(bone16, input_dtype, white):
    if input_dtype == np.uint8:
        return np.rint(bone16 * (1.0 / 257.0)).astype(np.uint8)
    if input_dtype == np.uint16 and white < 65535:
        return np.rint(bone16 * (float(white) / 65535.0)).astype(np.uint16)
    return bone16


def _extent(any_along):
    idx = np.flatnonzero(any_along)
    return int(idx[-1] - idx[0] + 1) if idx.size else 0


def organ_measures(mask, spacing=None):
    """Unrounded; the caller rounds as cxrmt.infer.measure presents them."""
    mask = np.asarray(mask, dtype=bool)
    area = int(np.count_nonzero(mask))
    height, width = _extent(mask.any(axis=1)), _extent(mask.any(axis=0))
    out = {"area_px": area, "height_px": height, "width_px": width}
    if spacing is not None:
        dr, dc = (float(s) for s in spacing)
        out.update(area_mm2=area * dr * dc, height_mm=height * dr, width_mm=width * dc)
    return out


def cardiothoracic_ratio(masks):
    heart = np.asarray(masks[0], bool)
    lungs = np.asarray(masks[1], bool) | np.asarray(masks[2], bool)
    cardiac, thoracic = _extent(heart.any(axis=0)), _extent(lungs.any(axis=0))
    return cardiac / thoracic if cardiac and thoracic else None
