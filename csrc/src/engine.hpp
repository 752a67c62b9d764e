// The network behind a cxrmt pipeline: one small interface, one implementation per runtime
// (ONNX Runtime through its C API, TensorRT through its C++ API). Each runtime is compiled only
// when CMake found it (CXRMT_ONNXRUNTIME, CXRMT_TENSORRT); the open_* of a runtime that was not
// built throws std::runtime_error saying which CMake option builds it.
#pragma once
#include <cxrmt/core.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <stdexcept>
#include <vector>

namespace cxrmt {
namespace detail {

struct engine_options {
  std::string device = "auto";  // ONNX Runtime: "cpu", "cuda" or "auto" (CUDA when the library has it)
  int device_index = 0;         // CUDA device
  int threads = 0;              // ONNX Runtime intra-op threads; 0: its default
  std::string library;          // ONNX Runtime shared library to load; "": $CXRMT_ONNXRUNTIME_LIBRARY, else
                                // libonnxruntime.so.1 from the loader's search path
};

struct tensor_desc {
  std::string name;
  std::vector<std::int64_t> shape;  // static: cxrmt exports have fixed shapes (batch included)
  dtype type = dtype::f32;          // f32 or f16
};

// Work for a device-resident run (TensorRT with the CUDA kernels): the raw radiograph goes up
// once, preprocess_cuda writes the engine's input, decode_cuda and overlay_cuda read its output,
// and the results come down once. All targets are host memory; any may be null.
struct device_request {
  image_view image;                  // host pixels
  layout order = layout::nhwc;       // the model's, as the pipeline read it from its metadata
  int size = 0;                      // model input S
  window_options window;             // resolved: has_window set (percentiles are host work)
  decode_options decode;
  const overlay_options* overlay = nullptr;  // null: no overlay drawn on the device
  float pad_value = -1.0f;
  decode_targets targets;
  std::uint8_t* overlay_rgb = nullptr;       // H x W x 3 when overlay is set
  float* output = nullptr;                   // the raw network output (output() shape), as float32
  frame* frame_out = nullptr;
  double* stage_ms = nullptr;                // [preprocess, inference, decode]
};

class engine {
 public:
  virtual ~engine() = default;
  // e.g. "onnxruntime-cpu", "onnxruntime-cuda", "tensorrt".
  virtual std::string backend() const = 0;
  // The model's cxrmt.* metadata (ONNX metadata_props, or a TensorRT sidecar's "model" object
  // plus cxrmt.precision from its key): string values, keys as the Python runtime reads them.
  virtual const std::map<std::string, std::string>& metadata() const = 0;
  virtual const tensor_desc& input() const = 0;
  virtual const tensor_desc& output() const = 0;
  // Host path: x (input() shape, float32, model layout) -> y (output() shape, float32).
  // Safe to call from several threads at once; an engine serialises internally where it must.
  virtual void run(const float* x, float* y) = 0;
  // True when run_on_device is available (a CUDA build and a device-resident runtime).
  virtual bool device_resident() const { return false; }
  // Whole-image run on the device (see device_request); serialised per engine.
  virtual void run_on_device(const device_request&) {
    throw std::runtime_error("this engine has no device-resident path");
  }
};

std::unique_ptr<engine> open_onnxruntime(const std::string& path, const engine_options& options);
std::unique_ptr<engine> open_tensorrt(const std::string& path, const engine_options& options);
// By suffix: .onnx -> ONNX Runtime; .engine/.plan -> TensorRT; anything else: std::invalid_argument.
std::unique_ptr<engine> open_engine(const std::string& path, const engine_options& options);

}  // namespace detail
}  // namespace cxrmt
