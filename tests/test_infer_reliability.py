"""What a careful user feeds `cxrmt infer` that used to crash it, lose data or lie: broken
models, interrupted runs (kill, SIGTERM), stale temporaries, two runs on one folder, outputs that
cannot be written."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cxrmt.cli import main
from cxrmt.io import locks, writers
from cxrmt.io.inputs import expand
from cxrmt.io.writers import TMP_MARK, write_png
from test_infer import SIZE, model  # noqa: F401  (the closed-form ONNX model fixture)
from test_runtime_fixtures import affine_model, chest


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        write_png(d / f"case{i}.png", (chest(60, 50, seed=i) >> 4).astype(np.uint8))
    return d


def infer(*args):
    return main(["infer", *map(str, args), "--quiet"])


def leftovers(folder) -> list:
    return sorted(n for n in os.listdir(folder) if TMP_MARK in n or locks.LOCK_MARK in n)


# -- broken models -------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"not a model at all", "truncated"])
def test_a_broken_model_is_one_line_naming_the_file(model, folder, tmp_path, capsys, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(open(model, "rb").read()[:200] if content == "truncated" else content)
    assert infer(folder / "case0.png", "--model", bad, "--out", tmp_path / "o") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "Traceback" not in err[0], err


def test_a_model_of_the_wrong_shape_names_the_file(tmp_path, folder, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128, 128, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 128, 128, 1])])
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert infer(folder / "case0.png", "--model", path, "--out", tmp_path / "o",
                 "--backend", "onnxruntime") == 1
    err = capsys.readouterr().err
    assert f"{path}: cannot tell the layout" in err


# -- the output set: JSON last, fsync, incomplete sets redone ------------------------------------
def test_the_json_is_renamed_last_and_every_file_is_synced(model, folder, tmp_path, monkeypatch):
    replaced, synced = [], []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(writers.os, "replace", lambda a, b: (replaced.append(b), real_replace(a, b)))
    monkeypatch.setattr(writers.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    out = tmp_path / "out"
    assert infer(folder / "case0.png", "--model", model, "--out", out, "--masks") == 0
    names = [os.path.basename(p) for p in replaced if "case0" in os.path.basename(p)]
    assert len(names) == 7 and names[-1] == "case0.json", names
    assert len(synced) >= 7   # each staged file (and the folder) reaches the disk first


def test_a_set_without_its_json_is_redone_without_force(model, folder, tmp_path):
    out = tmp_path / "out"
    assert infer(folder, "--model", model, "--out", out) == 0
    os.unlink(out / "case1.json")            # a kill between the images and the JSON, formerly
    (out / "case2_seg.png").unlink()          # or between two images
    before = (out / "case0.json").stat().st_mtime_ns
    assert infer(folder, "--model", model, "--out", out) == 1   # case0 is complete: "exists"
    assert (out / "case1.json").exists() and (out / "case2_seg.png").exists()
    assert (out / "case0.json").stat().st_mtime_ns == before
    rec = json.loads((out / "case1.json").read_text())
    assert set(rec["outputs"].values()) <= set(os.listdir(out))


def test_inputs_are_read_ahead_on_their_own_thread_but_never_complete_ones(model, folder,
                                                                          tmp_path, monkeypatch):
    """Every input is read once, on the read-ahead thread, the first before the model is open;
    a rerun without --force reads only the set with a file missing."""
    from cxrmt import pipeline
    from cxrmt.infer import run as infer_run

    reads, opened, started = [], [], []
    real_read, real_init = infer_run.read_input, pipeline.Predictor.__init__
    real_start = infer_run.ReadAhead.start

    def read(path, opts):
        reads.append((os.path.basename(path), threading.current_thread().name))
        return real_read(path, opts)

    def start(self, i, task=None):
        started.append((i, len(opened)))
        real_start(self, i, task)

    def init(self, *a, **k):
        opened.append(True)
        real_init(self, *a, **k)

    monkeypatch.setattr(infer_run, "read_input", read)
    monkeypatch.setattr(infer_run.ReadAhead, "start", start)
    monkeypatch.setattr(pipeline.Predictor, "__init__", init)
    out = tmp_path / "out"
    assert infer(folder, "--model", model, "--out", out) == 0
    assert sorted(r[0] for r in reads) == ["case0.png", "case1.png", "case2.png"]
    assert all(r[1].startswith("cxrmt-read") for r in reads)
    assert started[0] == (0, 0)   # the first input is asked for before the model opens
    reads.clear()
    (out / "case1_overlay.png").unlink()
    assert infer(folder, "--model", model, "--out", out) == 1   # case0 and case2 exist
    assert [r[0] for r in reads] == ["case1.png"]


def test_a_failing_write_leaves_no_file_of_the_set(model, folder, tmp_path, monkeypatch):
    from cxrmt.infer import run as infer_run
    real = infer_run._record

    def broken(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(infer_run, "_record", broken)
    out = tmp_path / "out"
    assert infer(folder / "case0.png", "--model", model, "--out", out) == 1
    assert os.listdir(out) == []
    monkeypatch.setattr(infer_run, "_record", real)


# -- temporaries ---------------------------------------------------------------------------------
def test_temporaries_are_hidden_marked_and_never_inputs(tmp_path):
    tmp = writers.temp_path(tmp_path / "x_bse.png")
    name = os.path.basename(tmp)
    assert name.startswith(".") and TMP_MARK in name and not name.endswith(".png")
    write_png(tmp_path / "real.png", np.zeros((4, 4), np.uint8))
    write_png(tmp_path / ".hidden.png", np.zeros((4, 4), np.uint8))
    files, _ = expand([str(tmp_path)])
    assert [os.path.basename(f) for f in files] == ["real.png"]


def test_stale_temporaries_are_swept_at_start_fresh_ones_kept(model, folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale, fresh = out / f".case0_bse.png.abc{TMP_MARK}", out / f".other.png.def{TMP_MARK}"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    old = time.time() - 2 * writers.STALE_SECONDS
    os.utime(stale, (old, old))
    (out / "keep.txt").write_text("mine")
    os.utime(out / "keep.txt", (old, old))
    assert infer(folder / "case0.png", "--model", model, "--out", out) == 0
    assert not stale.exists() and fresh.exists() and (out / "keep.txt").exists()


# -- two runs on one folder ----------------------------------------------------------------------
def test_a_set_locked_by_another_run_is_skipped_with_a_message(model, folder, tmp_path, capsys):
    out = tmp_path / "out"
    lock = locks.lock_path(str(out), "case1")
    fd = locks.acquire(lock)    # "another run" is writing case1
    try:
        assert infer(folder, "--model", model, "--out", out) == 1
    finally:
        locks.release(lock, fd)
    err = capsys.readouterr().err
    assert "case1.png" in err and "another cxrmt run" in err
    assert (out / "case0.json").exists() and (out / "case2.json").exists()
    assert not (out / "case1.json").exists() and leftovers(out) == []


def test_locks_exclude_each_other_and_are_removed(tmp_path):
    path = str(tmp_path / ".a.cxrmt-lock")
    fd = locks.acquire(path)
    code = ("import sys; from cxrmt.io import locks\n"
            "try:\n    locks.acquire(sys.argv[1])\nexcept locks.Busy:\n    sys.exit(3)\n")
    assert subprocess.run([sys.executable, "-c", code, path], cwd=tmp_path).returncode == 3
    locks.release(path, fd)
    assert not os.path.exists(path)
    assert subprocess.run([sys.executable, "-c", code, path], cwd=tmp_path).returncode == 0


# -- outputs that cannot be written: refused before any inference --------------------------------
def test_out_that_cannot_be_a_folder_fails_before_the_model_loads(folder, tmp_path, capsys):
    regular = tmp_path / "results.txt"
    regular.write_text("x")
    missing_model = tmp_path / "no-such-model.onnx"   # never opened: the check comes first
    for out in (regular, regular / "sub"):
        assert infer(folder, "--model", missing_model, "--out", out) == 1
        err = capsys.readouterr().err
        assert str(out) in err and "no-such-model" not in err, err


# -- SIGTERM -------------------------------------------------------------------------------------
@pytest.mark.parametrize("signals, code", [((signal.SIGTERM,), 143),
                                           ((signal.SIGINT, signal.SIGINT), 130)])
def test_sigterm_finishes_or_removes_every_set_and_exits_143(tmp_path, signals, code):
    """A kill (container stop, scheduler) is handled like Ctrl-C, and a second Ctrl-C does not
    break the clean-up of the first: no traceback, no temporary, every output set complete
    (with its JSON) or absent."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        write_png(src / f"c{i:02d}.png", (chest(768, 768, seed=i) >> 4).astype(np.uint8))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cxrmt.cli", "infer", str(src), "--out",
                             str(out), "--masks"], cwd=tmp_path, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(
            n.endswith(".json") for n in os.listdir(out))):
        time.sleep(0.05)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.05)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == code, err
    name = signal.Signals(signals[0]).name
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert f"interrupted ({name})" in err, err
    names = os.listdir(out)
    assert leftovers(out) == []
    stems = {n.split("_")[0].split(".")[0] for n in names}
    done = [s for s in stems if f"{s}.json" in names]
    assert done and len(done) < 40
    for s in stems:
        assert f"{s}.json" in names, f"{s}: a set without its JSON"
        json_rec = json.loads((out / f"{s}.json").read_text())
        assert set(json_rec["outputs"].values()) <= set(names)


