"""`cxrmt infer` end to end with a closed-form ONNX model: names, sizes, bit depths, JSON,
overlay colours, overwrite protection, bad inputs among good ones, no partial files."""

import json
import os

import cv2
import numpy as np
import pytest

from cxrmt.cli import main
from cxrmt.io.writers import write_png
from reference import PALETTE
from test_io_dicom import make_dicom
from test_runtime_fixtures import affine_model, chest

SIZE = 32


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(affine_model(tmp_path_factory.mktemp("m") / "mt.onnx", SIZE, "nchw", "mt"))


@pytest.fixture()
def inputs(tmp_path):
    """An 8-bit PNG, a 16-bit PNG (non-square), a JSRT .IMG and a DICOM with spacing."""
    d = tmp_path / "in"
    d.mkdir()
    write_png(d / "eight.png", (chest(90, 70) >> 4).astype(np.uint8))
    write_png(d / "sixteen.png", (chest(64, 100, seed=1).astype(np.uint32) * 16).astype(np.uint16))
    (4095 - chest(2048, 2048, seed=2)).astype(">u2").tofile(d / "JPCLN001.IMG")  # raw polarity
    from pydicom.uid import generate_uid
    make_dicom(str(d / "scan.dcm"), chest(80, 60, seed=3), PixelSpacing=[0.2, 0.3],
               StudyInstanceUID=generate_uid(), SeriesInstanceUID=generate_uid(),
               PatientID="P1", PatientName="Doe^Jane")
    return d


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def run(*args):
    return main(["infer", *map(str, args), "--quiet"])


def test_every_output_named_sized_and_typed(model, inputs, tmp_path):
    out = tmp_path / "out"
    assert run(inputs, "--out", out, "--model", model, "--masks") == 0
    expect = {"eight": ((90, 70), np.uint8), "sixteen": ((64, 100), np.uint16),
              "JPCLN001": ((2048, 2048), np.uint16), "scan": ((80, 60), np.uint16)}
    names = {f"{s}{x}" for s in expect for x in ("_bse.png", "_seg.png", "_overlay.png", ".json",
                                                "_mask_right_lung.png", "_mask_left_lung.png",
                                                "_mask_heart.png")}
    assert set(os.listdir(out)) == names
    for stem, (shape, dtype) in expect.items():
        bse = read(out / f"{stem}_bse.png")
        assert bse.shape == shape and bse.dtype == dtype, stem
        for kind in ("seg", "overlay"):
            assert read(out / f"{stem}_{kind}.png").shape == shape + (3,)
        for organ in ("right_lung", "left_lung", "heart"):
            m = read(out / f"{stem}_mask_{organ}.png")
            assert m.shape == shape and set(np.unique(m)) <= {0, 255}
    # 12-bit JSRT keeps its scale; the model's bone channels are the identity, so the
    # bone-suppressed image is the input itself (residual transfer, within one grey level).
    img = read(inputs / "eight.png")
    assert np.abs(read(out / "eight_bse.png").astype(int) - img).max() <= 1
    assert read(out / "JPCLN001_bse.png").max() <= 4095


def test_json_measures_agree_with_the_mask_files(model, inputs, tmp_path):
    out = tmp_path / "out"
    assert run(inputs / "scan.dcm", inputs / "eight.png", "--out", out, "--model", model,
               "--masks") == 0
    rec = json.loads((out / "scan.json").read_text())
    # --backend auto, two inputs: fewer than AUTO_MIN_IMAGES, so the suffix's own backend
    assert rec["model"]["backend"] == "onnxruntime" and rec["model"]["size"] == SIZE
    assert rec["input"]["spacing_mm"] == [0.2, 0.3] and rec["input"]["height"] == 80
    assert {"read", "preprocess", "inference", "decode", "write", "total"} <= set(
        rec["timings_ms"])
    masks = {o: read(out / f"scan_mask_{o}.png") > 0 for o in ("right_lung", "left_lung", "heart")}
    for organ, m in masks.items():
        got = rec["organs"][organ]
        assert got["area_px"] == int(m.sum())
        assert got["area_mm2"] == pytest.approx(m.sum() * 0.06, abs=0.01)
        rows = np.flatnonzero(m.any(1))
        assert got["height_px"] == (rows[-1] - rows[0] + 1 if rows.size else 0)
    cols = lambda m: np.flatnonzero(m.any(0))                         # noqa: E731
    heart, lungs = cols(masks["heart"]), cols(masks["right_lung"] | masks["left_lung"])
    ctr = (heart[-1] - heart[0] + 1) / (lungs[-1] - lungs[0] + 1)
    assert rec["cardiothoracic_ratio"] == pytest.approx(ctr, abs=1e-4)
    assert json.loads((out / "eight.json").read_text())["input"]["spacing_mm"] is None


