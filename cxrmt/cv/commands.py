"""argparse wiring of `cxrmt cv` (cli.py calls register). TensorFlow and matplotlib are imported
only when the command runs."""

from ..model.variants import HEADS
from ..train.config import AUGMENTS, SEG_LOSSES, WINDOWS, TrainConfig

# Options passed to TrainConfig unchanged (dest names are its field names).
TRAIN_FIELDS = ("size", "ngf", "levels", "ndf", "head", "batch", "epochs", "steps", "lam", "lr",
                "augment", "window", "seg_loss", "edge", "mixed_precision", "l1_target", "seed",
                "val_every", "log_every", "lung_masked", "data")

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cv", parents=[verbosity()],
        help="k-fold cross-validation of several variants: tables and figures",
        description="Train and test every fold of every variant (finished folds are skipped, "
                    "unfinished runs resume), then write report.md (the paper's Tables I, III, "
                    "IV) and figures/ (Figures 2-8). The test fold is the validation fold, so "
                    "every run keeps its last weights.")
    p.add_argument("--variants", default="mtdg,mt,stdg,st,unet,autoencoder",
                   help="comma-separated: mtdg, mt, stdg, st (stdg/st: a segmentation and a "
                        "bone suppression network), unet, autoencoder")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--data", required=True, metavar="DIR", help="paired-layout folder")
    p.add_argument("--out", required=True, metavar="DIR", help="cross-validation folder")
    p.add_argument("--spacing", type=float, nargs=2, metavar=("ROW_MM", "COL_MM"),
                   help="pixel spacing of the data; adds HD95 in mm")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild report.md and figures from the folds already tested")
    t = p.add_argument_group("training (as `cxrmt train`)")
    t.add_argument("--size", type=int, default=512)
    t.add_argument("--ngf", type=int, default=64)
    t.add_argument("--levels", type=int, default=8)
    t.add_argument("--ndf", type=int, default=64)
    t.add_argument("--head", default="paper", choices=HEADS)
    t.add_argument("--batch", type=int, default=1)
    t.add_argument("--epochs", type=int)
    t.add_argument("--steps", type=int, help="total steps per run (overrides --epochs)")
    t.add_argument("--lambda", dest="lam", type=float, default=10.0)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--augment", default="paper", choices=AUGMENTS)
    t.add_argument("--window", default="auto", choices=WINDOWS)
    t.add_argument("--seg-loss", default="bce", choices=SEG_LOSSES)
    t.add_argument("--edge", type=float, default=0.0)
    t.add_argument("--mixed-precision", action="store_true")
    t.add_argument("--l1-target", type=float, default=0.005)
    t.add_argument("--lung-masked", action="store_true")
    t.add_argument("--seed", type=int, default=0, help="also fixes the folds")
    t.add_argument("--val-every", type=int, default=500)
    t.add_argument("--log-every", type=int, default=50, help="steps between logged losses")
    p.set_defaults(func=_cv)


def _cv(args) -> int:
    from . import experiment

    variants = experiment.parse_variants(args.variants)
    experiment.check_setup(args.data, args.folds)
    if args.spacing is not None and min(args.spacing) <= 0:
        raise ValueError("--spacing values must be positive")
    if not args.report_only:
        base = TrainConfig(out=args.out, folds=args.folds, keep="last", quiet=args.quiet,
                           **{k: getattr(args, k) for k in TRAIN_FIELDS})
        for v in variants:  # every network's options checked before hours of training
            for net in experiment.networks_of(v):
                experiment.fold_config(base, net, 0, args.out).validate()
        experiment.run_cv(base, variants, args.out, args.spacing)
    else:
        for v in variants:
            experiment.aggregate(args.out, v, args.folds)
    from .report import write_report

    print(f"cxrmt cv: wrote {write_report(args.out, variants, args.folds)}")
    return 0
