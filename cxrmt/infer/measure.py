"""Organ measurements from the masks: areas, extents and the cardiothoracic ratio (CTR).

CTR = maximal horizontal cardiac diameter / maximal horizontal thoracic diameter, both taken as
horizontal extents on the PA image: the heart mask's leftmost to rightmost column, and the outer
edge of the right lung to the outer edge of the left lung (the inner thoracic width the lung
fields span). Extents count pixels inclusively (a one-column organ is 1 px wide).
"""

from cxrmt import kernels
from cxrmt.contract import ORGANS


def _rounded(organ: dict) -> dict:
    """Presentation: mm and mm² to 2 decimals (kernels.measure returns them unrounded)."""
    return {k: round(v, 2) if k.endswith(("_mm", "_mm2")) else v for k, v in organ.items()}


# What mm and mm² mean, by the DICOM attribute the spacing came from.
SPACING_NOTES = {
    "PixelSpacing": "PixelSpacing: in the patient (or as calibrated by the file)",
    "ImagerPixelSpacing": "ImagerPixelSpacing: at the detector plane, not corrected for "
                          "magnification, so mm and mm2 overstate the patient's anatomy",
}


def measurements(masks, spacing=None, spacing_source=None) -> dict:
    """{"organs": {organ: measures}, "cardiothoracic_ratio": CTR or None}, plus
    "spacing_note" saying what the mm mean when `spacing_source` (the DICOM tag) is known."""
    m = kernels.measure(masks, None if spacing is None else tuple(float(s) for s in spacing))
    ctr = m["cardiothoracic_ratio"]
    out = {"organs": {o: _rounded(d) for o, d in zip(ORGANS, m["organs"])},
           "cardiothoracic_ratio": None if ctr is None else round(ctr, 4)}
    if spacing is not None and spacing_source in SPACING_NOTES:
        out["spacing_note"] = SPACING_NOTES[spacing_source]
    return out
