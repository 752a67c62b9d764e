"""Organ measurements from the masks: areas, extents and the cardiothoracic ratio (CTR).

CTR = maximal horizontal cardiac diameter / maximal horizontal thoracic diameter, both taken as
horizontal extents on the PA image: the heart mask's leftmost to rightmost column, and the outer
edge of the right lung to the outer edge of the left lung (the inner thoracic width the lung
fields span). Extents count pixels inclusively (a one-column organ is 1 px wide).
"""

import numpy as np

from cxrmt.contract import ORGANS


def _extent(any_along: np.ndarray):
    """Inclusive extent in pixels of the True entries of a 1-D array (0 when none)."""
    idx = np.flatnonzero(any_along)
    return int(idx[-1] - idx[0] + 1) if idx.size else 0


def organ_measures(mask: np.ndarray, spacing=None) -> dict:
    """Area, height and width of one (H, W) mask, in px and, when spacing (row, col) mm is
    known, in mm / mm²."""
    mask = np.asarray(mask, dtype=bool)
    area = int(np.count_nonzero(mask))
    height, width = _extent(mask.any(axis=1)), _extent(mask.any(axis=0))
    out = {"area_px": area, "height_px": height, "width_px": width}
    if spacing is not None:
        dr, dc = (float(s) for s in spacing)
        out.update(area_mm2=round(area * dr * dc, 2), height_mm=round(height * dr, 2),
                   width_mm=round(width * dc, 2))
    return out


def cardiothoracic_ratio(masks: np.ndarray):
    """CTR from (3, H, W) masks in cxrmt.ORGANS order; None when the heart or both lungs are
    missing."""
    heart = np.asarray(masks[ORGANS.index("heart")], dtype=bool)
    lungs = np.asarray(masks[ORGANS.index("left_lung")], bool) | np.asarray(
        masks[ORGANS.index("right_lung")], bool)
    cardiac, thoracic = _extent(heart.any(axis=0)), _extent(lungs.any(axis=0))
    return round(cardiac / thoracic, 4) if cardiac and thoracic else None


# What mm and mm² mean, by the DICOM attribute the spacing came from.
SPACING_NOTES = {
    "PixelSpacing": "PixelSpacing: in the patient (or as calibrated by the file)",
    "ImagerPixelSpacing": "ImagerPixelSpacing: at the detector plane, not corrected for "
                          "magnification, so mm and mm2 overstate the patient's anatomy",
}


def measurements(masks: np.ndarray, spacing=None, spacing_source=None) -> dict:
    """{"organs": {organ: measures}, "cardiothoracic_ratio": CTR or None}, plus
    "spacing_note" saying what the mm mean when `spacing_source` (the DICOM tag) is known."""
    out = {"organs": {o: organ_measures(masks[i], spacing) for i, o in enumerate(ORGANS)},
           "cardiothoracic_ratio": cardiothoracic_ratio(masks)}
    if spacing is not None and spacing_source in SPACING_NOTES:
        out["spacing_note"] = SPACING_NOTES[spacing_source]
    return out
