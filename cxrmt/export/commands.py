"""`cxrmt export`: Keras generator -> checked ONNX [-> FP16 ONNX] [-> INT8 ONNX]
[-> OpenVINO IR, FP32 or INT8] [-> TensorRT engine] [-> Triton repository]. Heavy packages load
only inside the steps that use them; each invocation is its own process, as a full-width export
needs ~12 GB."""

import os

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", parents=[verbosity()],
        help="export a trained model to ONNX / FP16 ONNX / TensorRT / Triton",
        description="Export MODEL (.keras generator, or an .onnx from an earlier export) for "
                    "deployment. The ONNX export is checked against TensorFlow (max |d| <= "
                    "1e-4), the FP16 ONNX against FP32 in task terms (Dice, PSNR, overflow).")
    p.add_argument("model", metavar="MODEL", help=".keras generator or cxrmt .onnx")
    p.add_argument("--onnx", metavar="OUT", help="write the FP32 ONNX here (needed for .keras)")
    p.add_argument("--size", type=int, help="input size S (default: the model's own)")
    p.add_argument("--window", choices=("auto", "full"),
                   help="network window the model was trained with, written to its metadata "
                        "(default: from the run's model.json beside the .keras, else auto)")
    p.add_argument("--layout", choices=("nchw", "nhwc"), default="nchw",
                   help="input/output layout of the graph (default nchw: no transposes left)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (>= 17; default 17)")
    p.add_argument("--batch", type=int, default=1, help="static batch size (default 1)")
    p.add_argument("--fp16", action="store_true",
                   help="also write and check OUT.fp16.onnx (FP32 I/O); engines: strongly typed "
                        "from it on TensorRT >= 11, the FP16 builder flag on TensorRT 10.x")
    p.add_argument("--half-weights", action="store_true",
                   help="also write and check OUT.w16.onnx: FP32 maths, weights stored as FP16 "
                        "(half the file; how the shipped model is stored)")
    p.add_argument("--int8", action="store_true",
                   help="also write and check OUT.int8.onnx for CPUs: int8 weights and "
                        "activations calibrated on --calibrate, output layer kept FP32")
    p.add_argument("--int8-target", choices=("onnxruntime", "openvino"),
                   help="the runtime --int8 is shaped for: onnxruntime writes OUT.int8.onnx "
                        "(transposed convolutions made sub-pixel), openvino writes "
                        "OPENVINO.int8.xml beside --openvino's IR (plain transposed "
                        "convolutions, which OpenVINO runs in int8; its CPU plugin rejects the "
                        "sub-pixel form). Default: openvino with --openvino, else onnxruntime")
    p.add_argument("--openvino", metavar="OUT.xml",
                   help="also write and check an OpenVINO IR (OUT.xml + OUT.bin, the cxrmt "
                        "metadata in its rt_info), checked in f32 and, where the CPU has it, "
                        "bf16")
    p.add_argument("--openvino-half-weights", action="store_true",
                   help="store the IR's weights as FP16 (half the file; maths unchanged)")
    p.add_argument("--calibrate", nargs="+", default=(), metavar="PATH",
                   help="radiographs (files, folders, globs) whose activation ranges calibrate "
                        "--int8; a few dozen real ones from the target scanner")
    checks = p.add_mutually_exclusive_group()
    checks.add_argument("--check-images", nargs="+", default=(), metavar="IMG",
                        help="radiographs for the export checks (default: chest phantoms)")
    checks.add_argument("--check-data", metavar="DIR",
                        help="paired-layout folder (images/, masks/): check against its "
                             "reference masks, Dice >= 0.995 x FP32's (instead of agreement "
                             "with FP32)")
    p.add_argument("--engine", metavar="OUT", help="also build a TensorRT engine (on this GPU)")
    p.add_argument("--dla", type=int, metavar="N",
                   help="build for DLA core N (Jetson), GPU fallback")
    p.add_argument("--workspace", type=float, default=2.0, metavar="GIB",
                   help="TensorRT workspace limit in GiB (default 2)")
    p.add_argument("--timing-cache", metavar="FILE", help="TensorRT timing cache to reuse/update")
    p.add_argument("--force", action="store_true", help="rebuild the engine even on a cache hit")
    p.add_argument("--adopt", action="store_true",
                   help="do not build: write the sidecar for an --engine built by trtexec from "
                        "MODEL (.onnx) on this device (see trt/README.md)")
    p.add_argument("--triton", metavar="DIR",
                   help="also write a Triton model repository serving the whole pipeline: "
                        "DIR/cxrmt (ensemble: encoded file or raw pixels in, every output out), "
                        "cxrmt_preprocess and cxrmt_postprocess (Python backend; cxrmt must be "
                        "installed in its environment), cxrmt_network (the served model)")
    p.add_argument("--triton-gpu", action="store_true",
                   help="run an ONNX network on the GPU (KIND_GPU; engines always are)")
    p.add_argument("--triton-instances", type=int, default=1, metavar="N",
                   help="instances of the network (instance_group count; default 1)")
    p.add_argument("--triton-ort-tensorrt", choices=("fp16", "fp32"),
                   help="run an ONNX network through ONNX Runtime's TensorRT execution "
                        "provider at this precision (on the GPU)")
    p.set_defaults(func=_export)


