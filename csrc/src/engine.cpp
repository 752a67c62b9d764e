// open_engine: the runtime a model file needs, by its suffix.
#include "engine.hpp"

#include <algorithm>
#include <cctype>

namespace cxrmt {
namespace detail {

namespace {
bool ends_with(std::string s, const std::string& suffix) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::unique_ptr<engine> open_engine(const std::string& path, const engine_options& options) {
  if (ends_with(path, ".onnx")) return open_onnxruntime(path, options);
  if (ends_with(path, ".engine") || ends_with(path, ".plan")) return open_tensorrt(path, options);
  throw std::invalid_argument("model_path: " + path +
                              ": unknown model suffix (the C pipeline runs .onnx, .engine and .plan)");
}

}  // namespace detail
}  // namespace cxrmt
