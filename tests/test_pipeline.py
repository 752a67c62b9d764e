"""Predictor end to end against numpy references, thread safety, import hygiene, bad input."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from cxrmt.io.writers import write_png
from cxrmt.pipeline import STAGES, Predictor
from reference import PALETTE, labels_from_channels, nearest_to_original, preprocess_ref
from test_runtime_fixtures import affine_model, affine_reference, chest

SIZE = 32


@pytest.fixture(scope="module")
def mt_model(tmp_path_factory):
    return affine_model(tmp_path_factory.mktemp("m") / "mt.onnx", SIZE, "nchw", "mt")


def _reference(img, lo, hi, task="mt"):
    """Independent decode: area-resized input -> numpy model -> nearest back to H x W."""
    x, _ = preprocess_ref(img, SIZE, lo, hi)                   # (S, S) in [-1, 1]
    y = affine_reference(np.repeat(x[None, None], 3, 1).astype(np.float32), task)[0]
    return x, y


@pytest.mark.parametrize("shape", [(90, 70), (64, 100)])
def test_masks_labels_and_colours_match_numpy(mt_model, shape):
    img = chest(*shape)
    with Predictor(mt_model, bits_stored=12) as p:
        r = p.run(img)
    _, y = _reference(img, 0.0, 4095.0)
    masks_ref = np.stack([nearest_to_original(y[c] > 0, _frame(r, shape)) for c in range(3)])
    disagree = np.mean(r.masks != masks_ref)
    assert 0 < masks_ref.mean() < 1 and disagree < 0.001, disagree   # float32 vs float64 ties
    labels_ref = nearest_to_original(labels_from_channels(y[:3]), _frame(r, shape))
    assert np.mean(r.labels != labels_ref) < 0.005
    assert set(np.unique(r.labels)) == {0, 1, 2, 3}
    np.testing.assert_array_equal(r.segmentation, PALETTE[r.labels])
    assert r.overlay.shape == shape + (3,) and r.bone_suppressed.shape == shape


def _frame(result, shape):
    from types import SimpleNamespace
    h, w = shape
    d = max(h, w)
    return SimpleNamespace(height=h, width=w, pad_top=(d - h) // 2, pad_left=(d - w) // 2)


def test_identity_bone_channels_give_back_the_original(mt_model):
    """Residual transfer: model output == model input on the bone channels -> the original at
    full resolution (no blur, unlike plain upsampling), on the input's own scale."""
    img = chest(200, 160, seed=3) >> 4                        # 8-bit content in uint16
    with Predictor(mt_model, window=(0, 255), bone_dtype="uint16") as p, \
            Predictor(mt_model, window=(0, 255), bone_mode="resize") as q:
        bone, resized = p.run(img).bone_suppressed, q.run(img).bone_suppressed
    np.testing.assert_array_equal(bone, img)                  # full-range uint16 = raw values
    assert np.abs(resized.astype(int) - img.astype(int)).mean() > 1   # resize: blurred


WINDOWS = [dict(window="auto"), dict(window="full"), dict(window=(300.0, 3000.0)),
           dict(percentile=(2.0, 98.0))]


@pytest.mark.parametrize("kind", ["uint8", "uint16-12bit", "float32"])
@pytest.mark.parametrize("win", WINDOWS, ids=lambda w: str(list(w.values())[0]))
def test_bone_image_keeps_the_input_scale_under_every_window(mt_model, kind, win):
    """The bone contract: identity bone channels give back the input exactly, whatever window
    fed the network (no stretch to the window, no clipping at its ends)."""
    base = chest(120, 96, seed=5)                             # 12-bit content
    if kind == "uint8":
        img, white, dtype = (base >> 4).astype(np.uint8), 255.0, "uint8"
    elif kind == "uint16-12bit":
        img, white, dtype = base, 4095.0, "uint16"
    else:
        img, white, dtype = (base / 4095.0).astype(np.float32), 1.0, "uint16"
    if "window" in win and isinstance(win["window"], tuple) and kind != "uint16-12bit":
        win = dict(window=tuple(v * white / 4095.0 for v in win["window"]))
    from cxrmt.io import Radiograph
    with Predictor(mt_model, bone_dtype=dtype, **win) as p:
        r = p.run(Radiograph(img, white))
    lo, hi = r.window
    if win.get("window") != "full":
        assert hi - lo < white * 0.9                          # the network saw a narrower window
    expect = img.astype(np.float64) / white * np.iinfo(np.dtype(dtype)).max
    err = np.abs(r.bone_suppressed.astype(np.float64) - expect)
    assert err.max() <= 1.0, err.max()                        # float32 rounding: <= 1 level
    if kind == "uint8":
        np.testing.assert_array_equal(r.bone_suppressed, img)


