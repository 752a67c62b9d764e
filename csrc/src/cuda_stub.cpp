// Built when CXRMT_CUDA is OFF or nvcc was not found: the device API says so loudly.
#include "internal.hpp"

#include <stdexcept>

namespace cxrmt {
namespace cuda {
namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error("cxrmt was built without CUDA (CXRMT_CUDA=OFF or no nvcc at build time); "
                           "rebuild with CXRMT_CUDA=ON to use the device kernels");
}
}  // namespace

bool available() { return false; }
std::string runtime_json() { return "{\"usable\": false, \"reason\": \"built without CUDA\", \"devices\": []}"; }
frame preprocess(const image_view&, int, const window_options&, layout, float, float*, void*) { no_cuda(); }
void decode(const output_view&, const frame&, const decode_options&, const image_view*, const float*, layout,
            const decode_targets&, void*) { no_cuda(); }
void colourise(const seg_view&, const std::uint8_t*, std::uint8_t*, void*) { no_cuda(); }
void overlay(const image_view&, const frame&, const seg_view&, const overlay_options&, std::uint8_t*, void*) { no_cuda(); }
frame preprocess_host(const image_view&, int, const window_options&, layout, float, float*) { no_cuda(); }
void decode_host(const output_view&, const frame&, const decode_options&, const image_view*, const float*, layout,
                 const decode_targets&) { no_cuda(); }
void colourise_host(const seg_view&, const std::uint8_t*, std::uint8_t*) { no_cuda(); }
void overlay_host(const image_view&, const frame&, const seg_view&, const overlay_options&, std::uint8_t*) { no_cuda(); }
}  // namespace cuda
}  // namespace cxrmt
