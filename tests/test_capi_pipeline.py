"""The C pipeline (cxrmt_pipeline_* over ONNX Runtime's C API, bound as _core.Pipeline) against
what `cxrmt infer` computes with the Python Predictor: masks, labels, colours and overlay
identical, the bone image within one grey level of bone_like_input's, the measurements of the
JSON, the window; on synthetic images here and, when the shared data is present, real JSRT
radiographs (512², 2048² upsampled as a 12-bit .IMG) and films from other hospitals."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cxrmt.runtime import native

pytestmark = [
    pytest.mark.skipif(not native.engines().get("onnxruntime"),
                       reason="libcxrmt built without the ONNX Runtime engine (CXRMT_ONNXRUNTIME; "
                              "csrc/cmake/get_onnxruntime_headers.sh)"),
    pytest.mark.skipif(native.onnxruntime_library() is None,
                       reason="the onnxruntime wheel (its libonnxruntime.so) is not installed"),
]

from test_runtime_fixtures import affine_model, chest  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
JSRT = SHARED / "jsrt-bse-scr" / "images"
FILMS = SHARED / "real-cxr-unlabelled" / "images"
ALL = {"masks", "labels", "segmentation", "overlay", "bone", "output"}


@pytest.fixture(scope="module")
def shipped():
    from cxrmt.shipped import default_model
    return str(default_model())


@pytest.fixture(scope="module")
def pipelines():
    cache = {}

    def get(model):
        if model not in cache:
            cache[model] = native.open_pipeline(model, device="cpu")
        return cache[model]
    return get


def reference(model, rg, spacing=None, clean=False, window=None, percentile=None, invert=False):
    """What `cxrmt infer` computes for a Radiograph: Predictor with a uint16 bone image brought
    to the input's depth by bone_like_input, and the JSON's measurements."""
    from cxrmt.infer.measure import measurements
    from cxrmt.infer.run import bone_like_input
    from cxrmt.pipeline import DecodeOptions, Predictor, PreprocessOptions

    pre = PreprocessOptions(window=window, percentile=percentile, invert=invert)
    with Predictor(model, preprocess=pre,
                   decode=DecodeOptions(bone_dtype="uint16"), clean=clean, device="cpu",
                   kernel_device="cpu") as p:
        r = p.run(rg, spacing)
    bone = None if r.bone_suppressed is None else bone_like_input(r.bone_suppressed, rg.pixels,
                                                                  rg.white)
    meas = None if r.masks is None else measurements(r.masks, spacing)
    return r, bone, meas


def run_c(pipe, rg, spacing=None, **kw):
    return pipe.run(rg.pixels, white=rg.white, spacing=spacing, outputs=ALL, **kw)


def assert_same(c, ref):
    r, bone, meas = ref
    for name in ("masks", "labels", "segmentation", "overlay"):
        want = getattr(r, name)
        if want is None:
            assert c[name] is None, name
        else:
            np.testing.assert_array_equal(c[name], want, err_msg=name)
    if bone is None:
        assert c["bone_suppressed"] is None
    else:
        assert c["bone_suppressed"].dtype == bone.dtype
        diff = np.abs(c["bone_suppressed"].astype(np.int64) - bone.astype(np.int64))
        assert diff.max() <= 1, diff.max()
    np.testing.assert_allclose(c["output"], r.output, atol=1e-5)
    assert c["window"] == pytest.approx(r.window, rel=1e-6)
    t = c["timings"]
    assert all(t[s] > 0 for s in ("preprocess", "inference", "decode", "total"))
    assert t["total"] >= t["preprocess"] + t["inference"] + t["decode"] - 1e-3
    if meas is not None:
        cm = c["measurements"]
        for organ, m in meas["organs"].items():
            for key, v in m.items():
                tol = 0.006 if key.endswith("mm") or key.endswith("mm2") else 0
                assert cm["organs"][organ][key] == pytest.approx(v, abs=tol), (organ, key)
        if meas["cardiothoracic_ratio"] is None:
            assert cm["cardiothoracic_ratio"] is None
        else:
            assert cm["cardiothoracic_ratio"] == pytest.approx(meas["cardiothoracic_ratio"],
                                                               abs=6e-5)


def radiograph(pixels, white=None):
    from cxrmt.io import Radiograph
    if white is None:
        white = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(pixels.dtype, 1.0)
    return Radiograph(pixels, white, None, "<memory>", {})


# -- synthetic images (always run) ------------------------------------------------------------

@pytest.mark.parametrize("kind", ["u8", "u16", "u12", "f32"])
def test_shipped_model_matches_infer_on_synthetic_images(shipped, pipelines, kind):
    base = chest(180, 140, seed=3)                          # 12-bit, non-square
    pixels, white = {"u8": ((base >> 4).astype(np.uint8), 255.0),
                     "u16": ((base.astype(np.uint32) * 16).astype(np.uint16), 65535.0),
                     "u12": (base, 4095.0),
                     "f32": ((base / 4095.0).astype(np.float32), 1.0)}[kind]
    rg = radiograph(pixels, white)
    assert_same(run_c(pipelines(shipped), rg), reference(shipped, rg))


@pytest.mark.parametrize("window,percentile", [("full", None), ((500.0, 3500.0), None),
                                               (None, (2.0, 98.0)), ("auto", None)])
def test_window_choices_match(shipped, pipelines, window, percentile):
    rg = radiograph(chest(120, 160, seed=5), 4095.0)
    c = run_c(pipelines(shipped), rg, window=window, percentile=percentile)
    assert_same(c, reference(shipped, rg, window=window, percentile=percentile))


def test_strided_and_big_endian_arrays_are_read_right(shipped, pipelines):
    base = chest(100, 90, seed=4)
    want = pipelines(shipped).run(base, white=4095.0)
    wide = np.zeros((100, 180), np.uint16)
    wide[:, ::2] = base
    for image in (base.astype(">u2"), wide[:, ::2], np.asfortranarray(base)):
        got = pipelines(shipped).run(image, white=4095.0)
        for key in ("masks", "labels", "overlay", "bone_suppressed"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_invert_matches(shipped, pipelines):
    rg = radiograph(4095 - chest(150, 130, seed=9), 4095.0)      # raw polarity in
    assert_same(run_c(pipelines(shipped), rg, invert=True), reference(shipped, rg, invert=True))


def test_clean_and_spacing_match(shipped, pipelines):
    rg = radiograph((chest(200, 200, seed=7) >> 4).astype(np.uint8))
    spacing = (0.2, 0.3)
    c = run_c(pipelines(shipped), rg, spacing=spacing, clean=True)
    assert_same(c, reference(shipped, rg, spacing=spacing, clean=True))
    assert c["measurements"]["organs"]["heart"]["area_mm2"] == pytest.approx(
        c["measurements"]["organs"]["heart"]["area_px"] * 0.06)


@pytest.mark.parametrize("layout,task,batch", [("nhwc", "mt", 1), ("nchw", "seg", 1),
                                               ("nhwc", "bse", 1), ("nchw", "mt", 3)])
def test_layouts_tasks_and_static_batches(tmp_path, pipelines, layout, task, batch):
    model = affine_model(tmp_path / f"{task}.onnx", 32, layout, task, batch=batch)
    rg = radiograph(chest(70, 50, seed=1), 4095.0)
    pipe = pipelines(model)
    assert pipe.info["batch"] == batch and pipe.info["layout"] == layout
    assert pipe.info["task"] == task and pipe.info["window"] == "full"
    c = pipe.run(rg.pixels, white=rg.white,
                 outputs={"mt": ALL, "seg": ALL - {"bone"},
                          "bse": {"bone", "output"}}[task])
    assert_same(c, reference(model, rg))


def test_info_reads_the_metadata(shipped, pipelines):
    import json

    from cxrmt.runtime.metadata import read_onnx_metadata

    meta = read_onnx_metadata(shipped)
    info = pipelines(shipped).info
    assert info["size"] == int(meta["cxrmt.size"]) and info["task"] == meta["cxrmt.task"]
    assert info["window"] == meta["cxrmt.window"] and info["precision"] == meta["cxrmt.precision"]
    np.testing.assert_array_equal(info["palette"], json.loads(meta["cxrmt.palette"]))
    assert info["backend"] == "onnxruntime-cpu"


def test_threads_give_the_serial_results(shipped, pipelines):
    pipe = pipelines(shipped)
    images = [(chest(96 + 16 * i, 128, seed=i) >> 4).astype(np.uint8) for i in range(4)]
    serial = [pipe.run(im) for im in images]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda im: pipe.run(im), images * 2))
    for i, got in enumerate(parallel):
        want = serial[i % 4]
        for key in ("masks", "labels", "segmentation", "overlay", "bone_suppressed"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


# -- bad input: clear errors naming the argument ----------------------------------------------

def test_bad_models(tmp_path):
    with pytest.raises(ValueError, match="model_path: .*no such model file"):
        native.open_pipeline(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="model_path: .*unknown model suffix"):
        native.open_pipeline(tmp_path / "m.txt")
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="junk.onnx: cannot open the model"):
        native.open_pipeline(bad)
    model = affine_model(tmp_path / "m.onnx", 16)
    with pytest.raises(RuntimeError, match="cannot load ONNX Runtime"):
        native.open_pipeline(model, library=str(tmp_path / "libnothing.so"))
    with pytest.raises(RuntimeError, match="no CUDA execution provider"):
        native.open_pipeline(model, device="cuda")
    with pytest.raises(ValueError, match="device"):
        native.open_pipeline(model, device="gpu")
    with pytest.raises(ValueError, match="options.threads"):
        native.open_pipeline(model, threads=-1)


@pytest.mark.parametrize("key,value,message", [
    ("window", "wide", "metadata cxrmt.window is 'wide'"),
    ("task", "seg", "task 'seg' needs 3 output channels, the model has 6"),
    ("size", "64", "metadata says size 64, the input is 16"),
    ("layout", "hwc", "metadata cxrmt.layout is 'hwc'"),
    ("palette", "[[0, 0, 0]]", "bad metadata: cxrmt.palette: expected 4 colours"),
    ("palette", "[[0, 0", "bad metadata"),
])
def test_bad_metadata_names_the_model_and_key(tmp_path, key, value, message):
    onnx = pytest.importorskip("onnx")
    path = affine_model(tmp_path / "m.onnx", 16)
    model = onnx.load(path)
    for prop in model.metadata_props:
        if prop.key == "cxrmt." + key:
            prop.value = value
    onnx.save(model, path)
    with pytest.raises(RuntimeError, match="m.onnx: " + message.replace("[", r"\[")):
        native.open_pipeline(path)


def test_bad_run_arguments(tmp_path, pipelines):
    pipe = pipelines(affine_model(tmp_path / "m.onnx", 16))
    img = chest(20, 20)
    cases = [
        (dict(image=np.zeros((2, 3, 4), np.uint8)), "image: expected a 2-D"),
        (dict(image=np.zeros((0, 5), np.uint8)), "image"),
        (dict(image=img.astype(np.float64)), "image: dtype float64"),
        (dict(image=img, spacing=(0.0, 0.2)), "options.spacing_mm"),
        (dict(image=img, spacing=(float("nan"), 0.2)), "options.spacing_mm"),
        (dict(image=img, window=(500.0, 100.0)), "window"),
        (dict(image=img, window="wide"), "window: must be one of"),
        (dict(image=img, window="full", percentile=(1, 99)), "not both"),
        (dict(image=img, outputs={"bones"}), "outputs: unknown output 'bones'"),
        (dict(image=img.astype(np.uint8), bits_stored=12), "bits_stored"),
        (dict(image=img, white=-1.0), "options.white"),
        (dict(image=img, alpha=300), "alpha"),
        (dict(image=img, palette=np.zeros(5, np.uint8)), "palette"),
    ]
    for kwargs, message in cases:
        image = kwargs.pop("image")
        with pytest.raises(ValueError, match=message):
            pipe.run(image, **kwargs)
    seg = pipelines(affine_model(tmp_path / "seg.onnx", 16, task="seg"))
    assert seg.run(img, outputs={"bone"})["bone_suppressed"] is None   # as Predictor: None


def test_nan_input_is_refused(tmp_path, pipelines):
    pipe = pipelines(affine_model(tmp_path / "m.onnx", 16))
    img = chest(20, 20).astype(np.float32) / 4095
    img[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pipe.run(img)


def test_non_finite_output_is_an_error(tmp_path, pipelines):
    """A model whose output is log(x - 2) (NaN everywhere): refused as _check_finite does."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    nodes = [helper.make_node("Sub", ["image", "two"], ["s"]),
             helper.make_node("Log", ["s"], ["l"]),
             helper.make_node("Concat", ["l", "l"], ["output"], axis=1)]
    graph = helper.make_graph(nodes, "nan", [helper.make_tensor_value_info(
        "image", TensorProto.FLOAT, [1, 3, 16, 16])], [helper.make_tensor_value_info(
            "output", TensorProto.FLOAT, [1, 6, 16, 16])], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "nan.onnx"))
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        pipelines(str(tmp_path / "nan.onnx")).run(chest(20, 20))


