"""The robust network window ("auto"): field percentiles against numpy, invariance to borders,
padding and burnt-in text, and the Predictor following the model's metadata."""

import cv2
import numpy as np
import pytest

from cxrmt import kernels, window
from test_runtime_fixtures import affine_model, chest


def field_window_ref(img, p=(1.0, 99.0), margin=0.05):
    """numpy: cut the margin, drop the field's min and max values, linear percentiles."""
    h, w = img.shape
    my, mx = int(h * margin), int(w * margin)
    f = img[my:h - my, mx:w - mx].astype(np.float64).ravel()
    kept = f[(f != f.min()) & (f != f.max())]
    return tuple(np.percentile(kept if kept.size else f, p))


def body(h=240, w=200, seed=0):
    """A radiograph-like image: dark lungs in a brighter body, 12-bit."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 2600 - 900 * (np.exp(-((xx - 0.3 * w) ** 2 + (yy - 0.45 * h) ** 2) / (0.02 * w * h))
                        + np.exp(-((xx - 0.7 * w) ** 2 + (yy - 0.45 * h) ** 2) / (0.02 * w * h)))
    return np.clip(img + rng.normal(0, 60, (h, w)), 0, 4095).astype(np.uint16)


def with_borders_and_text(img, white):
    out = img.copy()
    h, w = img.shape
    out[:, : w // 5] = 0                      # a black border over a fifth of the width
    out[h - h // 8:] = white                  # white collimation at the bottom
    ink = np.zeros((h, w), np.uint8)
    cv2.putText(ink, "L PORTABLE", (w // 4, h // 6), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    out[ink > 0] = white                      # burnt-in white text
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_field_window_matches_numpy(dtype):
    img = body()
    if dtype == np.uint8:
        img = (img >> 4).astype(np.uint8)
    elif dtype == np.float32:
        img = (img / 4095.0).astype(np.float32)
    white = {np.uint8: 255, np.uint16: 4095, np.float32: 1.0}[dtype]
    img = with_borders_and_text(img, white)
    lo, hi = kernels.resolve_window(img, percentile=(1.0, 99.0), field=True)
    ref = field_window_ref(img)
    np.testing.assert_allclose((lo, hi), ref, rtol=1e-5, atol=1e-6)


def test_field_window_ignores_borders_padding_and_text():
    """The same anatomy gets nearly the same window with or without borders and text, where
    plain percentiles are dragged to the padding and the text."""
    clean = body()
    dirty = with_borders_and_text(clean, 4095)
    a = kernels.resolve_window(clean, percentile=(1.0, 99.0), field=True)
    b = kernels.resolve_window(dirty, percentile=(1.0, 99.0), field=True)
    plain = kernels.resolve_window(dirty, percentile=(1.0, 99.0))
    span = a[1] - a[0]
    assert abs(a[0] - b[0]) < 0.05 * span and abs(a[1] - b[1]) < 0.05 * span, (a, b)
    assert plain[0] == 0 and plain[1] == 4095, plain          # the borders win


def test_field_window_is_invariant_to_how_the_file_was_windowed():
    """A linear re-export (other offset and gain) maps to the same network input."""
    img = body().astype(np.float64)
    a8 = np.clip(img / 16, 0, 255).astype(np.uint8)
    b8 = np.clip(img / 16 * 0.6 + 30, 0, 255).astype(np.uint8)   # a darker, flatter export
    xa, _ = kernels.preprocess(a8, 64, percentile=(1.0, 99.0), field=True)
    xb, _ = kernels.preprocess(b8, 64, percentile=(1.0, 99.0), field=True)
    assert np.abs(xa - xb).mean() < 0.03
    fa, _ = kernels.preprocess(a8, 64)
    fb, _ = kernels.preprocess(b8, 64)
    assert np.abs(fa - fb).mean() > 0.1                      # the full range does not


def test_field_needs_a_percentile_window_and_a_constant_field_is_refused():
    with pytest.raises(ValueError, match="field: only with a percentile window"):
        kernels.resolve_window(body(), field=True)
    flat = np.full((50, 50), 7, np.uint16)
    flat[:2] = 0
    with pytest.raises(ValueError, match="is empty"):
        kernels.resolve_window(flat, percentile=(1.0, 99.0), field=True)


def test_window_modes():
    assert window.preprocess_args("auto") == {"percentile": (1.0, 99.0), "field": True}
    assert window.preprocess_args("full", white=4095.0) == {"window": (0.0, 4095.0)}
    assert window.preprocess_args("full") == {}
    assert window.preprocess_args((3, 9)) == {"window": (3.0, 9.0)}
    assert window.preprocess_args(None, (2, 98)) == {"percentile": (2, 98)}
    with pytest.raises(ValueError, match="not both"):
        window.preprocess_args((0, 1), (2, 98))
    with pytest.raises(ValueError, match="'auto', 'full'"):
        window.preprocess_args("fancy")


def test_normalise_unit_matches_the_kernels():
    """Training's window (normalise_unit) is the inference window: same (lo, hi), same map."""
    img = (body(64, 64) / 4095.0).astype(np.float32)
    target = np.clip(img - 0.05, 0, 1).astype(np.float32)
    x, y = window.normalise_unit(img, target)
    k, _ = kernels.preprocess(img, 64, percentile=(1.0, 99.0), field=True)
    np.testing.assert_allclose(x, k[0, ..., 0], atol=1e-5)
    lo, hi = field_window_ref(img)
    np.testing.assert_allclose(y, np.clip((target - lo) / (hi - lo) * 2 - 1, -1, 1), atol=1e-5)


