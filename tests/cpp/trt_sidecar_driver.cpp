// Test driver for csrc/src/trt_sidecar.cpp (tests/test_trt_sidecar.py): checks ENGINE's sidecar
// against the given system and prints the outcome as lines the test compares with Python's.
//   trt_sidecar_driver ENGINE TENSORRT GPU COMPUTE_CAPABILITY
#include "trt_sidecar.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s ENGINE TENSORRT GPU COMPUTE_CAPABILITY\n", argv[0]);
    return 2;
  }
  try {
    const auto s = cxrmt::detail::check_sidecar(argv[1], {argv[2], argv[3], argv[4]});
    std::printf("ok\nprecision=%s\ndla=%s\nrebuild=%s\n", s.precision.c_str(),
                s.has_dla ? std::to_string(s.dla_core).c_str() : "none", s.rebuild.c_str());
    for (const auto& [k, v] : s.metadata) std::printf("meta:%s=%s\n", k.c_str(), v.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::printf("error\n%s\n", e.what());
    return 1;
  }
}
