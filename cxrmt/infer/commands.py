"""argparse wiring of `cxrmt infer`, the main job. Heavy packages load only when it runs."""

import argparse
import os
import sys

from cxrmt.io.header import DEFAULT_MAX_PIXELS
from cxrmt.io.layout import DEFAULT_OUTPUTS, OUTPUTS
from cxrmt.logs import verbosity
from cxrmt.runtime import BACKEND_NAMES


# --backend auto picks OpenVINO only from this many images on: it opens 0.35-0.5 s slower than
# ONNX Runtime and saves ~0.08 s per 2048² image (bench/bench_infer.py, 2-core Xeon with AMX).
AUTO_MIN_IMAGES = 8


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "infer", parents=[verbosity()],
        help="segment the organs and suppress the bones of chest X-rays",
        description="Run the model on radiographs (PNG/JPEG/TIFF 8/16-bit, DICOM, JSRT .IMG; "
                    "files, folders and globs) and write, per input <stem>: <stem>_bse.png "
                    "(bone-suppressed, input size and bit depth), <stem>_seg.png, "
                    "<stem>_overlay.png and <stem>.json (timings, organ areas, cardiothoracic "
                    "ratio). Existing outputs are kept unless --force. Unreadable inputs are "
                    "reported and skipped; the exit code is then 1.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="radiograph files, folders or globs")
    p.add_argument("--out", metavar="DIR", help="output folder (default: next to each input)")
    p.add_argument("--model", metavar="FILE",
                   help="model (.onnx, .engine/.plan, .keras, SavedModel); default: the shipped "
                        "ONNX model")
    p.add_argument("--backend", default="auto", choices=("auto", *BACKEND_NAMES),
                   help="the backend that runs the model (auto: for 8 or more inputs OpenVINO "
                        "for an FP32 .onnx on the CPU where it is installed, else the one of "
                        "the model's suffix)")
    p.add_argument("--alpha", type=_byte, default=128, metavar="0-255",
                   help="overlay opacity of the organ colours (default 128)")
    p.add_argument("--clean", action="store_true",
                   help="keep each organ's largest connected region and fill its holes")
    p.add_argument("--outputs", type=_outputs, default=DEFAULT_OUTPUTS, metavar="LIST",
                   help="comma-separated files to write per input, of "
                        f"{','.join(OUTPUTS)} (default {','.join(DEFAULT_OUTPUTS)}); labels: "
                        "one-channel label map <stem>_labels.png (0-3)")
    p.add_argument("--masks", action="store_true",
                   help="also write <stem>_mask_{right_lung,left_lung,heart}.png (0/255); the "
                        "same as adding masks to --outputs")
    p.add_argument("--dicom-out", action="store_true",
                   help="for DICOM inputs also write <stem>_bse.dcm (derived CR/DX, else "
                        "Secondary Capture) and <stem>_seg.dcm (DICOM SEG) in the input's study")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", nargs=2, type=float, metavar=("LO", "HI"),
                     help="explicit network window in the file's values (DICOM: after its VOI LUT, "
                          "in [0, 1])")
    win.add_argument("--percentile", nargs=2, type=_percent, metavar=("P_LO", "P_HI"),
                     help="network window from these percentiles of the whole image")
    win.add_argument("--full-range", action="store_true",
                     help="network window = the file's full range (cxrmt before model v2)")
    win.add_argument("--auto-window", action="store_true",
                     help="the robust window (1st-99th percentile of the field), whatever the "
                          "model's metadata says")
    p.add_argument("--flip-tta", action="store_true",
                   help="test-time flip augmentation: average with the mirrored image's output "
                        "(lung channels swapped back); twice the inference time")
    p.add_argument("--invert", action="store_true",
                   help="reverse the input polarity (for files stored bone-dark without saying so)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--png-level", type=_ranged(int, 0, 9), metavar="0-9",
                   help="deflate level for every PNG written (default 1; ISA-L's deflate, "
                        "where installed, has levels 0-3 and takes min(N, 3))")
    p.add_argument("--max-pixels", type=_pixels, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse inputs larger than N pixels, read from the file header before "
                        f"decoding (default {DEFAULT_MAX_PIXELS:,}; 0: no limit)")
    p.add_argument("--strict", action="store_true",
                   help="refuse inputs a reader would otherwise change with a warning (colour "
                        "made grey, the first page of a multi-page TIFF, DICOM values above "
                        "BitsStored)")
    p.set_defaults(func=_infer)


