#!/usr/bin/env bash
# Build a cxrmt TensorRT engine on a Jetson (JetPack 6.x: TensorRT 10.3), optionally on a DLA.
#
#   trt/build_jetson.sh MODEL.onnx OUT.engine [DLA_CORE]
#
# Always FP16 (Orin's GPU tensor cores and the DLA want it) via the TensorRT 10.x --fp16 flag on
# the FP32 ONNX; with DLA_CORE, layers the DLA cannot run fall back to the GPU.
# Run on the Jetson itself: engines are tied to the device and the TensorRT version.
# For repeatable timings first: sudo nvpmodel -m 0 && sudo jetson_clocks
set -euo pipefail
onnx=${1:?usage: $0 MODEL.onnx OUT.engine [DLA_CORE]}
engine=${2:?usage: $0 MODEL.onnx OUT.engine [DLA_CORE]}
dla=${3:-}
trtexec=${TRTEXEC:-/usr/src/tensorrt/bin/trtexec}
cache=${TIMING_CACHE:-$(dirname "$0")/timing-jetson.cache}

args=(--onnx="$onnx" --saveEngine="$engine" --fp16 --memPoolSize=workspace:"${WORKSPACE_MIB:-1024}"
      --timingCacheFile="$cache" --skipInference)
adopt=(cxrmt export "$onnx" --engine "$engine" --fp16 --adopt)
if [[ -n $dla ]]; then
  args+=(--useDLACore="$dla" --allowGPUFallback)
  adopt+=(--dla "$dla")
fi
"$trtexec" "${args[@]}"
"${adopt[@]}"
