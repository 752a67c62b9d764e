"""`cxrmt train`: argparse wiring; TensorFlow is imported only when the command runs."""

from ..model.variants import HEADS, VARIANTS
from .config import AUGMENTS, KEEP, SEG_LOSSES, STATS, STRATEGIES, WINDOWS, TrainConfig

from cxrmt.logs import verbosity


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", parents=[verbosity()],
        help="train a variant (resumes from the latest checkpoint in --out)",
        description="Train one of the paper's schemes. Without --data it trains on DRR triplets "
                    "synthesised from the embedded chest CT. Re-running with the same --out "
                    "resumes from the latest checkpoint.")
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs, model)")
    p.add_argument("--variant", default="mtdg", choices=list(VARIANTS))
    p.add_argument("--data", help="paired-layout folder (default: synthesised DRR triplets)")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--levels", type=int, default=8, help="generator encoder levels (paper: 8)")
    p.add_argument("--head", default="paper", choices=HEADS,
                   help="paper: tanh image outputs, L1; residual: bone channels predict the bone "
                        "layer (output = input - b), organ channels trained with BCE")
    p.add_argument("--ndf", type=int, default=64, help="PatchGAN discriminator width (paper: 64)")
    p.add_argument("--batch", type=int, default=1, help="global batch size")
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps", type=int, help="total steps (overrides --epochs)")
    p.add_argument("--lambda", dest="lam", type=float, default=10.0, help="L1 weight (paper: 10)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--l1-target", type=float, default=0.005,
                   help="stop when the smoothed generator L1 reaches this (0: never)")
    p.add_argument("--augment", default="paper", choices=AUGMENTS,
                   help="paper: the paper's 5 fixed copies; robust: random geometry plus "
                        "scanner/site photometric shifts (cxrmt.data.photometric)")
    p.add_argument("--window", default="auto", choices=WINDOWS,
                   help="network window of the inputs (auto: robust field percentiles, as "
                        "cxrmt infer uses by default; full: the file's range)")
    p.add_argument("--seg-loss", default="bce", choices=SEG_LOSSES,
                   help="organ-channel loss of the residual head")
    p.add_argument("--edge", type=float, default=0.0,
                   help="weight of an L1 term on image gradients of the bone-suppressed image")
    p.add_argument("--lung-masked", action="store_true",
                   help="bone target multiplied by the lung masks, as the paper's authors did")
    p.add_argument("--folds", type=int, default=5, help="validation split by case (0: none)")
    p.add_argument("--val-fold", type=int, default=0)
    p.add_argument("--val-every", type=int, default=500, help="steps between validations")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--keep", default="best", choices=KEEP,
                   help="weights saved as model.keras: best validation step, or the last step "
                        "(cross-validation: the validation fold is the test fold, so no "
                        "selection on it)")
    p.add_argument("--inference-stats", default="auto", choices=STATS,
                   help="BatchNorm statistics at inference (auto: measured on validation)")
    p.add_argument("--strategy", default="default", choices=STRATEGIES,
                   help="mirrored: all local GPUs; multiworker: cluster from TF_CONFIG")
    p.add_argument("--mixed-precision", action="store_true",
                   help="mixed_float16 on a GPU, mixed_bfloat16 on a CPU with AVX512-BF16/AMX")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--drr-n", type=int, default=24, help="DRR triplets when --data is absent")
    p.set_defaults(func=_train)


def _train(args) -> int:
    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields}).validate()
    from .run import run_training

    record = run_training(cfg)
    best = record.get("best_validation")
    if best:
        print(f"best validation at step {best['step']}: score {best['score']:.4f}")
    return 0