def _export(args) -> int:
    if not os.path.exists(args.model):
        raise FileNotFoundError(f"{args.model}: no such model file")
    if args.adopt and not (args.engine and args.model.lower().endswith(".onnx")):
        raise ValueError("--adopt needs MODEL.onnx and --engine ENGINE")
    int8_target = _int8_target(args)
    _check_triton_options(args)
    calibration = _calibration(args)
    fp32, fp16 = _onnx_step(args)
    if args.fp16 and fp16 is None:
        fp16 = _fp16_step(fp32, args)
    if args.half_weights:
        _half_weights_step(fp32, args)
    if args.openvino:
        _openvino_step(fp32, args)
    if args.int8 and int8_target == "openvino":
        _int8_openvino_step(fp32, args, calibration)
    elif args.int8:
        _int8_step(fp32, args, calibration)
    served = fp16 or fp32
    if args.engine:
        served = _engine_step(fp32, fp16, args)
    if args.triton:
        _triton_step(served, args)
    return 0


def _onnx_step(args):
    """(FP32 ONNX, FP16 ONNX or None) from MODEL."""
    if args.model.lower().endswith(".onnx"):
        from cxrmt.runtime.metadata import read_onnx_metadata
        meta = read_onnx_metadata(args.model)
        if not meta:
            raise ValueError(f"{args.model}: no cxrmt metadata; export it from the .keras model")
        if args.window:
            raise ValueError(f"{args.model}: --window is written when exporting a .keras model; "
                             "an ONNX model keeps the window in its metadata "
                             f"({meta.get('cxrmt.window', 'full')})")
        precision = meta.get("cxrmt.precision", "fp32")
        if precision != "fp32":
            raise ValueError(f"{args.model} is {precision.upper()}; pass the FP32 ONNX it was "
                             "made from")
        return args.model, None
    if not args.onnx:
        raise ValueError("--onnx OUT is needed to export a .keras model")
    from .onnx_export import export_onnx
    export_onnx(args.model, args.onnx, size=args.size, layout=args.layout, opset=args.opset,
                batch=args.batch, check_images=args.check_images, window=args.window)
    return args.onnx, None


def _fp16_step(fp32: str, args) -> str:
    from .fp16 import convert_fp16
    out = os.path.splitext(fp32)[0] + ".fp16.onnx"
    _, r = _write_checked(fp32, out, lambda tmp: convert_fp16(fp32, tmp), args, "FP16")
    print(f"{out}: FP16 check passed ({_agreement(r)}, bone PSNR >= {r['psnr_min_db']:.1f} dB, "
          "no overflow)")
    return out


