// The sidecar of a TensorRT engine (model.engine.json, written by `cxrmt export --engine`),
// read and checked exactly as cxrmt/runtime/engine_cache.py does, without TensorRT itself, so
// that the check is testable anywhere (tests/test_trt_sidecar.py compiles it with a driver).
#pragma once
#include <map>
#include <string>

namespace cxrmt {
namespace detail {

// What the running system is, in the sidecar key's terms.
struct trt_system {
  std::string tensorrt;            // "10.3.0": the library's major.minor.patch
  std::string gpu;                 // cudaDeviceProp::name
  std::string compute_capability;  // "8.7"
};

struct trt_sidecar {
  std::map<std::string, std::string> metadata;  // the "model" object + cxrmt.precision
  std::string precision;                        // "fp32" or "fp16"
  bool has_dla = false;
  int dla_core = 0;
  std::string rebuild;                          // the `cxrmt export` call that rebuilds the engine
};

std::string sidecar_path(const std::string& engine_path);

// engine_cache.rebuild_command's quoting (Python's shlex.quote).
std::string shell_quote(const std::string& s);

// Reads engine_path's sidecar and checks it against `current` (TensorRT version, GPU name,
// compute capability). Throws std::runtime_error with engine_cache's messages: no sidecar, not
// JSON, not a sidecar, or "built for another system (...)" with the rebuild command. A recorded
// version "10.3.0.26" (Python's trt.__version__ may carry the build number) matches "10.3.0".
trt_sidecar check_sidecar(const std::string& engine_path, const trt_system& current);

}  // namespace detail
}  // namespace cxrmt
