#!/usr/bin/env bash
# Build a cxrmt TensorRT engine with trtexec on a desktop/server GPU, then record its sidecar.
#
#   trt/build_desktop.sh MODEL.onnx OUT.engine [fp32|fp16]
#
# MODEL.onnx: the FP32 ONNX written by `cxrmt export MODEL.keras --onnx MODEL.onnx [--fp16]`.
# fp16 on TensorRT >= 11: builds MODEL.fp16.onnx (strongly typed; the --fp16 flag is gone).
# fp16 on TensorRT 10.x:  builds MODEL.onnx with trtexec --fp16.
# Env: TRTEXEC (default: trtexec on PATH), WORKSPACE_MIB (2048), TIMING_CACHE (trt/timing.cache).
set -euo pipefail
onnx=${1:?usage: $0 MODEL.onnx OUT.engine [fp32|fp16]}
engine=${2:?usage: $0 MODEL.onnx OUT.engine [fp32|fp16]}
precision=${3:-fp16}
trtexec=${TRTEXEC:-trtexec}
cache=${TIMING_CACHE:-$(dirname "$0")/timing.cache}
major=$(python3 -c 'import tensorrt; print(tensorrt.__version__.split(".")[0])')

args=(--onnx="$onnx" --saveEngine="$engine" --memPoolSize=workspace:"${WORKSPACE_MIB:-2048}"
      --timingCacheFile="$cache" --skipInference)
adopt=(cxrmt export "$onnx" --engine "$engine" --adopt)
if [[ $precision == fp16 ]]; then
  adopt+=(--fp16)
  if (( major >= 11 )); then
    half=${onnx%.onnx}.fp16.onnx
    [[ -f $half ]] || { echo "$half missing: run cxrmt export ... --fp16 first" >&2; exit 1; }
    args[0]=--onnx="$half"
  else
    args+=(--fp16)
  fi
fi
"$trtexec" "${args[@]}"
"${adopt[@]}"      # writes OUT.engine.json (ONNX hash, TensorRT version, GPU, precision)
