"""The paper's six schemes and two baselines, described without TensorFlow (cheap to import)."""

from dataclasses import dataclass

# Target channels of each task in the 6-channel layout of DESIGN.md.
TASK_CHANNELS = {"seg": (0, 3), "bse": (3, 6), "mt": (0, 6)}
HEADS = ("paper", "residual")


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str      # "gan" (pix2pix), "unet" or "autoencoder"
    task: str      # "seg", "bse" or "mt"
    dilated: bool = False
    help: str = ""

    @property
    def channels(self) -> tuple:
        """(first, end) of this variant's output channels within the 6-channel target."""
        return TASK_CHANNELS[self.task]

    @property
    def out_channels(self) -> int:
        first, end = self.channels
        return end - first

    @property
    def seg_channels(self) -> int:
        return 3 if self.task in ("seg", "mt") else 0


VARIANTS = {v.name: v for v in (
    Variant("st-seg", "gan", "seg", False, "single-task pix2pix, segmentation"),
    Variant("st-bse", "gan", "bse", False, "single-task pix2pix, bone suppression"),
    Variant("mt", "gan", "mt", False, "multitask pix2pix (6 outputs)"),
    Variant("stdg-seg", "gan", "seg", True, "single-task, dilated generator, segmentation"),
    Variant("stdg-bse", "gan", "bse", True, "single-task, dilated generator, bone suppression"),
    Variant("mtdg", "gan", "mt", True, "multitask, dilated generator (the paper's MTdG)"),
    Variant("unet", "unet", "seg", False, "Ronneberger U-Net segmentation baseline"),
    Variant("autoencoder", "autoencoder", "bse", False,
            "tied-weight convolutional autoencoder bone-suppression baseline"),
)}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}") from None


def check_size(variant: Variant, size: int, levels: int = 8) -> None:
    """Raise ValueError unless `size` fits the network: a pix2pix generator halves the image
    `levels` times, the U-Net 4 times, the autoencoder 3 times."""
    if variant.kind == "gan" and not 1 <= levels <= 8:
        raise ValueError(f"levels must be 1..8 (got {levels})")
    halvings = {"gan": levels, "unet": 4, "autoencoder": 3}[variant.kind]
    step = 2 ** halvings
    if size < step or size % step:
        what = f"the {levels}-level generator" if variant.kind == "gan" else f"'{variant.name}'"
        hint = " (or fewer --levels)" if variant.kind == "gan" else ""
        raise ValueError(f"size {size} is not supported: {what} needs a positive multiple of "
                         f"{step}, e.g. 256 or 512{hint}")
