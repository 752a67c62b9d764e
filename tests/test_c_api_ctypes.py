"""The ctypes bindings of the C API (cxrmt.runtime.capi): struct mirrors against the installed
header, host calls against cxrmt._core, and the error text a failed call surfaces."""
import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

from cxrmt import kernels as k
from cxrmt.runtime import capi

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
HEADER = k.include_dir() / "cxrmt" / "cxrmt.h"


def _header_fields() -> dict:
    """struct name -> field names in declaration order, parsed from the installed header."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    structs = {}
    for body, name in re.findall(r"typedef struct\s*\{(.*?)\}\s*(\w+)\s*;", text, flags=re.S):
        fields = []
        for decl in filter(None, (d.strip() for d in body.split(";"))):
            type_and_first, *rest = decl.split(",")
            names = [type_and_first.split()[-1]] + rest
            fields += [re.sub(r"[*\s]|\[\d+\]", "", n) for n in names]
        structs[name] = fields
    return structs


def test_mirrors_name_every_header_field_in_order():
    header = _header_fields()
    assert set(header) == set(capi.STRUCTS)
    for name, cls in capi.STRUCTS.items():
        assert [f[0] for f in cls._fields_] == header[name], name


@pytest.mark.skipif(CC is None, reason="no C compiler on PATH")
def test_mirrors_match_the_c_layout(tmp_path):
    lines = []
    for name, cls in capi.STRUCTS.items():
        lines.append(f'printf("{name} %zu\\n", sizeof({name}));')
        lines += [f'printf("{name}.{f} %zu\\n", offsetof({name}, {f}));' for f, _ in cls._fields_]
    src = tmp_path / "layout.c"
    src.write_text("#include <stddef.h>\n#include <stdio.h>\n#include <cxrmt/cxrmt.h>\n"
                   "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    subprocess.run([CC, "-std=c99", "-Wall", "-Werror", str(src), "-I", str(k.include_dir()),
                    "-o", str(tmp_path / "layout")], check=True)
    out = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True,
                         check=True).stdout
    c = dict(line.rsplit(" ", 1) for line in out.strip().splitlines())
    py = {}
    for name, cls in capi.STRUCTS.items():
        py[name] = str(ctypes.sizeof(cls))
        py.update({f"{name}.{f}": str(getattr(cls, f).offset) for f, _ in cls._fields_})
    assert py == c


def _image(h=37, w=23, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4096, (h, w)).astype(np.uint16)


def _c_preprocess(img, size, layout, **kw):
    out = np.empty((1, size, size, 3) if layout == "nhwc" else (1, 3, size, size), np.float32)
    frame = capi.Frame()
    im = capi.image(img.ctypes.data, img.dtype, *img.shape)
    opts = capi.preprocess_options(layout, **kw)
    capi.check(capi.lib().cxrmt_preprocess(ctypes.byref(im), size, ctypes.byref(opts),
                                           out.ctypes.data, ctypes.byref(frame)), "preprocess")
    return out, frame


@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
@pytest.mark.parametrize("window", [dict(window=(100.0, 3900.0)), dict(percentile=(1.0, 99.0)),
                                    dict(bits_stored=12), dict(percentile=(1.0, 99.0), field=True)])
def test_host_preprocess_matches_core(layout, window):
    img = _image()
    a, fa = k.preprocess(img, 16, layout=layout, invert=True, **window)
    b, fb = _c_preprocess(img, 16, layout, invert=True, **window)
    np.testing.assert_array_equal(a, b)
    assert repr(capi.frame_to_core(fb)) == repr(fa)
    assert repr(capi.frame_to_core(capi.frame_from_core(fa))) == repr(fa)


@pytest.mark.parametrize("task,layout,half", [("mt", "nhwc", False), ("mt", "nchw", True),
                                               ("seg", "nchw", False), ("bse", "nhwc", True)])
def test_host_decode_and_overlay_match_core(task, layout, half):
    img, s = _image(), 16
    x, f = k.preprocess(img, s, layout=layout, bits_stored=12)
    c = 6 if task == "mt" else 3
    rng = np.random.default_rng(1)
    y = np.tanh(rng.normal(size=(1, s, s, c) if layout == "nhwc" else (1, c, s, s)))
    y = y.astype(np.float16 if half else np.float32)
    kw = dict(bone_mode="residual", resample="area", bone_dtype="uint16",
              bone_window=(0.0, 8191.0) if half else None)   # the bone window crosses the C API
    ref = k.decode(y, f, task=task, layout=layout, image=img, model_input=x, input_layout=layout,
                   **kw)
    h, w = img.shape
    got = {"masks": np.zeros((3, h, w), np.uint8), "labels": np.zeros((h, w), np.uint8),
           "bone_suppressed": np.zeros((h, w), np.uint16)}
    want = {n: got[n] if ref[n] is not None else None for n in got}
    ptr = {n: a.ctypes.data if a is not None else None for n, a in want.items()}
    opts = capi.decode_options(task, layout, y.dtype, **kw)
    im, frame = capi.image(img.ctypes.data, img.dtype, h, w), capi.frame_from_core(f)
    capi.check(capi.lib().cxrmt_decode(y.ctypes.data, ctypes.byref(frame), ctypes.byref(opts),
                                       ctypes.byref(im), x.ctypes.data, ptr["masks"],
                                       ptr["labels"], ptr["bone_suppressed"]), "decode")
    for name in got:
        if ref[name] is None:
            continue
        np.testing.assert_array_equal(got[name], ref[name])
    if task == "bse":
        return
    palette = np.array([[1, 2, 3], [10, 20, 30], [40, 50, 60], [70, 80, 90]], np.uint8)
    ov = dict(alpha=200, filter="linear", mode="outline", thickness=2, palette=palette)
    rgb = np.zeros((h, w, 3), np.uint8)
    oopts = capi.overlay_options(**ov)
    capi.check(capi.lib().cxrmt_overlay(ctypes.byref(im), ctypes.byref(frame),
                                        got["labels"].ctypes.data, 0, h, w, ctypes.byref(oopts),
                                        rgb.ctypes.data), "overlay")
    np.testing.assert_array_equal(rgb, k.overlay(img, f, ref["labels"], **ov))


def test_option_defaults_follow_the_header():
    o = capi.overlay_options()
    assert (o.alpha, o.thickness) == (128, 1)
    assert bytes(o.palette) == k.PALETTE.tobytes()
    p = capi.preprocess_options("nchw")
    assert (p.has_window, p.use_percentile, p.layout, p.pad_value) == (0, 0, 1, -1.0)
    with pytest.raises(ValueError, match="bone_dtype"):
        capi.decode_options("mt", "nhwc", bone_dtype="float32")
    with pytest.raises(ValueError, match="palette"):
        capi.overlay_options(palette=np.zeros((3, 3), np.uint8))


def test_a_bad_argument_raises_with_the_library_message():
    img = _image()
    with pytest.raises(ValueError, match="preprocess: size: must be positive"):
        _c_preprocess(img, 0, "nhwc")
    with pytest.raises(ValueError, match="window: lo must be < hi"):
        _c_preprocess(img, 8, "nhwc", window=(5.0, 1.0))
    out, _ = _c_preprocess(img, 8, "nhwc")          # a good call clears the message
    assert capi.lib().cxrmt_last_error() == b"" and out.shape == (1, 8, 8, 3)


@pytest.mark.skipif(k.cuda_available(), reason="a usable CUDA device is present")
def test_cuda_twin_without_a_device_says_why():
    """Built without CUDA: UNSUPPORTED, "built without CUDA". Built with CUDA but no usable
    device (CI: nvcc, no driver): a CUDA error whose message names CUDA. Never a crash."""
    img = _image()
    im = capi.image(img.ctypes.data, img.dtype, *img.shape)
    opts, frame = capi.preprocess_options("nhwc", window=(0.0, 4095.0)), capi.Frame()
    out = np.empty((1, 8, 8, 3), np.float32)
    status = capi.lib().cxrmt_preprocess_cuda(ctypes.byref(im), 8, ctypes.byref(opts),
                                              out.ctypes.data, ctypes.byref(frame), None)
    built = k.build_info()["cuda_built"]
    assert status == (capi.CUDA_ERROR if built else capi.UNSUPPORTED)
    with pytest.raises(RuntimeError, match="CUDA" if built else "built without CUDA"):
        capi.check(status, "preprocess")
    assert capi.lib().cxrmt_cuda_available() == 0