# -- oversized and altered inputs, through the command -------------------------------------------
def test_a_png_bomb_is_one_refused_input_among_good_ones(model, folder, tmp_path, capsys):
    from test_io_safety import bomb_png
    bomb_png(folder / "bomb.png", 60000)
    out = tmp_path / "out"
    assert infer(folder, "--model", model, "--out", out) == 1
    err = capsys.readouterr().err
    assert "bomb.png" in err and "--max-pixels" in err and "Traceback" not in err
    assert {"case0.json", "case1.json", "case2.json"} <= set(os.listdir(out))
    assert not any(n.startswith("bomb") for n in os.listdir(out))
    assert infer(folder / "case0.png", "--model", model, "--out", tmp_path / "o2",
                 "--max-pixels", "100") == 1   # 60 x 50 = 3000 pixels: above this limit


def test_reader_warnings_are_one_line_per_file_and_strict_refuses(model, tmp_path, capsys):
    src = tmp_path / "colour"
    src.mkdir()
    for i in range(2):
        rgb = np.stack([chest(40, 40, seed=i) >> 4] * 3, -1).astype(np.uint8)
        rgb[..., 0] //= 2   # a real colour image
        write_png(src / f"c{i}.png", rgb)
    assert main(["infer", str(src), "--model", model, "--out", str(tmp_path / "a")]) == 0
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "warning:" in ln]
    assert len(warned) == 2 and all(ln.startswith("cxrmt infer: warning: ") for ln in warned)
    assert infer(src, "--model", model, "--out", tmp_path / "b", "--strict") == 1
    assert not os.path.exists(tmp_path / "b" / "c0.json")