# -- real radiographs (shared data) -----------------------------------------------------------

def _jsrt_files(n):
    if not JSRT.is_dir():
        pytest.skip(f"shared JSRT data not here ({JSRT})")
    return sorted(JSRT.glob("*.png"))[:n]


def test_real_jsrt_at_512(shipped, pipelines):
    from cxrmt.io import read_image
    for path in _jsrt_files(3):
        rg = read_image(path)
        assert_same(run_c(pipelines(shipped), rg), reference(shipped, rg))


def test_real_jsrt_upsampled_to_a_2048_12_bit_img(shipped, pipelines, tmp_path):
    """A JSRT radiograph at 2048² as a raw 12-bit .IMG (raw polarity, read through cxrmt.io)."""
    import cv2

    from cxrmt.io import read_image
    path = _jsrt_files(1)[0]
    png = read_image(path).pixels.astype(np.float32) / 255.0
    big = cv2.resize(png, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    raw = np.clip(np.rint(big * 4095), 0, 4095).astype(np.uint16)
    img = tmp_path / "JPCLN001.IMG"
    (4095 - raw).astype(">u2").tofile(img)
    rg = read_image(img)
    assert rg.pixels.shape == (2048, 2048) and rg.white == 4095
    c = run_c(pipelines(shipped), rg, clean=True)
    assert_same(c, reference(shipped, rg, clean=True))
    assert c["bone_suppressed"].dtype == np.uint16 and c["bone_suppressed"].max() <= 4095


def test_real_films_from_other_hospitals(shipped, pipelines):
    from cxrmt.io import read_image
    if not FILMS.is_dir():
        pytest.skip(f"shared unlabelled films not here ({FILMS})")
    for path in sorted(FILMS.glob("*.png"))[::15]:
        rg = read_image(path)
        assert_same(run_c(pipelines(shipped), rg), reference(shipped, rg))