def test_paths_radiographs_and_spacing(mt_model, tmp_path):
    img = (chest(80, 60) >> 4).astype(np.uint8)
    write_png(tmp_path / "x.png", img)
    with Predictor(mt_model) as p:
        a = p.run(tmp_path / "x.png", spacing=(0.2, 0.2))
        b = p.run(img)
    np.testing.assert_array_equal(a.masks, b.masks)            # same window: white = 255
    assert a.spacing == (0.2, 0.2) and b.spacing is None
    assert set(a.timings) == set(STAGES) | {"total"}
    assert abs(a.timings["total"] - sum(a.timings[s] for s in STAGES)) < 1e-9


def test_batch_equals_single_and_fills_a_static_batch(tmp_path, mt_model):
    imgs = [chest(70 + 9 * i, 60, seed=i) for i in range(3)]
    b3 = affine_model(tmp_path / "b2.onnx", SIZE, "nhwc", "mt", batch=2)
    with Predictor(mt_model) as p, Predictor(b3) as q:
        singles = [p.run(im) for im in imgs]
        batched = q.run_batch(imgs)
    for s, b in zip(singles, batched):
        np.testing.assert_array_equal(s.masks, b.masks)
        np.testing.assert_array_equal(s.bone_suppressed, b.bone_suppressed)


def test_single_task_models(tmp_path):
    img = chest(50, 50)
    with Predictor(affine_model(tmp_path / "s.onnx", SIZE, task="seg")) as p:
        r = p.run(img)
        assert r.bone_suppressed is None and r.masks.shape == (3, 50, 50)
    with Predictor(affine_model(tmp_path / "b.onnx", SIZE, task="bse")) as p:
        r = p.run(img)
        assert r.masks is None and r.overlay is None and r.bone_suppressed.shape == (50, 50)


def test_concurrent_calls_give_identical_results(mt_model):
    imgs = [chest(60 + 7 * i, 90 - 5 * i, seed=i) for i in range(4)]
    with Predictor(mt_model) as p:
        expected = [p.run(im) for im in imgs]
        got, errors = {}, []

        def work(t):
            try:
                for k in range(3):
                    i = (t + k) % len(imgs)
                    got[t, k] = (i, p.run(imgs[i]))
            except Exception as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(got) == 18
    for i, r in got.values():
        for field in ("masks", "labels", "segmentation", "overlay", "bone_suppressed", "output"):
            np.testing.assert_array_equal(getattr(r, field), getattr(expected[i], field))


def test_bad_inputs_are_explained(mt_model, tmp_path):
    with Predictor(mt_model) as p:
        with pytest.raises(ValueError, match="2-D grey radiograph"):
            p.run(np.zeros((10, 10, 3), np.uint8))
        with pytest.raises(Exception, match="no such file"):
            p.run(tmp_path / "absent.png")
        with pytest.raises(ValueError, match="3 images but 2 spacings"):
            p.run_batch([chest(9, 9)] * 3, [None, None])
    with pytest.raises(FileNotFoundError):
        Predictor(tmp_path / "absent.onnx")
    with pytest.raises(ValueError, match="unknown model type"):
        Predictor(tmp_path / "model.pth")


def test_nan_output_is_reported_not_decoded(tmp_path):
    onnx = pytest.importorskip("onnx")
    path = affine_model(tmp_path / "m.onnx", SIZE)
    model = onnx.load(path)
    for init in model.graph.initializer:
        if init.name == "w_id":
            init.CopyFrom(onnx.numpy_helper.from_array(
                np.full((3, 3, 1, 1), np.nan, np.float32), "w_id"))
    onnx.save(model, path)
    with Predictor(path) as p, pytest.raises(FloatingPointError, match="NaN"):
        p.run(chest(40, 40))


