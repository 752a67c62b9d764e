"""Export a trained generator for deployment (`cxrmt export`).

Modules, imported on demand (TensorFlow, onnx and TensorRT load only inside the step that needs
them):
  metadata      the cxrmt.* keys an exported model carries; SHA-256 helpers
  onnx_export   Keras -> ONNX (static shape, opset >= 17, metadata), checked against TensorFlow
  fp16          FP32 ONNX -> FP16 ONNX (FP32 I/O), checked in task terms and for overflow
  checks        the inputs of those checks (real radiographs or chest phantoms)
  engine        ONNX -> TensorRT engine (strongly typed or FP16 flag, DLA, timing cache)
  engine_cache  engine cache keys and sidecar JSON; engine/GPU/TensorRT-version checks
  triton        a Triton Inference Server model repository
  flops         convolution FLOP counts for GFLOP/s figures
  commands      the `cxrmt export` command
"""
