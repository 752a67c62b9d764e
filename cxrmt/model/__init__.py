"""Networks (`cxrmt.model`): pix2pix U-Net generator, plain or dilated ("dG"), PatchGAN, the
paper's six schemes and its U-Net and autoencoder baselines.

`cxrmt.model.variants` is pure Python; the builders in `cxrmt.model.build` import Keras.
"""

from .variants import HEADS, VARIANTS, Variant, check_size, get_variant

__all__ = ["HEADS", "VARIANTS", "Variant", "check_size", "get_variant"]
