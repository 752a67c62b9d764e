"""Import hygiene: the package, the kernels and the CLI pull in no heavy optional package."""
import json
import shutil
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "tensorrt", "keras", "torch", "cuda", "pycuda", "onnxruntime", "tf2onnx",
         "onnx", "onnxconverter_common", "openvino")

PROBE = """
import json, sys
{stmt}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))
"""


@pytest.mark.parametrize("stmt", [
    "import cxrmt",
    "import cxrmt.kernels",
    "from cxrmt import cli; cli.build_parser()",
    "from cxrmt import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass",
    "import cxrmt.window, cxrmt.pipeline, cxrmt.data.photometric, cxrmt.evaluate.shift",
    "import cxrmt.evaluate.sheet, cxrmt.samples",
])
def test_no_heavy_imports(stmt, tmp_path):
    # cwd elsewhere: from the checkout, `python -c` would import the unbuilt source tree.
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt, heavy=set(HEAVY))],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_missing_extra_names_the_extra():
    from cxrmt._optional import require
    with pytest.raises(ImportError, match=r"pip install 'cxrmt\[train\]'"):
        require("surely_not_a_module_cxrmt", "train")


def test_inference_with_the_shipped_model_imports_no_tensorflow(tmp_path):
    """The Predictor over the shipped ONNX model (the path `cxrmt infer` takes) loads
    onnxruntime, never TensorFlow or Keras."""
    stmt = ("from cxrmt.pipeline import Predictor\nfrom cxrmt.shipped import default_model\n"
            "from cxrmt.samples import demo_radiograph\n"
            "with Predictor(default_model()) as p:\n    p.run(demo_radiograph())")
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt, heavy=set(HEAVY))],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert "onnxruntime" in loaded
    assert not loaded & {"tensorflow", "keras", "tf2onnx", "torch", "openvino"}


def test_cxrmt_infer_on_a_png_loads_no_opencv(tmp_path):
    """`cxrmt infer` on a plain PNG reads it with cxrmt.io.png: OpenCV (~30 ms to load) stays
    out of the process, and the console entry exits with main's code."""
    from cxrmt.samples import demo_radiograph

    shutil.copy(demo_radiograph(), tmp_path / "a.png")
    stmt = ("from cxrmt import cli\ncode = cli.main(['infer', 'a.png', '--out', 'o', '--quiet'])\n"
            "assert code == 0, code")
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt, heavy={"cv2"})],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
    assert (tmp_path / "o" / "a.json").exists()
    done = subprocess.run([sys.executable, "-m", "cxrmt.cli", "infer", "missing.png"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "missing.png" in done.stderr


@pytest.mark.parametrize("stmt", [
    "from cxrmt import cli; cli.build_parser()",
    "import cxrmt.io.header, cxrmt.io.layout, cxrmt.io.inputs",
    "from cxrmt.runtime import BACKEND_NAMES, backend_name",
])
def test_the_command_line_parses_without_numpy(stmt, tmp_path):
    """`cxrmt --help` and every command's parser load no numpy (0.09 s instead of 0.26 s here):
    cxrmt.io and cxrmt.runtime load their modules on first use."""
    out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt, heavy={"numpy", "cv2"})],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_lazy_names_are_the_modules_own():
    import cxrmt.io as io
    import cxrmt.runtime as runtime
    from cxrmt.io import read, writers
    from cxrmt.runtime import base

    assert io.read_image is read.read_image and io.write_png is writers.write_png
    assert runtime.Runner is base.Runner and set(io.__all__) <= set(dir(io))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        io.nope
