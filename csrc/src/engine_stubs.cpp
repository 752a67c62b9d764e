// The open_* of runtimes this build does not have: a clear error naming the CMake option.
#include "engine.hpp"

namespace cxrmt {
namespace detail {

#ifndef CXRMT_WITH_ONNXRUNTIME
std::unique_ptr<engine> open_onnxruntime(const std::string& path, const engine_options&) {
  throw std::runtime_error(path + ": this libcxrmt was built without the ONNX Runtime engine "
                           "(rebuild with CXRMT_ONNXRUNTIME=ON and ONNX Runtime's headers: "
                           "csrc/cmake/get_onnxruntime_headers.sh)");
}
#endif

#ifndef CXRMT_WITH_TENSORRT
std::unique_ptr<engine> open_tensorrt(const std::string& path, const engine_options&) {
  throw std::runtime_error(path + ": this libcxrmt was built without the TensorRT engine "
                           "(rebuild with CXRMT_TENSORRT=ON where TensorRT is installed)");
}
#endif

}  // namespace detail
}  // namespace cxrmt
