"""cxrmt: one chest X-ray in, organ segmentation and bone-suppressed radiograph out.

Importing the package is cheap: the compiled core, onnxruntime, TensorFlow and TensorRT are
loaded only by the modules that need them.
"""

__version__ = "0.1.0"

ORGANS = ("heart", "left_lung", "right_lung")  # model output channels 0, 1, 2
LABELS = {"background": 0, "right_lung": 1, "left_lung": 2, "heart": 3}  # single-label map
