"""Organ measurements against hand-computed cases and a brute-force loop."""

import numpy as np
import reference as ref

from cxrmt.contract import ORGANS
from cxrmt.infer.measure import measurements


def brute_extent(mask, axis):
    """Inclusive extent along rows (axis 0) or columns (axis 1) by scanning every pixel."""
    coords = [(r, c)[axis] for r in range(mask.shape[0]) for c in range(mask.shape[1])
              if mask[r, c]]
    return max(coords) - min(coords) + 1 if coords else 0


def test_hand_computed_rectangles():
    masks = np.zeros((3, 20, 30), np.uint8)
    masks[0, 8:15, 12:20] = 1   # heart: 7 rows x 8 cols
    masks[1, 2:18, 16:27] = 1   # left lung (image right): cols 16..26
    masks[2, 3:17, 2:13] = 1    # right lung (image left): cols 2..12
    m = measurements(masks, spacing=(0.5, 0.25))
    heart = m["organs"]["heart"]
    assert heart["area_px"] == 56 and heart["height_px"] == 7 and heart["width_px"] == 8
    assert heart["area_mm2"] == 56 * 0.125 and heart["height_mm"] == 3.5 and heart["width_mm"] == 2
    assert m["cardiothoracic_ratio"] == round(8 / 25, 4)   # heart 8 cols / lungs cols 2..26


def test_matches_brute_force_on_random_blobs(rng):
    for _ in range(5):
        mask = rng.random((17, 23)) < 0.05
        m = measurements(np.stack([mask, mask & False, mask & False]))["organs"]["heart"]
        assert m["area_px"] == int(mask.sum())
        assert m["height_px"] == brute_extent(mask, 0) and m["width_px"] == brute_extent(mask, 1)
        assert "area_mm2" not in m


def test_empty_organs_give_zero_and_no_ratio():
    masks = np.zeros((3, 8, 8), np.uint8)
    m = measurements(masks)
    assert m["organs"]["heart"] == {"area_px": 0, "height_px": 0, "width_px": 0}
    assert m["cardiothoracic_ratio"] is None
    masks[0, 2:4, 2:4] = 1     # a heart but no lungs
    assert measurements(masks)["cardiothoracic_ratio"] is None


def test_json_format_and_rounding_as_before(rng):
    """The dict `cxrmt infer` writes is what the numpy implementation wrote: same keys in the
    same order, mm to 2 decimals, CTR to 4."""
    for spacing in (None, (0.143, 0.139), (0.2, 0.1)):
        masks = (rng.random((3, 31, 45)) < 0.2).astype(np.uint8)
        old = {"organs": {}, "cardiothoracic_ratio": round(ref.cardiothoracic_ratio(masks), 4)}
        for i, organ in enumerate(ORGANS):
            m = ref.organ_measures(masks[i], spacing)
            old["organs"][organ] = {k: round(v, 2) if "mm" in k else v for k, v in m.items()}
        new = measurements(masks, spacing)
        assert new == old
        assert [list(o) for o in new["organs"].values()] == [list(o) for o in old["organs"].values()]


def test_spacing_note_says_when_mm_are_at_the_detector():
    """ImagerPixelSpacing is detector-plane spacing (magnified): the JSON says so; mm² are
    still area_px times the spacing given."""
    masks = np.zeros((3, 10, 10), np.uint8)
    masks[0, 2:5, 3:7] = 1  # heart, 12 px
    detector = measurements(masks, (0.2, 0.1), "ImagerPixelSpacing")
    assert "not corrected for magnification" in detector["spacing_note"]
    assert detector["organs"]["heart"]["area_mm2"] == round(12 * 0.2 * 0.1, 2)
    assert "detector" not in measurements(masks, (0.2, 0.1), "PixelSpacing")["spacing_note"]
    assert "spacing_note" not in measurements(masks, None, "ImagerPixelSpacing")
    assert "spacing_note" not in measurements(masks, (0.2, 0.1))
