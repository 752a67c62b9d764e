"""The `cxrmt infer` output layout, written once: `cxrmt eval --predictions` reads the same names.

Per input `<stem>` (the input file's name without its suffix), in the output folder:
  <stem>_bse.png                 bone-suppressed radiograph, input size and bit depth
  <stem>_seg.png                 colour segmentation (RGB), input size
  <stem>_overlay.png             segmentation over the radiograph (RGB), input size
  <stem>_labels.png              with --outputs labels: one channel, 0 background, 1 right lung,
                                 2 left lung, 3 heart (cxrmt.contract.LABELS)
  <stem>.json                    model, backend, timings, organ areas, cardiothoracic ratio
  <stem>_mask_<organ>.png        with --masks: 0/255 per organ (right_lung, left_lung, heart)
  <stem>_bse.dcm, <stem>_seg.dcm with --dicom-out (DICOM inputs): derived CR/DX (or Secondary
                                 Capture), DICOM SEG
"""

import os

from cxrmt.contract import MASK_ORGANS

IMAGES = {"bse": "_bse.png", "seg": "_seg.png", "overlay": "_overlay.png",
          "labels": "_labels.png", "json": ".json"}
OUTPUTS = ("bse", "seg", "overlay", "labels", "masks", "json")   # what --outputs may name
DEFAULT_OUTPUTS = ("bse", "seg", "overlay", "json")
DICOM = {"bse_dcm": "_bse.dcm", "seg_dcm": "_seg.dcm"}


def mask_name(stem: str, organ: str) -> str:
    return f"{stem}_mask_{organ}.png"


def output_paths(folder, stem: str, masks: bool = False, dicom: bool = False,
                 outputs=DEFAULT_OUTPUTS) -> dict:
    """{kind: path} of every file one input produces with these options (`outputs`: kinds of
    OUTPUTS; `masks=True` adds "masks")."""
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"unknown output kind(s) {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(OUTPUTS)}")
    kinds = set(outputs) | ({"masks"} if masks else set())
    names = {k: v for k, v in IMAGES.items() if k in kinds}
    names.update(DICOM if dicom else {})
    paths = {k: os.path.join(folder, stem + suffix) for k, suffix in names.items()}
    if "masks" in kinds:
        paths.update({f"mask_{o}": os.path.join(folder, mask_name(stem, o)) for o in MASK_ORGANS})
    return paths
