#!/usr/bin/env bash
# Compile-check the C++ TensorRT engine where TensorRT itself is not installed, against the
# headers of NVIDIA's public NVIDIA/TensorRT repository (see trt/README.md; never commit them).
#
#   trt/check_compile.sh HEADERS_DIR [--cmake]
#
# HEADERS_DIR holds NvInferRuntime.h (or has it under include/). Step 1 compiles the engine and
# the sidecar reader with the project's warnings as errors. --cmake also configures and builds
# libcxrmt with CXRMT_CUDA=ON CXRMT_TENSORRT=ON, linking a stub libnvinfer.so that defines only
# the two entry points the engine calls, and checks that the library really imports them.
# CUDA headers: $CUDA_HOME/include, else nvcc's. Exits non-zero on the first failure.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 HEADERS_DIR [--cmake]" >&2; exit 2; }
headers=$1
[ -f "$headers/NvInferRuntime.h" ] || headers=$headers/include
[ -f "$headers/NvInferRuntime.h" ] || { echo "$0: no NvInferRuntime.h in $1 or $1/include" >&2; exit 2; }
headers=$(cd "$headers" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cuda_home=${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")}
cuda_inc=$cuda_home/include
if [ ! -f "$cuda_inc/cuda_runtime_api.h" ]; then  # a wrapper nvcc: ask it where it lives
  cuda_inc=$(nvcc -v -x cu -E /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ INCLUDES="-I\([^"]*\)".*/\1/p' | head -1)
fi
[ -f "$cuda_inc/cuda_runtime_api.h" ] || { echo "$0: CUDA headers not found (set CUDA_HOME)" >&2; exit 2; }
version=$(printf '#include <NvInferVersion.h>\nNV_TENSORRT_MAJOR NV_TENSORRT_MINOR NV_TENSORRT_PATCH\n' \
  | "${CXX:-g++}" -E -P -x c++ -I"$headers" - | tail -1 | tr -s ' ' .)
echo "TensorRT headers $version ($headers), CUDA headers $cuda_inc"

cxx=${CXX:-g++}
for src in engine_tensorrt.cpp trt_sidecar.cpp; do
  "$cxx" -std=c++17 -fsyntax-only -Wall -Wextra -Wpedantic -Werror -fno-trapping-math \
    -DCXRMT_WITH_CUDA -DCXRMT_WITH_TENSORRT -DCXRMT_BUILDING -I"$root/csrc/include" \
    -isystem "$headers" -isystem "$cuda_inc" "$root/csrc/src/$src"
  echo "ok: csrc/src/$src compiles (-Wall -Wextra -Wpedantic -Werror)"
done
[ "${2:-}" = "--cmake" ] || exit 0

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/trt/lib"; ln -s "$headers" "$work/trt/include"
cat >"$work/stub.c" <<'EOF'
/* Link-only stand-in for libnvinfer: the symbols cxrmt's engine imports, never called. */
#include <stdint.h>
void* createInferRuntime_INTERNAL(void* logger, int32_t version) { (void)logger; (void)version; return 0; }
int32_t getInferLibVersion(void) { return 0; }
EOF
cc -shared -fPIC -o "$work/trt/lib/libnvinfer.so" "$work/stub.c"
cmake -S "$root" -B "$work/build" -DCXRMT_CUDA=ON -DCXRMT_TENSORRT=ON -DTENSORRT_ROOT="$work/trt" \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-75-real}" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
grep "TensorRT engine" "$work/configure.log"
cmake --build "$work/build" -j "${JOBS:-2}" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
lib=$(ls "$work"/build/libcxrmt.so.*.*.* | head -1)
for sym in createInferRuntime_INTERNAL getInferLibVersion; do
  nm -D --undefined-only "$lib" | grep -w "$sym" >/dev/null || { echo "$0: $lib does not import $sym" >&2; exit 1; }
done
if nm -DC --defined-only "$lib" | grep "tensorrt_engine\|check_sidecar" >/dev/null; then
  echo "$0: $lib exports internal TensorRT symbols" >&2; exit 1
fi
if grep -A3 "engine_tensorrt\|trt_sidecar" "$work/build.log" | grep -i "warning" >/dev/null; then
  grep -A3 "engine_tensorrt\|trt_sidecar" "$work/build.log"; exit 1
fi
echo "ok: libcxrmt builds with CXRMT_TENSORRT=ON and imports createInferRuntime_INTERNAL, getInferLibVersion"
