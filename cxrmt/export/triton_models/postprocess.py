"""cxrmt post-processing for Triton's Python backend: MODEL_OUTPUT (with MODEL_INPUT, ORIGINAL
and FRAME from pre-processing) -> MASKS, LABELS, SEGMENTATION, OVERLAY, MEASUREMENTS and
BONE_SUPPRESSED at the radiograph's full size, as `cxrmt.pipeline.Predictor` returns them.

A template: `cxrmt export --triton DIR` copies it to DIR/<name>_postprocess/1/model.py. It needs
the cxrmt package installed in the Python backend's environment; cxrmt itself never imports
this file. One image per request (max_batch_size 0).
"""

import json

import triton_python_backend_utils as pb_utils

from cxrmt.export.triton_steps import answer, finish, frame_info, params_of, string_tensor
from cxrmt.infer.measure import measurements

INPUTS = ("MODEL_OUTPUT", "MODEL_INPUT", "ORIGINAL", "FRAME")


class TritonPythonModel:
    def initialize(self, args):
        self.params = params_of(args)

    def execute(self, requests):
        return answer(pb_utils, requests, INPUTS, self._one)

    def _one(self, t):
        out = finish(self.params, *(t[n] for n in INPUTS))
        if "MASKS" in out:
            info = frame_info(t["FRAME"])
            found = measurements(out["MASKS"], info["spacing_mm"], info["spacing_tag"])
            out["MEASUREMENTS"] = string_tensor(json.dumps(found))
        return out