# -- selectable outputs --------------------------------------------------------------------------
def test_outputs_are_selectable_and_the_label_map_matches_the_colour_image(model, folder, tmp_path):
    import cv2

    from reference import PALETTE
    full, some = tmp_path / "full", tmp_path / "some"
    assert infer(folder / "case0.png", "--model", model, "--out", full) == 0
    assert infer(folder / "case0.png", "--model", model, "--out", some,
                 "--outputs", "labels,bse,json") == 0
    assert sorted(os.listdir(some)) == ["case0.json", "case0_bse.png", "case0_labels.png"]
    labels = cv2.imread(str(some / "case0_labels.png"), cv2.IMREAD_UNCHANGED)
    seg = cv2.cvtColor(cv2.imread(str(full / "case0_seg.png")), cv2.COLOR_BGR2RGB)
    assert labels.dtype == np.uint8 and labels.ndim == 2 and set(np.unique(labels)) <= {0, 1, 2, 3}
    assert np.array_equal(PALETTE[labels], seg)
    assert np.array_equal(cv2.imread(str(some / "case0_bse.png"), cv2.IMREAD_UNCHANGED),
                          cv2.imread(str(full / "case0_bse.png"), cv2.IMREAD_UNCHANGED))
    rec = json.loads((some / "case0.json").read_text())
    assert set(rec["outputs"]) == {"bse", "labels", "json"} and "organs" in rec


def test_without_json_a_set_is_complete_when_all_its_files_are_there(model, folder, tmp_path):
    out = tmp_path / "out"
    assert infer(folder / "case0.png", "--model", model, "--out", out, "--outputs", "bse") == 0
    assert os.listdir(out) == ["case0_bse.png"]
    assert infer(folder / "case0.png", "--model", model, "--out", out, "--outputs", "bse") == 1
    with pytest.raises(SystemExit):
        infer(folder / "case0.png", "--model", model, "--outputs", "bse,pdf")


