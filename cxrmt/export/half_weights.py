"""FP32 ONNX with its weights stored as FP16: half the file, FP32 arithmetic.

Each large FP32 initializer is stored in FP16 and cast back by a Cast node; ONNX Runtime folds
those casts into FP32 constants when it loads the model, so inference runs exactly the FP32
graph on weights rounded to FP16 (relative error <= 2^-11). Unlike an FP16 model, this needs no
FP16 kernels, so it is the size-saving form for CPUs (the shipped model uses it).
"""

import numpy as np

from cxrmt.io.writers import write_bytes
from cxrmt.runtime import metadata as md

from .fp16 import load_fp32_onnx
from .graph_edit import attributes, drop_unread_initializers

FP16_MAX = 65504.0


def store_weights_fp16(src, dst, min_elements: int = 1024) -> dict:
    """Write `dst` from the FP32 ONNX `src`; returns {"converted", "kept", "bytes"}. Tensors
    below `min_elements` (biases, shapes) and any with values beyond FP16's range stay FP32."""
    onnx, model, meta = load_fp32_onnx(src)
    from onnx import TensorProto, helper, numpy_helper

    casts, converted, kept = [], 0, 0
    for init in model.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elements or np.abs(arr).max(initial=0.0) > FP16_MAX:
            kept += 1
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr.astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT,
                                      name=name + "_to_fp32"))
        converted += 1
    nodes = casts + list(model.graph.node)    # casts first: the graph stays topologically sorted
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    md.set_onnx_metadata(model, {**meta, md.PREFIX + "weights_storage": "fp16"})
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    write_bytes(dst, data)
    return {"converted": converted, "kept": kept, "bytes": len(data)}


def unpack_half_weights(model) -> int:
    """Undo `store_weights_fp16` in place: every FP16 initializer cast to FP32 becomes an FP32
    initializer (graph rewrites such as the INT8 export need weights as plain constants).
    Returns the number of weights unpacked."""
    from onnx import TensorProto, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    casts = [n for n in g.node if n.op_type == "Cast" and n.input[0] in inits
             and inits[n.input[0]].data_type == TensorProto.FLOAT16
             and attributes(n).get("to") == TensorProto.FLOAT]
    for n in casts:
        value = numpy_helper.to_array(inits[n.input[0]]).astype(np.float32)
        g.initializer.append(numpy_helper.from_array(value, n.output[0]))
        g.node.remove(n)
    drop_unread_initializers(g)
    return len(casts)
