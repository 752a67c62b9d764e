"""The model shipped inside the package (see MODEL_CARD.md): `cxrmt infer` uses it by default."""

import os

DEFAULT = "cxrmt-mtdg-jsrt256.onnx"


def default_model() -> str:
    """Path of the shipped ONNX model; a clear error when the installation lacks it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), DEFAULT)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: the shipped model is missing from this installation; "
                                "reinstall cxrmt or pass --model FILE")
    return path