def test_onnx_inference_imports_no_tensorflow_or_tensorrt(mt_model, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import cxrmt, cxrmt.cli
        from cxrmt.pipeline import Predictor
        r = Predictor({mt_model!r}).run(np.full((40, 30), 900, np.uint16))
        assert r.masks is not None
        heavy = sorted(m for m in sys.modules
                       if m.split('.')[0] in ('tensorflow', 'tensorrt', 'keras', 'tf2onnx'))
        print(heavy)
        sys.exit(1 if heavy else 0)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stdout + out.stderr


def test_palette_comes_from_the_caller_or_the_model(mt_model):
    img = chest(60, 60, seed=2)
    custom = np.array([[1, 2, 3], [10, 20, 30], [40, 50, 60], [70, 80, 90]], np.uint8)
    with Predictor(mt_model, palette=custom, alpha=255, bits_stored=12) as p:
        r = p.run(img)
    np.testing.assert_array_equal(r.segmentation, custom[r.labels])
    organ = r.labels > 0
    np.testing.assert_array_equal(r.overlay[organ], custom[r.labels[organ]])  # opaque fill


def test_relabel_follows_cleaned_masks():
    """Hand case: a removed speck of right lung turns background, a filled hole in the heart
    takes the heart's label, untouched pixels keep theirs."""
    from cxrmt.pipeline import relabel

    labels = np.array([[1, 0, 3, 3],
                       [0, 0, 3, 0],
                       [2, 2, 3, 3]], np.uint8)
    masks = np.zeros((3, 3, 4), np.uint8)           # heart, left lung, right lung
    masks[0] = [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]   # hole at (1, 3) filled
    masks[1] = [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]]
    # right lung speck at (0, 0) removed by cleanup
    expect = np.array([[0, 0, 3, 3],
                       [0, 0, 3, 3],
                       [2, 2, 3, 3]], np.uint8)
    np.testing.assert_array_equal(relabel(labels, masks), expect)


def test_clean_keeps_one_region_per_organ(mt_model):
    import cv2

    img = chest(120, 100, seed=5)
    with Predictor(mt_model, bits_stored=12, clean=True) as p:
        r = p.run(img)
    for c in range(3):
        n, _ = cv2.connectedComponents(r.masks[c].astype(np.uint8), connectivity=8)
        assert n - 1 <= 1
    for label, c in ((1, 2), (2, 1), (3, 0)):
        assert not ((r.labels == label) & (r.masks[c] == 0)).any()


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_flip_average_by_hand(layout):
    """Mirror back the flipped output and swap its lung channels before averaging."""
    from types import SimpleNamespace

    from cxrmt.pipeline import flip_average

    rng = np.random.default_rng(0)
    y = rng.normal(size=(1, 4, 5, 6)).astype(np.float32)          # NHWC reference
    yf = rng.normal(size=(1, 4, 5, 6)).astype(np.float32)
    back = yf[:, :, ::-1, :][..., [0, 2, 1, 3, 4, 5]]
    expect = (y + back) / 2
    info = SimpleNamespace(layout=layout, task="mt")
    if layout == "nchw":
        got = flip_average(y.transpose(0, 3, 1, 2), yf.transpose(0, 3, 1, 2), info)
        got = got.transpose(0, 2, 3, 1)
    else:
        got = flip_average(y, yf, info)
    np.testing.assert_allclose(got, expect, rtol=1e-6)


def test_grouped_options_are_the_flat_keywords(mt_model):
    """The option dataclasses (mirrors of the C structs) and the flat keywords configure the
    same run; mixing both for one group, or a wrong type, is refused."""
    from cxrmt.pipeline import DecodeOptions, OverlayOptions, PreprocessOptions
    img = chest(60, 50)
    with Predictor(mt_model, window="full", bits_stored=12, alpha=40, overlay_mode="outline",
                   bone_dtype="uint8") as flat, \
         Predictor(mt_model, preprocess=PreprocessOptions(window="full", bits_stored=12),
                   decode=DecodeOptions(bone_dtype="uint8"),
                   overlay=OverlayOptions(alpha=40, mode="outline")) as grouped:
        a, b = flat.run(img), grouped.run(img)
    for name in ("masks", "labels", "segmentation", "overlay", "bone_suppressed"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.bone_suppressed.dtype == np.uint8 and a.window == b.window
    with pytest.raises(TypeError, match="alpha"):
        Predictor(mt_model, overlay=OverlayOptions(), alpha=3)
    with pytest.raises(TypeError, match="PreprocessOptions"):
        Predictor(mt_model, preprocess={"window": "full"})


def test_result_bone_is_the_old_name_of_bone_suppressed(mt_model):
    with Predictor(mt_model) as p:
        r = p.run(chest(40, 40))
    with pytest.warns(DeprecationWarning, match="bone_suppressed"):
        assert r.bone is r.bone_suppressed
