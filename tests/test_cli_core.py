import importlib.util
import json
import subprocess
import sys

import cv2
import numpy as np

from cxrmt import cli


def test_info_reports_build(capsys):
    assert cli.main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"compiler", "cuda_built", "cuda_archs", "cuda"} <= set(info)
    assert info["cuda"]["usable"] in (True, False)
    has = {m: importlib.util.find_spec(m) is not None for m in ("isal", "deflate")}
    assert info["png"] == {"write": "isal" if has["isal"] else "zlib",
                           "read": "libdeflate" if has["deflate"] else "opencv"}


def test_demo_writes_every_file_and_keeps_the_organs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--size", "64", "--res", "256"]) == 0
    report = json.loads((out / "report.json").read_text())["drr"]
    out = out / "drr"
    for name in report["files"]:
        img = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape[:2] == (256, 256), name
    # The ground truth at 64^2 decoded back to 256^2 must still match it closely.
    assert min(report["dice_after_decode"].values()) > 0.9
    assert report["bone_rmse_residual"] < report["bone_rmse_identity"]
    # Overlay: red where the heart is, grey elsewhere.
    seg = cv2.imread(str(out / "segmentation.png"))[..., ::-1]
    over = cv2.imread(str(out / "overlay.png"))[..., ::-1].astype(int)
    heart_only = (seg == [255, 0, 0]).all(-1)
    assert heart_only.any()
    assert (over[heart_only, 0] >= over[heart_only, 1]).all()
    background = (seg == 0).all(-1)
    assert (np.ptp(over[background], axis=1) == 0).all()


def test_cli_without_command_prints_help(tmp_path):
    run = subprocess.run([sys.executable, "-m", "cxrmt.cli"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and "demo" in run.stdout


def test_demo_scores_the_shipped_model_against_the_drr_truth(tmp_path):
    """The report carries the shipped model's own result on the synthetic radiograph, with
    every score in its range (the DRR is outside its training domain: no level is asserted)."""
    report = run_demo_report(tmp_path)["drr"]
    m = report["shipped_model"]
    assert m["model"] == "cxrmt-mtdg-jsrt256.onnx"
    assert set(m["dice"]) == {"heart", "left_lung", "right_lung"}
    assert all(0.0 <= d <= 1.0 for d in m["dice"].values())
    assert m["bone_rmse"] >= 0 and m["bsr_lungs"] <= 1.0


def test_demo_ships_a_real_radiograph_that_is_not_scored(tmp_path):
    """radiograph.png is the shipped NIH film, byte for byte; the report scores nothing on it
    (no ground truth) but says whether the shipped model finds the organs."""
    import hashlib

    report = run_demo_report(tmp_path)["radiograph"]
    data = (tmp_path / "demo" / "radiograph.png").read_bytes()
    assert hashlib.sha256(data).hexdigest() == \
        "41766f449c1f0608942e00a097bd8004575cd069d1e7371de9df0feb122f84e8"
    assert report["scored"] is False and "NIH" in report["source"]
    check = report["organ_check"]
    assert {"found_heart", "found_left_lung", "found_right_lung", "placed", "ok"} <= set(check)


def run_demo_report(tmp_path):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--size", "64", "--res", "256"]) == 0
    return json.loads((out / "report.json").read_text())


def _leaf_parsers(parser, path=()):
    """(command path, parser) of every runnable command, nested ones included."""
    import argparse
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, child in action.choices.items():
            yield from _leaf_parsers(child, (*path, name))


def test_every_command_takes_verbose_and_quiet_the_same_way():
    from cxrmt import cli
    leaves = dict(_leaf_parsers(cli.build_parser()))
    assert len(leaves) >= 10 and ("infer",) in leaves and ("data", "drr") in leaves
    for path, parser in leaves.items():
        flags = {o for a in parser._actions for o in a.option_strings}
        assert {"-v", "--verbose", "-q", "--quiet"} <= flags, path


def test_library_messages_go_to_stderr_with_the_command_and_quiet_hides_info(capsys):
    import logging

    from cxrmt import logs
    logs.configure("infer")
    logging.getLogger("cxrmt.io.some_module").info("read 3 files")
    logs.configure("infer", quiet=True)
    logging.getLogger("cxrmt.io.some_module").info("hidden")
    logging.getLogger("cxrmt.io.some_module").warning("skipped a.png: corrupt")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["cxrmt infer: read 3 files", "cxrmt infer: skipped a.png: corrupt"]
