"""`cxrmt model params`: parameter counts of a variant (Keras imported only when run)."""

import json

from .variants import VARIANTS

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    model = subparsers.add_parser("model", help="inspect the networks")
    sub = model.add_subparsers(dest="model_command", required=True)
    p = sub.add_parser("params", parents=[verbosity()],
                       help="parameter counts (generator, discriminator, total)")
    p.add_argument("--variant", default="mtdg", choices=list(VARIANTS))
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--levels", type=int, default=8, help="generator encoder levels (paper: 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_params)


def _params(args) -> int:
    from .._optional import require

    require("keras", "train")
    from .build import param_counts
    from .variants import check_size, get_variant

    check_size(get_variant(args.variant), args.size, args.levels)  # before importing Keras
    counts = param_counts(args.variant, args.size, args.ngf, args.levels)
    if args.json:
        print(json.dumps(counts))
    else:
        for k, v in counts.items():
            print(f"{k:>13}: {v:,}")
    return 0