def _half_weights_step(fp32: str, args) -> str:
    from .half_weights import store_weights_fp16
    out = os.path.splitext(fp32)[0] + ".w16.onnx"
    report, r = _write_checked(fp32, out, lambda tmp: store_weights_fp16(fp32, tmp), args,
                               "FP16-weights")
    print(f"{out}: {report['converted']} weight tensors stored as FP16, "
          f"{report['bytes'] / 2**20:.1f} MiB; {_agreement(r)}, bone PSNR "
          f">= {r['psnr_min_db']:.1f} dB")
    return out


def _int8_step(fp32: str, args, calibration: list) -> str:
    from .int8 import quantize_int8
    out = os.path.splitext(fp32)[0] + ".int8.onnx"
    report, r = _write_checked(fp32, out, lambda tmp: quantize_int8(fp32, tmp, calibration),
                               args, "INT8")
    print(f"{out}: INT8 check passed ({report['images']} calibration images, "
          f"{report['rewritten']} transposed convolutions made sub-pixel, "
          f"{report['bytes'] / 2**20:.1f} MiB; {_agreement(r)}, bone PSNR "
          f">= {r['psnr_min_db']:.1f} dB)")
    return out


def _openvino_step(fp32: str, args) -> str:
    from .openvino_ir import convert_ir
    out = args.openvino
    report = convert_ir(fp32, out, check=lambda tmp: _check_ir(fp32, tmp, args, "OpenVINO", out),
                        half_weights=args.openvino_half_weights)
    print(f"{out}: OpenVINO IR check passed ({report['bytes'] / 2**20:.1f} MiB of weights; "
          f"{_ir_agreement(report['check'])})")
    return out


def _int8_openvino_step(fp32: str, args, calibration: list) -> str:
    """OPENVINO.int8.xml: the INT8 quantization without the sub-pixel rewrite, as an IR."""
    import tempfile

    from .int8 import quantize_int8
    from .openvino_ir import convert_ir
    out = os.path.splitext(args.openvino)[0] + ".int8.xml"
    with tempfile.TemporaryDirectory(prefix="cxrmt-int8-openvino-") as tmp:
        qdq = os.path.join(tmp, "int8.onnx")
        report = quantize_int8(fp32, qdq, calibration, target="openvino")
        ir = convert_ir(qdq, out, check=lambda x: _check_ir(fp32, x, args, "INT8 (OpenVINO)", out))
    print(f"{out}: INT8 OpenVINO IR check passed ({report['images']} calibration images, "
          f"{ir['bytes'] / 2**20:.1f} MiB of weights; {_ir_agreement(ir['check'])})")
    return out


def _check_ir(fp32: str, xml: str, args, label: str, name: str) -> dict:
    """{precision hint: check report} for an IR on OpenVINO under each hint this CPU runs."""
    from .openvino_ir import check_hints
    from .precision import check_precision
    return {hint: check_precision(fp32, xml, *_check_set(args), label=f"{label} {hint}",
                                  name=name, precision=hint) for hint in check_hints()}


def _ir_agreement(checks: dict) -> str:
    return "; ".join(f"{hint}: {_agreement(r)}, bone PSNR >= {r['psnr_min_db']:.1f} dB"
                     for hint, r in checks.items())


def _int8_target(args) -> str:
    """--int8-target, checked (with --openvino's options) before any step runs."""
    if args.int8_target and not args.int8:
        raise ValueError("--int8-target is for --int8")
    if args.openvino and not args.openvino.lower().endswith(".xml"):
        raise ValueError(f"--openvino {args.openvino}: an OpenVINO IR is written as OUT.xml")
    if args.openvino_half_weights and not args.openvino:
        raise ValueError("--openvino-half-weights is for --openvino")
    target = args.int8_target or ("openvino" if args.openvino else "onnxruntime")
    if args.int8 and target == "openvino" and not args.openvino:
        raise ValueError("--int8-target openvino writes OUT.int8.xml beside the IR: pass "
                         "--openvino OUT.xml too")
    return target


