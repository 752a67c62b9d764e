"""The `cxrmt infer` output layout, written once: `cxrmt eval --predictions` reads the same names.

Per input `<stem>` (the input file's name without its suffix), in the output folder:
  <stem>_bse.png                 bone-suppressed radiograph, input size and bit depth
  <stem>_seg.png                 colour segmentation (RGB), input size
  <stem>_overlay.png             segmentation over the radiograph (RGB), input size
  <stem>.json                    model, backend, timings, organ areas, cardiothoracic ratio
  <stem>_mask_<organ>.png        with --masks: 0/255 per organ (right_lung, left_lung, heart)
  <stem>_bse.dcm, <stem>_seg.dcm with --dicom-out (DICOM inputs): derived CR/DX (or Secondary
                                 Capture), DICOM SEG
"""

import os

from cxrmt.contract import MASK_ORGANS

IMAGES = {"bse": "_bse.png", "seg": "_seg.png", "overlay": "_overlay.png", "json": ".json"}
DICOM = {"bse_dcm": "_bse.dcm", "seg_dcm": "_seg.dcm"}


def mask_name(stem: str, organ: str) -> str:
    return f"{stem}_mask_{organ}.png"


def output_paths(folder, stem: str, masks: bool = False, dicom: bool = False) -> dict:
    """{kind: path} of every file one input produces with these options."""
    names = dict(IMAGES, **(DICOM if dicom else {}))
    paths = {k: os.path.join(folder, stem + suffix) for k, suffix in names.items()}
    if masks:
        paths.update({f"mask_{o}": os.path.join(folder, mask_name(stem, o)) for o in MASK_ORGANS})
    return paths
