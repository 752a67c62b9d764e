"""OpenVINO IR (`.xml` + `.bin`) of a cxrmt ONNX model, keeping its cxrmt.* metadata.

The pair is written under temporary names, checked there when a check is given, and renamed into
place together (`cxrmt.io.writers.staged`): a failed conversion or check leaves neither file.
"""

import os

from cxrmt._optional import require
from cxrmt.contract import PREFIX
from cxrmt.io.writers import staged
from cxrmt.runtime.cpu import cpu_has_bf16
from cxrmt.runtime.openvino_backend import model_metadata, set_model_metadata


def ir_paths(xml) -> tuple:
    """(OUT.xml, OUT.bin) of an IR path; an error unless it ends in .xml."""
    xml = os.fspath(xml)
    if not xml.lower().endswith(".xml"):
        raise ValueError(f"{xml}: an OpenVINO IR is written as OUT.xml (+ OUT.bin)")
    return xml, os.path.splitext(xml)[0] + ".bin"


def check_hints() -> tuple:
    """The inference precisions an IR is checked under on this CPU: f32, and bf16 where the CPU
    has it (what the backend's precision "auto" then runs)."""
    return ("f32", "bf16") if cpu_has_bf16() else ("f32",)


def convert_ir(src, dst_xml, check=None, half_weights=False) -> dict:
    """Write the IR of the cxrmt ONNX `src` at `dst_xml` (+ .bin). `check(tmp_xml)`, when given,
    runs on the written IR before it is renamed into place; what it raises aborts the write.
    `half_weights`: store the weights as FP16 (maths unchanged). Returns {"bytes": size of the
    .bin, "check": what check returned}."""
    ov = require("openvino", "openvino")
    xml, weights = ir_paths(dst_xml)
    model = ov.convert_model(os.fspath(src))
    meta = model_metadata(model)
    if not meta:
        raise ValueError(f"{src}: no cxrmt metadata; export it with `cxrmt export`")
    meta.pop(PREFIX + "weights_storage", None)      # the IR's own storage, not the source's
    if half_weights:
        meta[PREFIX + "weights_storage"] = "fp16"
    set_model_metadata(model, meta)
    with staged([xml, weights], suffix=".xml") as tmp:   # OpenVINO insists on .xml
        saved = os.path.splitext(tmp[xml])[0] + ".bin"   # save_model names the .bin after the .xml
        try:
            ov.save_model(model, tmp[xml], compress_to_fp16=half_weights)
            checked = check(tmp[xml]) if check is not None else None
            size = os.path.getsize(saved)
            os.replace(saved, tmp[weights])
        finally:
            if os.path.exists(saved):
                os.remove(saved)
    return {"bytes": size, "check": checked}