def _outputs(text: str) -> tuple:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in OUTPUTS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"choose from {','.join(OUTPUTS)} (got {text!r})")
    return kinds


def _ranged(cast, lo, hi=None):
    """An argparse type: `cast(text)` within [lo, hi]; a bad value is a usage error (exit 2),
    as argparse's own are."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bounds = f"in {lo}-{hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be {bounds} (got {value})")
        return value
    return parse


_byte = _ranged(int, 0, 255)
_percent = _ranged(float, 0.0, 100.0)
_count = _ranged(lambda text: int(float(text)), 0)   # 1e8 is fine


def _pixels(text: str):
    return _count(text) or None   # 0: no limit


def _infer(args) -> int:
    from cxrmt.io.inputs import expand

    files, missing = expand(args.paths)
    for arg, reason in missing:
        print(f"cxrmt infer: {arg}: {reason}", file=sys.stderr)
    if not files:
        raise FileNotFoundError("no input radiographs found in " + ", ".join(args.paths))
    failed = _run(args, files)
    done = len(files) - len(failed)
    if not args.quiet:
        where = f"in {args.out}" if args.out else "next to the inputs"
        print(f"cxrmt infer: {done} of {len(files)} radiographs done, outputs {where}")
    if failed or missing:
        print(f"cxrmt infer: {len(failed) + len(missing)} inputs failed", file=sys.stderr)
        return 1
    return 0


def _silence_opencv() -> None:
    """OpenCV loads only for inputs cxrmt.io.png leaves to it: set its level now if it is loaded,
    else through the variable it reads when it loads."""
    if "cv2" in sys.modules:
        cv2 = sys.modules["cv2"]
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    else:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")


def _run(args, files) -> list:
    from cxrmt.runtime import backend_name
    from cxrmt.shipped import default_model

    from .run import InferOptions, ReadAhead, check_output_folders, infer_paths, model_record

    opts = InferOptions(out=args.out, masks=args.masks, dicom_out=args.dicom_out,
                        invert=args.invert, force=args.force, max_pixels=args.max_pixels,
                        strict=args.strict, outputs=args.outputs,
                        png_level=args.png_level)
    check_output_folders(files, opts)   # a wrong --out fails now, not after every inference
    if not args.verbose:   # OpenCV's own log lines: the readers' errors already say it all
        _silence_opencv()
    model = args.model or default_model()
    wanted = args.backend
    if wanted == "auto" and len(files) < AUTO_MIN_IMAGES:
        wanted = None   # a few images: the suffix's own backend opens faster than OpenVINO
    backend = backend_name(model, wanted, choose=True)   # what open_runner will run
    if args.dicom_out:
        _check_dicom_out(files, args.quiet)
    with ReadAhead(files, opts) as reads:
        # the first input decodes (the GIL released) while the backend's package loads and
        # its session builds: ~0.1 s of a single image's 0.5 s
        reads.start(0)
        with _predictor(args, model, backend) as predictor:
            return infer_paths(predictor, files, opts, model_record(predictor, model, backend),
                               quiet=args.quiet, reads=reads)


def _check_dicom_out(files, quiet: bool) -> None:
    from cxrmt._optional import require
    from cxrmt.io.header import is_dicom

    require("highdicom", "dicom")
    plain = sum(not is_dicom(f) for f in files)
    if plain and not quiet:
        print(f"cxrmt infer: --dicom-out: {plain} of {len(files)} inputs are not DICOM; "
              "they get the PNG outputs only", file=sys.stderr)


def _predictor(args, model, backend):
    from cxrmt.pipeline import DecodeOptions, OverlayOptions, Predictor, PreprocessOptions

    window = (tuple(args.window) if args.window else "full" if args.full_range
              else "auto" if args.auto_window else None)   # None: the model's own
    percentile = tuple(args.percentile) if args.percentile else None
    return Predictor(model, preprocess=PreprocessOptions(window=window, percentile=percentile),
                     decode=DecodeOptions(bone_dtype="uint16"),
                     overlay=OverlayOptions(alpha=args.alpha), clean=args.clean,
                     flip_tta=args.flip_tta, backend=backend,
                     render=[r for k, r in (("seg", "segmentation"), ("overlay", "overlay"))
                             if k in args.outputs],
                     kernel_device="cpu" if args.flip_tta else "auto")