def test_overlay_colours_where_the_masks_are(model, inputs, tmp_path):
    out = tmp_path / "out"
    assert run(inputs / "eight.png", "--out", out, "--model", model, "--alpha", "255") == 0
    seg, overlay = read(out / "eight_seg.png")[..., ::-1], read(out / "eight_overlay.png")[..., ::-1]
    labels = np.zeros(seg.shape[:2], int)
    for k in (1, 2, 3):
        labels[(seg == PALETTE[k]).all(-1)] = k
    assert set(np.unique(labels)) == {0, 1, 2, 3}
    organ = labels > 0
    np.testing.assert_array_equal(overlay[organ], PALETTE[labels[organ]])   # alpha 255: colour
    grey = read(inputs / "eight.png")
    np.testing.assert_array_equal(overlay[~organ], np.repeat(grey[~organ, None], 3, 1))


def test_existing_outputs_are_kept_without_force(model, inputs, tmp_path):
    out = tmp_path / "out"
    assert run(inputs / "eight.png", "--out", out, "--model", model) == 0
    (out / "eight_seg.png").write_bytes(b"mine")
    assert run(inputs / "eight.png", "--out", out, "--model", model) == 1
    assert (out / "eight_seg.png").read_bytes() == b"mine"
    assert run(inputs / "eight.png", "--out", out, "--model", model, "--force") == 0
    assert read(out / "eight_seg.png").shape == (90, 70, 3)


def test_a_corrupt_file_is_skipped_and_the_rest_done(model, inputs, tmp_path, capsys):
    (inputs / "broken.png").write_bytes(read_bytes := (inputs / "eight.png").read_bytes()[:60])
    assert len(read_bytes) == 60
    out = tmp_path / "out"
    assert run(inputs, "--out", out, "--model", model) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err
    assert not any(n.startswith("broken") for n in os.listdir(out))
    assert {"eight.json", "sixteen.json", "JPCLN001.json", "scan.json"} <= set(os.listdir(out))


def test_outputs_next_to_inputs_are_not_taken_as_inputs(model, inputs):
    assert run(inputs / "eight.png", "--model", model) == 0
    assert (inputs / "eight_bse.png").exists()
    assert run(str(inputs / "*.png"), "--model", model, "--force") == 0
    assert not (inputs / "eight_bse_bse.png").exists()


