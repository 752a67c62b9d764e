"""Export a trained generator for deployment (`cxrmt export`).

Modules, imported on demand (TensorFlow, onnx and TensorRT load only inside the step that needs
them; the metadata and engine cache keys they write live in `cxrmt.runtime`):
  onnx_export   Keras -> ONNX (static shape, opset >= 17, metadata), checked against TensorFlow
  fp16          FP32 ONNX -> FP16 ONNX (FP32 I/O), checked in task terms and for overflow
  half_weights  FP32 compute, FP16-stored weights (half the file)
  int8          INT8 QDQ ONNX for CPUs, calibrated on radiographs
  subpixel      ConvTranspose -> Conv + DepthToSpace rewrite (faster INT8 on ONNX Runtime)
  graph_edit    small ONNX graph helpers shared by those rewrites
  precision     FP16/INT8 checks in task terms (Dice ratio, bone PSNR)
  phantom       the inputs of those checks (real radiographs or chest phantoms)
  engine        ONNX -> TensorRT engine (strongly typed or FP16 flag, DLA, timing cache)
  triton        a Triton Inference Server model repository
  flops         convolution FLOP counts for GFLOP/s figures
  commands      the `cxrmt export` command
"""
