"""`cxrmt export` argument handling that needs no TensorFlow, and its import cost."""

import argparse
import os
import subprocess
import sys

import pytest

from cxrmt.export import commands
from test_runtime_fixtures import affine_model


def _run(argv):
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", *argv])
    return args.func(args)


def test_registering_the_command_imports_nothing_heavy():
    code = ("import argparse, sys; from cxrmt.export import commands; "
            "commands.register(argparse.ArgumentParser().add_subparsers()); "
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tensorrt', 'keras', 'tf2onnx', 'onnx', 'onnxruntime')]; "
            "print(heavy); sys.exit(bool(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stdout + out.stderr


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        _run([str(tmp_path / "absent.keras"), "--onnx", "x.onnx"])
    bare = affine_model(tmp_path / "bare.onnx", 16, meta=False)
    with pytest.raises(ValueError, match="no cxrmt metadata"):
        _run([bare, "--triton", str(tmp_path / "repo")])
    with pytest.raises(ValueError, match="--adopt needs MODEL.onnx and --engine"):
        _run([bare, "--adopt"])


def test_onnx_model_to_fp16_and_triton_without_tensorflow(tmp_path, capsys):
    pytest.importorskip("onnxconverter_common", reason="FP16 needs onnxconverter-common")
    from test_runtime_fixtures import chest
    from cxrmt.io.writers import write_png

    model = affine_model(tmp_path / "m.onnx", 64)
    write_png(tmp_path / "a.png", (chest(200, 180) >> 4).astype("uint8"))
    assert _run([model, "--fp16", "--check-images", str(tmp_path / "a.png"),
                 "--triton", str(tmp_path / "repo")]) == 0
    assert "FP16 check passed" in capsys.readouterr().out
    config = (tmp_path / "repo" / "cxrmt_network" / "config.pbtxt").read_text()
    assert 'string_value: "fp16"' in config
    assert (tmp_path / "repo" / "cxrmt_network" / "1" / "model.onnx").read_bytes() == \
        (tmp_path / "m.fp16.onnx").read_bytes()
    with pytest.raises(ValueError, match="is FP16; pass the FP32 ONNX"):
        _run([str(tmp_path / "m.fp16.onnx"), "--triton", str(tmp_path / "r2")])


def test_triton_options(tmp_path, capsys):
    model = affine_model(tmp_path / "m.onnx", 16)
    assert _run([model, "--triton", str(tmp_path / "repo"), "--triton-ort-tensorrt", "fp16",
                 "--triton-instances", "2"]) == 0
    assert "cxrmt, cxrmt_preprocess, cxrmt_network, cxrmt_postprocess" in capsys.readouterr().out
    config = (tmp_path / "repo" / "cxrmt_network" / "config.pbtxt").read_text()
    assert "KIND_GPU count: 2" in config and 'value: "FP16"' in config
    with pytest.raises(ValueError, match="--triton-gpu, --triton-instances: for --triton DIR"):
        _run([model, "--triton-gpu", "--triton-instances", "3"])
    with pytest.raises(ValueError, match="--triton-instances must be >= 1"):
        _run([model, "--triton", str(tmp_path / "r"), "--triton-instances", "0"])
    assert not (tmp_path / "r").exists()


def test_half_weights_step_writes_and_checks(tmp_path, capsys):
    model = affine_model(tmp_path / "m.onnx", 64)
    assert _run([model, "--half-weights"]) == 0
    assert "stored as FP16" in capsys.readouterr().out
    from cxrmt.runtime.metadata import read_onnx_metadata
    assert read_onnx_metadata(tmp_path / "m.w16.onnx")["cxrmt.weights_storage"] == "fp16"


def test_openvino_options_are_checked_before_any_step(tmp_path):
    model = affine_model(tmp_path / "m.onnx", 16)
    with pytest.raises(ValueError, match="written as OUT.xml"):
        _run([model, "--openvino", str(tmp_path / "m.ir")])
    with pytest.raises(ValueError, match="--int8-target is for --int8"):
        _run([model, "--int8-target", "openvino"])
    with pytest.raises(ValueError, match="pass --openvino OUT.xml too"):
        _run([model, "--int8", "--int8-target", "openvino", "--calibrate", model])
    with pytest.raises(ValueError, match="--openvino-half-weights is for --openvino"):
        _run([model, "--openvino-half-weights"])
    assert sorted(os.listdir(tmp_path)) == ["m.onnx"]


def test_openvino_ir_and_its_int8_are_written_and_checked(tmp_path, capsys):
    pytest.importorskip("openvino", reason="--openvino needs cxrmt[openvino]")
    from test_runtime_fixtures import chest
    from cxrmt.io.writers import write_png
    from cxrmt.runtime import open_runner

    model = affine_model(tmp_path / "m.onnx", 32)
    for s in range(3):
        write_png(tmp_path / f"c{s}.png", (chest(200, 180, seed=s) >> 4).astype("uint8"))
    xml = str(tmp_path / "ir" / "m.xml")
    assert _run([model, "--openvino", xml, "--int8", "--calibrate", str(tmp_path / "c0.png"),
                 str(tmp_path / "c1.png"), "--check-images", str(tmp_path / "c2.png")]) == 0
    out = capsys.readouterr().out
    assert "m.xml: OpenVINO IR check passed" in out and "m.int8.xml: INT8 OpenVINO IR" in out
    assert sorted(os.listdir(tmp_path / "ir")) == ["m.bin", "m.int8.bin", "m.int8.xml", "m.xml"]
    assert not (tmp_path / "m.int8.onnx").exists()      # the target was OpenVINO
    with open_runner(xml) as a, open_runner(xml[:-4] + ".int8.xml") as b:
        assert (a.info.precision, b.info.precision) == ("fp32", "int8")
        assert b.info.meta["cxrmt.int8_target"] == "openvino"
