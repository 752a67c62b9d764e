"""The one real radiograph shipped in the package (see NOTICE.md for its source and terms)."""

import os

DEMO = "NIH-00000001_000.png"
ATTRIBUTION = ("NIH ChestX-ray14 image 00000001_000 (NIH Clinical Center, "
               "https://nihcc.app.box.com/v/ChestXray-NIHCC; Wang X et al., CVPR 2017); "
               "no restrictions on use, attribution required")


def demo_radiograph() -> str:
    """Path of the shipped sample radiograph; a clear error when the installation lacks it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), DEMO)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: the sample radiograph is missing from this "
                                "installation; reinstall cxrmt")
    return path