def test_predictor_follows_the_model_window(tmp_path):
    from cxrmt.pipeline import Predictor

    auto = affine_model(tmp_path / "auto.onnx", 32, "nchw", "mt", window="auto")
    full = affine_model(tmp_path / "full.onnx", 32, "nchw", "mt", window="full")
    img = with_borders_and_text(chest(90, 70), 4095)
    expect_auto, _ = kernels.preprocess(img, 32, layout="nchw", percentile=(1.0, 99.0),
                                        field=True)
    expect_full, _ = kernels.preprocess(img, 32, layout="nchw", bits_stored=12)
    with Predictor(auto, bits_stored=12) as a, Predictor(full, bits_stored=12) as f, \
            Predictor(auto, bits_stored=12, window="full") as forced:
        assert a.window == "auto" and f.window == "full"
        np.testing.assert_array_equal(a.model_input(img), expect_auto)
        np.testing.assert_array_equal(f.model_input(img), expect_full)
        np.testing.assert_array_equal(forced.model_input(img), expect_full)
        assert a.run(img).window == kernels.resolve_window(img, percentile=(1.0, 99.0),
                                                           field=True, size=32)


def test_field_window_at_model_size_is_the_window_of_the_reduced_image():
    """preprocess to S measures the field window on the image area-reduced to S x S (the cells
    inside the image), as training measures it on its S x S images: numpy reference with
    cv2.INTER_AREA on an image that divides evenly (square, so no padding)."""
    img = with_borders_and_text(body(256, 256), 4095)
    small = cv2.resize(img.astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA)
    ref = field_window_ref(small)
    got = kernels.resolve_window(img, percentile=(1.0, 99.0), field=True, size=64)
    np.testing.assert_allclose(got, ref, rtol=1e-4)
    _, frame = kernels.preprocess(img, 64, percentile=(1.0, 99.0), field=True)
    np.testing.assert_allclose((frame.window_lo, frame.window_hi), ref, rtol=1e-4)
    # a non-square image: only the grid cells fully inside it count (padding excluded)
    wide = img[:192]
    x, f = kernels.preprocess(wide, 64, percentile=(1.0, 99.0), field=True)
    rows = cv2.resize(wide.astype(np.float32), (64, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose((f.window_lo, f.window_hi), field_window_ref(rows), rtol=1e-4)
