"""The `cxrmt infer` job as a competent user would write it with numpy + OpenCV + onnxruntime.

    python bench/reference_infer.py IN_DIR OUT_DIR --model cxrmt/shipped/cxrmt-mtdg-jsrt256.onnx

Independent of cxrmt (no cxrmt import): it reads the model's own metadata and re-implements the
documented contract (README "The network window", DESIGN.md "Contracts"), so that
bench/bench_infer.py can compare cxrmt against it on the same folder and check that both write
the same images. Per input `<stem>`: `<stem>_bse.png` (input bit depth), `<stem>_seg.png` (RGB),
`<stem>_overlay.png` (RGB, alpha 128), `<stem>.json` (window, organ areas and extents, CTR).
Each PNG is read once; two writer threads encode and write while the next image is computed.
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import onnxruntime as ort

FIELD_MARGIN = 0.05              # the field: the image without 5 % on each side
PERCENTILES = (1.0, 99.0)        # the robust window
ORGANS = ("heart", "left_lung", "right_lung")   # network channels 0, 1, 2
ALPHA = 128
SUFFIXES = (".png",)
OWN_OUTPUTS = ("_bse", "_seg", "_overlay", "_mask_")


class Model:
    """An onnxruntime session with the size, layout and palette its metadata declares."""

    def __init__(self, path):
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.size = int(meta.get("cxrmt.size", self.session.get_inputs()[0].shape[-1]))
        self.layout = meta.get("cxrmt.layout", "nhwc")
        if meta.get("cxrmt.window", "auto") != "auto":
            raise SystemExit(f"{path}: this reference implements only the 'auto' window")
        palette = json.loads(meta.get("cxrmt.palette", "[[0,0,0],[0,0,255],[0,255,0],[255,0,0]]"))
        self.luts = luts(np.array(palette, np.uint8)[:, ::-1].copy())  # BGR, rows: label 0..3
        self.input_name = self.session.get_inputs()[0].name

    def run(self, x_grey):
        """(S, S) float32 in [-1, 1] -> (6, S, S) float32 output planes."""
        x = np.repeat(x_grey[None, None], 3, axis=1)                    # (1, 3, S, S)
        if self.layout == "nhwc":
            x = x.transpose(0, 2, 3, 1)
        y = self.session.run(None, {self.input_name: np.ascontiguousarray(x)})[0][0]
        return y.transpose(2, 0, 1) if self.layout == "nhwc" else y


def read_grey(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    return img


def square_geometry(h, w):
    """Side of the centred square padding and the top/left padding."""
    d = max(h, w)
    return d, (d - h) // 2, (d - w) // 2


def pad_square(a, value):
    h, w = a.shape[:2]
    d, top, left = square_geometry(h, w)
    if d == h == w:
        return a
    return cv2.copyMakeBorder(a, top, d - h - top, left, d - w - left, cv2.BORDER_CONSTANT,
                              value=value)


def field_window(grey, size):
    """The robust window: percentiles of the field of the image area-reduced to the model grid
    (cells wholly inside the image only, so padding never counts), without the field's lowest
    and highest values (collimation, saturation, burnt-in text)."""
    h, w = grey.shape
    d, top, left = square_geometry(h, w)
    grid = cv2.resize(pad_square(grey, 0.0), (size, size),
                      interpolation=cv2.INTER_AREA)
    cell = d / size
    r0, r1 = int(np.ceil(top / cell - 1e-9)), int(np.floor((top + h) / cell + 1e-9))
    c0, c1 = int(np.ceil(left / cell - 1e-9)), int(np.floor((left + w) / cell + 1e-9))
    cells = grid[r0:r1, c0:c1] if r1 > r0 and c1 > c0 else grid
    my, mx = int(cells.shape[0] * FIELD_MARGIN), int(cells.shape[1] * FIELD_MARGIN)
    v = cells[my:cells.shape[0] - my, mx:cells.shape[1] - mx].ravel()
    kept = v[(v != v.min()) & (v != v.max())]
    lo, hi = np.percentile(kept if kept.size else v, PERCENTILES)
    if not lo < hi:
        raise ValueError("the robust window is empty (a constant image?)")
    return float(lo), float(hi)


def preprocess(grey, size, lo, hi):
    """Model input (S, S) in [-1, 1] and the full-size grey in the window, in [0, 1]."""
    unit = (grey - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    np.clip(unit, 0.0, 1.0, out=unit)
    # The mean of 2t - 1 is 2 mean(t) - 1, and padding (-1) is t = 0: reduce t, then scale.
    small = cv2.resize(pad_square(unit, 0.0), (size, size), interpolation=cv2.INTER_AREA)
    return small * 2.0 - 1.0, unit


def to_original(a, h, w, interpolation):
    """A model-grid array back onto the original image (the padded square, cropped)."""
    d, top, left = square_geometry(h, w)
    big = cv2.resize(a, (d, d), interpolation=interpolation)
    return big[top:top + h, left:left + w]


def labels_of(seg):
    """0 background, 1 right lung, 2 left lung, 3 heart: the largest positive channel (ties to
    the lower channel, as argmax does)."""
    best = seg.argmax(axis=0)
    return np.where(seg.max(axis=0) > 0, np.array([3, 2, 1], np.uint8)[best], 0).astype(np.uint8)


def bone_suppressed(img, grey, x, y, lo, hi):
    """Residual transfer: original - upsample(model input - model output), the difference
    taken in the network window and returned on the input's own scale."""
    h, w = img.shape
    change = (x - y[3:6].mean(axis=0)) * np.float32((hi - lo) / 2.0)    # in input values
    up = to_original(change, h, w, cv2.INTER_LINEAR)
    white = 255.0 if img.dtype == np.uint8 else 65535.0
    out = np.clip(grey - up, 0.0, white)
    out += 0.5                                                          # round half up
    return out.astype(img.dtype)


