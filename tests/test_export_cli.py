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
    config = (tmp_path / "repo" / "cxrmt" / "config.pbtxt").read_text()
    assert 'string_value: "fp16"' in config
    with pytest.raises(ValueError, match="is FP16; pass the FP32 ONNX"):
        _run([str(tmp_path / "m.fp16.onnx"), "--triton", str(tmp_path / "r2")])


def test_half_weights_step_writes_and_checks(tmp_path, capsys):
    model = affine_model(tmp_path / "m.onnx", 64)
    assert _run([model, "--half-weights"]) == 0
    assert "stored as FP16" in capsys.readouterr().out
    from cxrmt.runtime.metadata import read_onnx_metadata
    assert read_onnx_metadata(tmp_path / "m.w16.onnx")["cxrmt.weights_storage"] == "fp16"
