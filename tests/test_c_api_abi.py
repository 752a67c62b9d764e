"""The C API's binary interface, checked by a compiled C program: the struct layouts of API
versions 2 and 3 (pinned by hand from the header's declarations: natural alignment, 4-byte enums,
so a change that breaks callers built against an older header fails here), what a CUDA twin
returns when it cannot run, and enum fields holding values no enumerator has."""
import shutil
import subprocess

import pytest

from cxrmt import kernels as k

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler on PATH")

# struct -> (sizeof, [(field, offset), ...]) on LP64: those of CXRMT_API_VERSION 2 unchanged,
# then version 3's.
LAYOUT = {
    "cxrmt_image": (32, [("data", 0), ("dtype", 8), ("height", 12), ("width", 16),
                         ("row_stride", 24)]),
    "cxrmt_preprocess_options": (40, [(f, 4 * i) for i, f in enumerate(
        ["bits_stored", "invert", "has_window", "window_lo", "window_hi", "use_percentile",
         "p_lo", "p_hi", "layout", "pad_value"])]),
    "cxrmt_frame": (40, [(f, 4 * i) for i, f in enumerate(
        ["height", "width", "size", "pad_top", "pad_bottom", "pad_left", "pad_right",
         "window_lo", "window_hi", "invert"])]),
    "cxrmt_decode_options": (36, [(f, 4 * i) for i, f in enumerate(
        ["task", "bone_mode", "resample", "bone_dtype", "output_layout", "input_layout",
         "output_dtype", "bone_window_lo", "bone_window_hi"])]),
    "cxrmt_overlay_options": (28, [("alpha", 0), ("filter", 4), ("mode", 8), ("thickness", 12),
                                   ("palette", 16)]),
    # API version 3: the pipeline's structs.
    "cxrmt_pipeline_options": (24, [("device", 0), ("device_index", 4), ("threads", 8),
                                    ("library", 16)]),
    "cxrmt_model_info": (92, [("size", 0), ("batch", 4), ("layout", 8), ("task", 12),
                              ("palette", 16), ("precision", 28), ("backend", 44),
                              ("window", 76)]),
    "cxrmt_run_options": (96, [("window", 0), ("window_lo", 4), ("window_hi", 8), ("p_lo", 12),
                               ("p_hi", 16), ("bits_stored", 20), ("invert", 24), ("white", 28),
                               ("spacing_mm", 32), ("clean", 48), ("overlay", 52),
                               ("model_palette", 80), ("bone_mode", 84), ("resample", 88)]),
    "cxrmt_output_sizes": (64, [("height", 0), ("width", 4), ("masks", 8), ("labels", 16),
                                ("segmentation", 24), ("overlay", 32), ("bone", 40),
                                ("output", 48), ("bone_dtype", 56)]),
    "cxrmt_organ_measures": (40, [("area_px", 0), ("height_px", 8), ("width_px", 12),
                                  ("area_mm2", 16), ("height_mm", 24), ("width_mm", 32)]),
    "cxrmt_measurements": (136, [("organs", 0), ("cardiothoracic_ratio", 120), ("has_ctr", 128),
                                 ("has_spacing", 132)]),
    "cxrmt_timings": (40, [(f, 8 * i) for i, f in enumerate(
        ["read_ms", "preprocess_ms", "inference_ms", "decode_ms", "total_ms"])]),
    "cxrmt_outputs": (312, [("masks", 0), ("masks_size", 8), ("labels", 16), ("labels_size", 24),
                            ("segmentation", 32), ("segmentation_size", 40), ("overlay", 48),
                            ("overlay_size", 56), ("bone", 64), ("bone_size", 72),
                            ("output", 80), ("output_size", 88), ("timings", 96),
                            ("measurements", 136), ("frame", 272)]),
}

PROGRAM = r"""
#include <stddef.h>
#include <stdio.h>
#include <cxrmt/cxrmt.h>
int main(void) {
@LAYOUT@
  /* A CUDA twin without a usable device: a status and a message, never a crash. */
  unsigned short img[4 * 5] = {0};
  float out[8 * 8 * 3];
  cxrmt_image im = {img, CXRMT_U16, 4, 5, 0};
  cxrmt_preprocess_options o;
  cxrmt_frame f;
  cxrmt_preprocess_options_init(&o);
  printf("cuda_status %d\n", (int)cxrmt_preprocess_cuda(&im, 8, &o, out, &f, NULL));
  printf("cuda_error %s\n", cxrmt_last_error());
  printf("cuda_available %d\n", cxrmt_cuda_available());
  /* C lets a caller store any int in an enum field: refused by name, never undefined. */
  float y[8 * 8 * 6] = {0};
  unsigned char labels[4 * 5];
  cxrmt_decode_options d;
  cxrmt_decode_options_init(&d);
  cxrmt_preprocess(&im, 8, &o, out, &f);
  d.task = (cxrmt_task)7;
  printf("bad_task_status %d\n", (int)cxrmt_decode(y, &f, &d, NULL, NULL, NULL, labels, NULL));
  printf("bad_task_error %s\n", cxrmt_last_error());
  cxrmt_decode_options_init(&d);
  d.output_layout = (cxrmt_layout)-1;
  printf("bad_layout_status %d\n", (int)cxrmt_decode(y, &f, &d, NULL, NULL, NULL, labels, NULL));
  printf("bad_layout_error %s\n", cxrmt_last_error());
  return 0;
}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    lines = []
    for name, (_, fields) in LAYOUT.items():
        lines.append(f'  printf("{name} %zu\\n", sizeof({name}));')
        lines += [f'  printf("{name}.{f} %zu\\n", offsetof({name}, {f}));' for f, _ in fields]
    d = tmp_path_factory.mktemp("abi")
    (d / "abi.c").write_text(PROGRAM.replace("@LAYOUT@", "\n".join(lines)))
    lib = k.library_path()
    subprocess.run([CC, "-std=c99", "-Wall", "-Werror", str(d / "abi.c"), "-I", str(k.include_dir()),
                    str(lib), f"-Wl,-rpath,{lib.parent}", "-o", str(d / "abi")], check=True)
    out = subprocess.run([str(d / "abi")], capture_output=True, text=True, timeout=60, check=True)
    return dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())


def test_struct_layouts_are_those_of_api_versions_2_and_3(report):
    want = {}
    for name, (size, fields) in LAYOUT.items():
        want[name] = str(size)
        want.update({f"{name}.{f}": str(off) for f, off in fields})
    assert {key: report[key] for key in want} == want


@pytest.mark.skipif(k.cuda_available(), reason="a usable CUDA device is present")
def test_cuda_twin_without_a_device_says_why(report):
    """Built without CUDA: UNSUPPORTED, "built without CUDA". Built with CUDA but no usable
    device (CI: nvcc, no driver): a CUDA error whose message names CUDA."""
    built = k.build_info()["cuda_built"]
    assert report["cuda_status"] == ("3" if built else "2")
    assert ("CUDA" if built else "built without CUDA") in report["cuda_error"]
    assert report["cuda_available"] == "0"


def test_out_of_range_enum_fields_are_invalid_arguments(report):
    assert report["bad_task_status"] == "1"   # CXRMT_ERROR_INVALID_ARGUMENT
    assert report["bad_task_error"] == "options.task: unknown value 7"
    assert report["bad_layout_status"] == "1"
    assert report["bad_layout_error"] == "options.output_layout: unknown value -1"
