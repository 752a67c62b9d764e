"""cxrmt pre-processing for Triton's Python backend: IMAGE_BYTES (an encoded PNG/TIFF/JPEG/GIF
or DICOM file) or PIXELS (raw uint16, display polarity) -> MODEL_INPUT, ORIGINAL, FRAME.

A template: `cxrmt export --triton DIR` copies it to DIR/<name>_preprocess/1/model.py. It needs
the cxrmt package (with its `dicom` extra for DICOM) installed in the Python backend's
environment; cxrmt itself never imports this file. One image per request (max_batch_size 0).
"""

import triton_python_backend_utils as pb_utils

from cxrmt.export.triton_steps import answer, params_of, prepare


class TritonPythonModel:
    def initialize(self, args):
        self.params = params_of(args)

    def execute(self, requests):
        return answer(pb_utils, requests, ("IMAGE_BYTES", "PIXELS"),
                      lambda t: prepare(self.params, t["IMAGE_BYTES"], t["PIXELS"]))
