"""What a trained generator is, read from its own layers (no TensorFlow import needed)."""

VARIANT_NAMES = {("mt", False): "mt", ("mt", True): "mtdg", ("seg", False): "st-seg",
                 ("seg", True): "stdg-seg", ("bse", False): "st-bse", ("bse", True): "stdg-bse"}


def describe_generator(model) -> tuple:
    """(variant name, task) read from the generator's own layers."""
    try:
        head = model.get_layer("output")
    except ValueError:
        raise ValueError(f"{model.name!r} is not a cxrmt pix2pix generator (no 'output' head); "
                         "only the pix2pix variants are exported") from None
    channels, seg = int(model.output_shape[-1]), int(head.get_config()["seg_channels"])
    task = "mt" if channels == 6 else ("seg" if seg else "bse")
    dilated = any(layer.name.endswith("_pool") for layer in model.layers)
    return VARIANT_NAMES[task, dilated], task
