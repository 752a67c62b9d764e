"""The qualitative sheet on unlabelled radiographs: did the model find both lungs and the heart,
in the right places? A montage of overlays and bone-suppressed images, and a table.

Found: each organ covers at least MIN_AREA of the image, at least COHERENT of it in one
connected region (scattered specks are not an organ). Placed (PA display: the patient's right
on the image left): right lung centroid left of the image centre, left lung right of it, the
heart's centroid between the two lungs' and not above their centroids by more than 5 % of the
height. A film passes when all three are found and placed.
"""

import os

import cv2
import numpy as np

from cxrmt.contract import ORGANS
from cxrmt.io import read_image
from cxrmt.io.writers import write_png, write_text

MIN_AREA = {"right_lung": 0.02, "left_lung": 0.02, "heart": 0.01}
COHERENT = 0.8
TILE = 220     # montage tile height in pixels


def organ_check(masks: np.ndarray) -> dict:
    """{found_<organ>, area_<organ>, placed, ok} of (3, H, W) masks in channel order."""
    h, w = masks.shape[1:]
    row = {}
    centre = {}
    for i, organ in enumerate(ORGANS):
        m = masks[i] > 0
        row[f"area_{organ}"] = round(float(m.mean()), 4)
        row[f"found_{organ}"] = bool(m.mean() >= MIN_AREA[organ]
                                     and largest_share(m) >= COHERENT)
        ys, xs = np.nonzero(m)
        centre[organ] = (xs.mean() / w, ys.mean() / h) if xs.size else (np.nan, np.nan)
    (rx, ry), (lx, ly), (hx, hy) = centre["right_lung"], centre["left_lung"], centre["heart"]
    row["placed"] = bool(rx < 0.5 < lx and rx < hx < lx and hy > min(ry, ly) - 0.05)
    row["ok"] = bool(all(row[f"found_{o}"] for o in ORGANS) and row["placed"])
    return row


def largest_share(mask: np.ndarray) -> float:
    """The share of a mask's pixels in its largest 8-connected region (0 for an empty mask)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n < 2:
        return 0.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    return float(areas.max() / areas.sum())


def tile(result) -> np.ndarray:
    """Overlay beside the bone-suppressed image (what the model has of them), TILE pixels high
    (RGB uint8)."""
    parts = [result.overlay] if result.overlay is not None else []
    if result.bone_suppressed is not None:
        scale = 255.0 / float(np.iinfo(result.bone_suppressed.dtype).max)
        grey = np.clip(result.bone_suppressed.astype(np.float32) * scale, 0, 255).astype(np.uint8)
        parts.append(np.repeat(grey[..., None], 3, axis=-1))
    pair = np.concatenate(parts, axis=1)
    h, w = pair.shape[:2]
    return cv2.resize(pair, (max(1, round(w * TILE / h)), TILE), interpolation=cv2.INTER_AREA)


def montage(tiles: list, labels: list, per_row: int = 4) -> np.ndarray:
    """Tiles in rows with their labels (red when the film failed), on black."""
    width = max(t.shape[1] for t in tiles)
    cells = []
    for t, (text, ok) in zip(tiles, labels):
        cell = np.zeros((TILE + 22, width, 3), np.uint8)
        cell[22:, :t.shape[1]] = t
        cv2.putText(cell, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255) if ok else (255, 60, 60), 1, cv2.LINE_AA)
        cells.append(cell)
    while len(cells) % per_row:
        cells.append(np.zeros_like(cells[0]))
    rows = [np.concatenate(cells[i:i + per_row], axis=1) for i in range(0, len(cells), per_row)]
    return np.concatenate(rows, axis=0)


def run_sheet(predictor, files, out_dir, progress=None) -> list:
    """Run every file; write sheet.png, sheet.csv and sheet.md into out_dir; return the rows."""

    if predictor.info.task == "bse":
        raise ValueError("--sheet checks organs: the model has no segmentation (task bse)")
    rows, tiles, labels = [], [], []
    for i, path in enumerate(files):
        name = os.path.splitext(os.path.basename(path))[0]
        try:
            r = predictor.run(read_image(path))
        except (ValueError, OSError) as exc:    # one unreadable film does not stop the sheet
            rows.append({"id": name, "ok": False, "error": str(exc)})
            continue
        row = {"id": name, **organ_check(r.masks)}
        rows.append(row)
        tiles.append(tile(r))
        labels.append((f"{name} {'ok' if row['ok'] else 'FAIL'}", row["ok"]))
        if progress:
            progress(i + 1, len(files), name)
    os.makedirs(out_dir, exist_ok=True)
    if tiles:
        write_png(os.path.join(out_dir, "sheet.png"), montage(tiles, labels))
    keys = list(dict.fromkeys(k for r in rows for k in r))
    write_text(os.path.join(out_dir, "sheet.csv"),
               "\n".join([",".join(keys)] + [",".join(_cell(r.get(k, "")) for k in keys)
                                             for r in rows]) + "\n")
    write_text(os.path.join(out_dir, "sheet.md"), summary_md(rows))
    return rows


def _cell(v) -> str:
    text = str(v)
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


def summary_md(rows) -> str:
    n = len(rows)
    lines = ["# Unlabelled radiographs", "",
             f"All of both lungs and the heart found and placed: **{sum(r['ok'] for r in rows)} "
             f"of {n}**.", ""]
    for o in ORGANS:
        lines.append(f"- {o} found: {sum(r.get(f'found_{o}', False) for r in rows)} of {n}")
    lines.append(f"- placed (left/right and heart between the lungs): "
                 f"{sum(r.get('placed', False) for r in rows)} of {n}")
    errors = [f"{r['id']} ({r['error']})" for r in rows if "error" in r]
    if errors:
        lines.append("- not processed: " + "; ".join(errors))
    failed = [r["id"] for r in rows if not r["ok"]]
    lines += ["", "Failed: " + (", ".join(failed) if failed else "none"), ""]
    return "\n".join(lines)