def _write_checked(fp32: str, out: str, write, args, label: str) -> tuple:
    """(write's report, the check's report). The model is written under a temporary name and
    renamed to `out` only once it passes its check: a refused model is never left at `out`."""
    from .precision import check_precision
    tmp = out[:-len(".onnx")] + ".unchecked.onnx"
    try:
        report = write(tmp)
        checked = check_precision(fp32, tmp, *_check_set(args), label=label, name=out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, out)
    return report, checked


def _agreement(r: dict) -> str:
    if r["dice_ratio_min"] is not None:
        return f"Dice >= {r['dice_ratio_min']:.4f} x FP32's"
    return f"Dice vs FP32 >= {r['dice_min']:.4f}"


def _calibration(args) -> list:
    """--calibrate's radiographs, resolved before any step runs."""
    if not args.int8:
        if args.calibrate:
            raise ValueError("--calibrate is for --int8")
        return []
    if not args.calibrate:
        raise ValueError("--int8 needs --calibrate PATH...: real radiographs to measure the "
                         "activation ranges on")
    from cxrmt.io.inputs import expand
    images, missing = expand(args.calibrate)
    if missing:
        raise FileNotFoundError("; ".join(f"{a}: {why}" for a, why in missing) + " (--calibrate)")
    return images


def _check_set(args) -> tuple:
    """(images, truths) for one precision check: --check-data's cases with their masks, else
    --check-images (default: phantoms) without truth. Fresh iterators on every call."""
    if args.check_data:
        from .precision import paired_cases
        return paired_cases(args.check_data)
    return (args.check_images or None), None


def _engine_step(fp32: str, fp16, args) -> str:
    from cxrmt._optional import require

    from .engine import adopt_engine, build_engine, trt_major
    trt = require("tensorrt", "gpu")
    strongly_fp16 = args.fp16 and trt_major(trt.__version__) >= 11
    if args.adopt:
        adopt_engine(fp16 if strongly_fp16 else fp32, args.engine,
                     fp16_flag=args.fp16 and not strongly_fp16, dla_core=args.dla)
        return args.engine
    build_engine(fp16 if strongly_fp16 else fp32, args.engine,
                 fp16_flag=args.fp16 and not strongly_fp16, dla_core=args.dla,
                 workspace_gib=args.workspace, timing_cache=args.timing_cache, force=args.force)
    return args.engine


def _triton_step(model: str, args) -> None:
    from .triton import write_repository
    if model.lower().endswith(".onnx"):
        from cxrmt.runtime.metadata import read_onnx_metadata
        meta = read_onnx_metadata(model)
    else:
        from cxrmt.runtime.engine_cache import read_sidecar
        sidecar = read_sidecar(model)
        meta = {**sidecar["model"], "cxrmt.precision": sidecar["key"]["precision"]}
    folders = write_repository(model, args.triton, meta, gpu=args.triton_gpu,
                               instances=args.triton_instances,
                               ort_tensorrt=args.triton_ort_tensorrt)
    print(f"{args.triton}: Triton model repository "
          f"({', '.join(os.path.basename(f) for f in folders)})")


def _check_triton_options(args) -> None:
    """The --triton-* options, checked before any step runs."""
    given = [f"--triton-{n}" for n, v in (("gpu", args.triton_gpu),
                                          ("instances", args.triton_instances != 1),
                                          ("ort-tensorrt", args.triton_ort_tensorrt)) if v]
    if given and not args.triton:
        raise ValueError(f"{', '.join(given)}: for --triton DIR")
    if args.triton_instances < 1:
        raise ValueError(f"--triton-instances must be >= 1 (got {args.triton_instances})")
    if args.triton_ort_tensorrt and args.engine:
        raise ValueError("--triton-ort-tensorrt runs an ONNX model; with --engine the "
                         "repository serves the engine itself")