def test_a_failure_while_writing_leaves_nothing(model, inputs, tmp_path, monkeypatch):
    import cxrmt.infer.run as infer_run

    calls = []

    def fail_on_third(pixels, path="<memory>", **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return orig(pixels, path, **kw)

    orig = infer_run.encode_png
    monkeypatch.setattr(infer_run, "encode_png", fail_on_third)
    out = tmp_path / "out"
    assert run(inputs / "eight.png", "--out", out, "--model", model) == 130
    assert not out.exists() or os.listdir(out) == []


def test_bad_arguments(model, inputs, tmp_path, capsys):
    assert run(inputs / "eight.png", "--model", model, "--backend", "tensorrt") == 1
    assert "--backend tensorrt runs .engine/.plan" in capsys.readouterr().err
    assert run(tmp_path / "nothing.png", "--model", model) == 1
    assert "nothing.png" in capsys.readouterr().err
    for option, value in (("--alpha", "300"), ("--alpha", "x"), ("--percentile", "-1")):
        with pytest.raises(SystemExit) as exit_:   # a usage error, like argparse's own
            run(inputs / "eight.png", "--model", model, option, value, "99")
        assert exit_.value.code == 2 and option in capsys.readouterr().err


def test_dicom_in_dicom_out(model, inputs, tmp_path):
    """The DICOM input gets a Secondary Capture and a SEG in its study; a PNG gets none."""
    pydicom = pytest.importorskip("pydicom")
    pytest.importorskip("highdicom")
    out = tmp_path / "out"
    assert run(inputs / "scan.dcm", inputs / "eight.png", "--out", out, "--model", model,
               "--dicom-out", "--masks") == 0
    src = pydicom.dcmread(inputs / "scan.dcm")
    sc, seg = pydicom.dcmread(out / "scan_bse.dcm"), pydicom.dcmread(out / "scan_seg.dcm")
    assert sc.StudyInstanceUID == seg.StudyInstanceUID == src.StudyInstanceUID
    assert len({sc.SeriesInstanceUID, seg.SeriesInstanceUID, src.SeriesInstanceUID}) == 3
    assert (sc.Rows, sc.Columns) == (seg.Rows, seg.Columns) == (80, 60)
    bse = read(out / "scan_bse.png")
    np.testing.assert_array_equal(sc.pixel_array, bse)   # the PNG and the DICOM agree
    labels = [s.SegmentLabel for s in seg.SegmentSequence]
    assert labels == ["Right lung", "Left lung", "Heart"]
    frames = seg.pixel_array.reshape(-1, 80, 60)
    for item, frame in zip(seg.PerFrameFunctionalGroupsSequence, frames):
        number = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        organ = {1: "right_lung", 2: "left_lung", 3: "heart"}[number]
        np.testing.assert_array_equal(frame > 0, read(out / f"scan_mask_{organ}.png") > 0)
    assert not any(n.startswith("eight") and n.endswith(".dcm") for n in os.listdir(out))
    assert sc.PatientID == seg.PatientID == "P1"


def test_a_dicom_that_cannot_be_derived_leaves_nothing(model, tmp_path, capsys):
    """No study UID: the SEG cannot be written, so none of the input's outputs appear."""
    pytest.importorskip("highdicom")
    make_dicom(str(tmp_path / "bare.dcm"), chest(40, 40))
    out = tmp_path / "out"
    assert run(tmp_path / "bare.dcm", "--out", out, "--model", model, "--dicom-out") == 1
    assert "StudyInstanceUID" in capsys.readouterr().err
    assert not out.exists() or os.listdir(out) == []


def test_two_inputs_with_one_name_do_not_overwrite_each_other(model, inputs, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    write_png(other / "eight.png", np.zeros((50, 40), np.uint8))
    out = tmp_path / "out"
    assert run(inputs / "eight.png", other / "eight.png", "--out", out, "--model", model,
               "--force") == 1
    assert "also an output of another input" in capsys.readouterr().err
    assert read(out / "eight_bse.png").shape == (90, 70)       # the first one's, intact


@pytest.mark.parametrize("flags, mode", [((), "full"), (("--auto-window",), "auto (field percentile 1-99)"),
                                         (("--percentile", 2, 98), "percentile 2-98"),
                                         (("--window", 10, 200), "explicit 10-200"),
                                         (("--full-range",), "full")])
def test_window_options_reach_the_json_and_keep_the_bone_scale(model, inputs, tmp_path, flags,
                                                               mode):
    """Each window option feeds the network that window (recorded in the JSON, checked against
    resolve_window) and the bone-suppressed image still comes back on the input's scale."""
    from cxrmt import kernels

    out = tmp_path / "out"
    assert run(inputs / "eight.png", "--out", out, "--model", model, *flags) == 0
    record = json.loads((out / "eight.json").read_text())
    assert record["model"]["window"] == mode and record["model"]["flip_tta"] is False
    img = read(inputs / "eight.png")
    kw = {"full": dict(window=(0, 255)),
          "auto (field percentile 1-99)": dict(percentile=(1, 99), field=True, size=SIZE),
          "percentile 2-98": dict(percentile=(2, 98)),
          "explicit 10-200": dict(window=(10, 200))}[mode]
    lo, hi = kernels.resolve_window(img, **kw)
    assert (record["window"]["lo"], record["window"]["hi"]) == pytest.approx((lo, hi))
    assert np.abs(read(out / "eight_bse.png").astype(int) - img).max() <= 1


def test_flip_tta_on_a_pointwise_model(model, inputs, tmp_path):
    """The affine test model is pointwise, so mirrored-and-back equals the original output
    except that the lung channels trade places: --flip-tta averages left and right lung and
    leaves the heart and the bone image as they were."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(inputs / "eight.png", "--out", a, "--model", model, "--masks") == 0
    assert run(inputs / "eight.png", "--out", b, "--model", model, "--masks", "--flip-tta") == 0
    assert json.loads((b / "eight.json").read_text())["model"]["flip_tta"] is True
    np.testing.assert_array_equal(read(a / "eight_mask_heart.png"), read(b / "eight_mask_heart.png"))
    # the mirrored pass's lungs come back swapped, so both lung channels become their mean:
    np.testing.assert_array_equal(read(b / "eight_mask_left_lung.png"),
                                  read(b / "eight_mask_right_lung.png"))
    assert (read(a / "eight_mask_left_lung.png") != read(a / "eight_mask_right_lung.png")).any()
    assert np.abs(read(a / "eight_bse.png").astype(int) - read(b / "eight_bse.png")).max() <= 1
