"""cxrmt: one chest X-ray in, organ segmentation and bone-suppressed radiograph out.

Layers, each importing only from layers to its left (tests/test_layering.py holds this):
    contract, errors, logs, _optional, _core, kernels, window, shipped, samples → io → metrics → model, data → runtime → pipeline → export, train, evaluate → cv → infer, commands → cli

Importing the package is cheap: the compiled core, onnxruntime, TensorFlow and TensorRT are
loaded only by the modules that need them.
"""

__version__ = "0.1.0"

from .contract import LABELS, ORGANS  # noqa: E402,F401  (public since 0.1; defined in contract)