def test_png_settings_keep_every_file_exact_and_the_level_option_applies(model, folder, tmp_path):
    import cv2
    default, level0 = tmp_path / "default", tmp_path / "level0"
    assert infer(folder / "case0.png", "--model", model, "--out", default, "--masks",
                 "--outputs", "bse,seg,overlay,labels,json") == 0
    assert infer(folder / "case0.png", "--model", model, "--out", level0, "--masks",
                 "--outputs", "bse,seg,overlay,labels,json", "--png-level", "0") == 0
    for name in os.listdir(default):
        if name.endswith(".png"):   # a level trades size for speed, never a pixel
            a = cv2.imread(str(default / name), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(str(level0 / name), cv2.IMREAD_UNCHANGED)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
    sizes = [(d / "case0_overlay.png").stat().st_size for d in (default, level0)]
    assert sizes[0] < sizes[1]   # level 0: no string matching (ISA-L) or stored (zlib)
    with pytest.raises(SystemExit):
        infer(folder / "case0.png", "--model", model, "--png-level", "10")


def test_backend_auto_takes_openvino_only_for_a_folder_worth_its_compile(model, tmp_path):
    import importlib.util

    from cxrmt.infer.commands import AUTO_MIN_IMAGES
    src = tmp_path / "in"
    src.mkdir()
    for i in range(AUTO_MIN_IMAGES):
        write_png(src / f"c{i}.png", (chest(40, 40, seed=i) >> 4).astype(np.uint8))
    assert infer(src / "c0.png", "--model", model, "--out", tmp_path / "one") == 0
    assert infer(src, "--model", model, "--out", tmp_path / "many") == 0
    one = json.loads((tmp_path / "one" / "c0.json").read_text())["model"]["backend"]
    many = json.loads((tmp_path / "many" / "c0.json").read_text())["model"]["backend"]
    assert one == "onnxruntime"
    assert many == ("openvino" if importlib.util.find_spec("openvino") else "onnxruntime")


def test_outputs_without_the_bone_image_and_outputs_a_model_cannot_give(tmp_path, folder, capsys):
    """--outputs seg,json: no bone image written (it used to crash the writer); --outputs bse
    from a segmentation-only model: one clear error, nothing written."""
    mt = affine_model(tmp_path / "mt.onnx", SIZE, "nchw", "mt")
    seg = affine_model(tmp_path / "seg.onnx", SIZE, "nchw", "seg")
    out = tmp_path / "o1"
    assert infer(folder / "case0.png", "--model", mt, "--out", out, "--outputs", "seg,json") == 0
    assert sorted(os.listdir(out)) == ["case0.json", "case0_seg.png"]
    capsys.readouterr()
    assert infer(folder / "case0.png", "--model", seg, "--out", tmp_path / "o2",
                 "--outputs", "bse") == 1
    assert "nothing to write" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o2") or os.listdir(tmp_path / "o2") == []


def test_an_inference_failure_is_one_line_naming_the_model(model, folder, tmp_path, capsys,
                                                           monkeypatch):
    from cxrmt.runtime.ort_backend import OnnxRuntimeRunner

    class Fail(Exception):   # like onnxruntime's own error types: not a RuntimeError
        pass

    def broken(self, x):
        raise Fail("[ONNXRuntimeError] : 1 : FAIL : out of memory")
    monkeypatch.setattr(OnnxRuntimeRunner, "_infer", broken)
    assert infer(folder / "case0.png", "--model", model, "--out", tmp_path / "o",
                 "--backend", "onnxruntime") == 1
    err = capsys.readouterr().err
    assert f"{model}: inference failed (Fail" in err and "Traceback" not in err


def test_a_lock_is_released_when_the_run_is_interrupted_before_the_write(model, folder, tmp_path,
                                                                        monkeypatch):
    from cxrmt.infer import run as infer_run
    calls = []
    real = infer_run.write_one

    def slow_then_interrupted(p, *a, **k):
        calls.append(1)
        if len(calls) == 2:   # Ctrl-C in the second write (which frees its own lock, as the
            locks.release(*p.lock)   # real one does) while the third set already holds one
            raise KeyboardInterrupt
        return real(p, *a, **k)
    monkeypatch.setattr(infer_run, "write_one", slow_then_interrupted)
    out = tmp_path / "out"
    assert infer(folder, "--model", model, "--out", out) == 130
    assert leftovers(out) == []
