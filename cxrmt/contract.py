"""The data contracts every layer shares, stated once (see DESIGN.md "Contracts").

Three orders, each with its own name because each is used somewhere:
  ORGANS       the network's segmentation channels 0, 1, 2 (R, G, B of the colour image)
  MASK_ORGANS  the single-label map's labels 1, 2, 3 (and the order of mask files and reports)
  PALETTE      RGB by label: background, right lung, left lung, heart
"""

ORGANS = ("heart", "left_lung", "right_lung")       # model output channels 0, 1, 2
MASK_ORGANS = ("right_lung", "left_lung", "heart")  # labels 1, 2, 3
LABELS = {"background": 0, **{o: i + 1 for i, o in enumerate(MASK_ORGANS)}}
PALETTE = [[0, 0, 0], [0, 0, 255], [0, 255, 0], [255, 0, 0]]

# What each output channel holds, by task (cxrmt.channels in a model's metadata).
CHANNELS = {"mt": list(ORGANS) + ["bone_suppressed"] * 3, "seg": list(ORGANS),
            "bse": ["bone_suppressed"] * 3}
OUTPUT_CHANNELS = {task: len(names) for task, names in CHANNELS.items()}
POLARITY = "MONOCHROME2 (bone bright); input grey in [-1, 1] replicated to 3 channels"

# An exported model's metadata: ONNX metadata_props (and engine sidecars) named PREFIX + key.
PREFIX = "cxrmt."
METADATA_KEYS = ("version", "variant", "task", "size", "batch", "layout", "precision",
                 "weights_sha256", "output_range", "channels", "polarity", "palette", "window")