def luts(palette_bgr):
    """256-entry tables indexed by label (cv2.LUT; a numpy gather of 4 M labels is ~7x
    slower): the segmentation colour, the overlay's grey weight and its added colour by
    channel."""
    colour = np.zeros((256, 1, 3), np.uint8)
    colour[:4, 0] = palette_bgr
    keep = np.ones(256, np.float32)
    keep[1:4] = (255.0 - ALPHA) / 255.0
    add = np.zeros((3, 256), np.float32)
    add[:, 1:4] = ALPHA * palette_bgr[1:].T.astype(np.float32) / 255.0
    return colour, keep, add


def segmentation_bgr(labels, colour):
    return cv2.LUT(cv2.merge([labels] * 3), colour)


def overlay_bgr(unit, labels, keep, add):
    """Organ colours alpha-blended over the radiograph in the network window. The saturating
    conversion to 8 bits rounds to nearest (cxrmt adds 0.5 and truncates: the same but at
    exact ties); one plane at a time keeps the float temporaries at 16 MB."""
    base = (unit * np.float32(255.0)) * cv2.LUT(labels, keep)
    return cv2.merge([cv2.add(base, cv2.LUT(labels, add[c]), dtype=cv2.CV_8U) for c in range(3)])


def extent(any_along):
    idx = np.flatnonzero(any_along)
    return int(idx[-1] - idx[0] + 1) if idx.size else 0


def measures(masks_small, h, w):
    """Area, height and width of each organ at the original size, from the model-grid masks
    (each grid cell covers a known number of original rows and columns)."""
    d, top, left = square_geometry(h, w)
    s = masks_small.shape[-1]
    rows = ((2 * (np.arange(h) + top) + 1) * s) // (2 * d)     # nearest grid row of each row
    cols = ((2 * (np.arange(w) + left) + 1) * s) // (2 * d)
    nr, nc = np.bincount(rows, minlength=s), np.bincount(cols, minlength=s)
    out = {}
    for organ, m in zip(ORGANS, masks_small):
        out[organ] = {"area_px": int(nr @ m.astype(np.int64) @ nc),
                      "height_px": extent(m.any(axis=1)[rows]),
                      "width_px": extent(m.any(axis=0)[cols])}
    heart = extent(masks_small[0].any(axis=0)[cols])
    lungs = extent((masks_small[1] | masks_small[2]).any(axis=0)[cols])
    return out, (round(heart / lungs, 4) if heart and lungs else None)


def process(model, path):
    """One radiograph -> {file suffix: array or dict} and timings."""
    t0 = time.perf_counter()
    img = read_grey(path)
    t1 = time.perf_counter()
    grey = img.astype(np.float32)                  # converted once, used three times
    lo, hi = field_window(grey, model.size)
    x, unit = preprocess(grey, model.size, lo, hi)
    t2 = time.perf_counter()
    y = model.run(x)
    t3 = time.perf_counter()
    h, w = img.shape
    labels = to_original(labels_of(y[:3]), h, w, cv2.INTER_NEAREST_EXACT)
    organs, ctr = measures(y[:3] > 0, h, w)
    colour, keep, add = model.luts
    out = {"_bse.png": bone_suppressed(img, grey, x, y, lo, hi),
           "_seg.png": segmentation_bgr(labels, colour),
           "_overlay.png": overlay_bgr(unit, labels, keep, add)}
    t4 = time.perf_counter()
    ms = lambda a, b: round((b - a) * 1e3, 2)   # noqa: E731
    out[".json"] = {"input": {"path": os.path.abspath(path), "height": h, "width": w,
                              "dtype": str(img.dtype)},
                    "window": {"lo": lo, "hi": hi},
                    "timings_ms": {"read": ms(t0, t1), "preprocess": ms(t1, t2),
                                   "inference": ms(t2, t3), "decode": ms(t3, t4)},
                    "organs": organs, "cardiothoracic_ratio": ctr}
    return out


def write(stem, out_dir, item):
    suffix, data = item
    path = os.path.join(out_dir, stem + suffix)
    if suffix == ".json":
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
    elif not cv2.imwrite(path, data):
        raise OSError(f"{path}: PNG encoding failed")


def inputs(in_dir):
    names = sorted(os.listdir(in_dir))
    return [os.path.join(in_dir, n) for n in names if n.lower().endswith(SUFFIXES)
            and not any(m in os.path.splitext(n)[0] for m in OWN_OUTPUTS)]


def run_folder(model, files, out_dir, writers=2):
    """Compute image i + 1 while two threads encode and write image i (cv2.imwrite releases
    the GIL); at most one image's outputs wait, so memory stays bounded."""
    os.makedirs(out_dir, exist_ok=True)
    pending = []
    with ThreadPoolExecutor(writers) as pool:
        for path in files:
            out = process(model, path)
            for f in pending:
                f.result()
            stem = os.path.splitext(os.path.basename(path))[0]
            # The bone image (slowest to encode) goes first: one thread takes it while the
            # other encodes the segmentation and then the overlay.
            pending = [pool.submit(write, stem, out_dir, item) for item in out.items()]
        for f in pending:
            f.result()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("in_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--model", required=True)
    args = ap.parse_args(argv)
    files = inputs(args.in_dir)
    if not files:
        sys.exit(f"{args.in_dir}: no PNG inputs")
    run_folder(Model(args.model), files, args.out_dir)


if __name__ == "__main__":
    main()
