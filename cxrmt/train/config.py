"""Training configuration: one dataclass, validated before TensorFlow is imported."""

import dataclasses
import json
import os
from dataclasses import dataclass

from ..model.variants import HEADS, check_size, get_variant

AUGMENTS = ("paper", "robust", "random", "none")
WINDOWS = ("auto", "full")
SEG_LOSSES = ("bce", "bce+dice")
STRATEGIES = ("default", "mirrored", "multiworker")
STATS = ("auto", "moving", "instance")
KEEP = ("best", "last")
# Fields that fix the network; a run folder cannot be resumed with different values.
ARCH_FIELDS = ("variant", "size", "ngf", "levels", "head", "ndf")
# Fields that fix what the network sees, with the value runs made before the field existed had.
INPUT_FIELDS = {"window": "full"}


@dataclass
class TrainConfig:
    out: str
    variant: str = "mtdg"
    data: str | None = None          # paired-layout folder; None: DRR triplets generated in out/
    size: int = 512
    ngf: int = 64
    levels: int = 8
    head: str = "paper"
    ndf: int = 64                    # PatchGAN width (paper: 64); most of a CPU step at ngf <= 32
    batch: int = 1
    epochs: int | None = None
    steps: int | None = None
    lam: float = 10.0                # lambda of eq. (3)
    lr: float = 2e-4
    beta1: float = 0.5
    dropout: float = 0.5
    l1_target: float = 0.005         # stop when the smoothed generator L1 reaches it (paper)
    augment: str = "paper"          # robust: random geometry + the photometric chain
    window: str = "auto"             # network window of every input (cxrmt.window)
    seg_loss: str = "bce"            # organ channels of the residual head: BCE, or BCE + soft Dice
    edge: float = 0.0                # weight of L1 on image gradients of the bone-suppressed image
    lung_masked: bool = False        # the authors' bone target (multiplied by the lung masks)
    folds: int = 5                   # validation = fold `val_fold` of `folds` (by case); 0: none
    val_fold: int = 0
    val_every: int = 500             # steps between validations/checkpoints
    log_every: int = 50
    keep: str = "best"               # model.keras weights: best validation step or last step
    inference_stats: str = "auto"    # BatchNorm at inference; auto = measured on validation
    strategy: str = "default"
    mixed_precision: bool = False
    seed: int = 0
    drr_n: int = 24
    quiet: bool = False

    def validate(self) -> "TrainConfig":
        v = get_variant(self.variant)
        check_size(v, self.size, self.levels)
        _choice("head", self.head, HEADS)
        _choice("augment", self.augment, AUGMENTS)
        _choice("window", self.window, WINDOWS)
        _choice("seg-loss", self.seg_loss, SEG_LOSSES)
        if self.seg_loss != "bce" and self.head != "residual" and v.kind != "unet":
            raise ValueError(f"--seg-loss {self.seg_loss} needs --head residual (the paper's "
                             "head trains every channel with L1)")
        if self.edge < 0:
            raise ValueError("--edge must be >= 0")
        _choice("strategy", self.strategy, STRATEGIES)
        _choice("inference-stats", self.inference_stats, STATS)
        _choice("keep", self.keep, KEEP)
        for name in ("ngf", "ndf", "batch", "val_every", "log_every", "drr_n"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
        if self.epochs is None and self.steps is None:
            raise ValueError("give --epochs or --steps")
        if (self.epochs is not None and self.epochs < 1) or (self.steps is not None
                                                             and self.steps < 1):
            raise ValueError("--epochs and --steps must be >= 1")
        if self.folds == 1 or self.folds < 0 or (self.folds and not 0 <= self.val_fold
                                                 < self.folds):
            raise ValueError("--folds must be 0 (no validation) or >= 2, with 0 <= --val-fold "
                             "< --folds")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError("--dropout must be in [0, 1)")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check_resumable(self, path: str) -> None:
        """Refuse to resume a run folder written with a different network."""
        if not os.path.exists(path):
            return
        with open(path) as fh:
            old = json.load(fh)
        defaults = legacy_defaults()
        diff = [f"{k}: {old.get(k, defaults[k])} -> {getattr(self, k)}"
                for k in (*ARCH_FIELDS, *INPUT_FIELDS) if old.get(k, defaults[k]) != getattr(self, k)]
        if diff:
            raise ValueError(f"{os.path.dirname(path)} holds a run with another network or input "
                             f"window ({'; '.join(diff)}); use a new --out")


def legacy_defaults() -> dict:
    """What a recorded config means for a field it lacks (added after it was written): the
    default, except INPUT_FIELDS, which older runs had otherwise."""
    return {**TrainConfig(out="").to_dict(), **INPUT_FIELDS}


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"--{name} must be one of {', '.join(allowed)} (got {value!r})")
