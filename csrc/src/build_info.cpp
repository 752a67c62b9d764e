#include "internal.hpp"

namespace cxrmt {

#ifndef CXRMT_CUDA_ARCHS
#define CXRMT_CUDA_ARCHS ""
#endif
#ifndef CXRMT_VERSION
#define CXRMT_VERSION "unknown"
#endif

std::string build_info_json() {
#if defined(__clang__)
  std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  std::string compiler = std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  std::string compiler = "msvc " + std::to_string(_MSC_VER);
#else
  std::string compiler = "unknown";
#endif
#ifdef CXRMT_WITH_CUDA
  const bool cuda_built = true;
#else
  const bool cuda_built = false;
#endif
#ifdef CXRMT_WITH_ONNXRUNTIME
  const char* onnxruntime = "true";
#else
  const char* onnxruntime = "false";
#endif
#ifdef CXRMT_WITH_TENSORRT
  const char* tensorrt = "true";
#else
  const char* tensorrt = "false";
#endif
  // engines: the C pipeline's runtimes this build has (CXRMT_ONNXRUNTIME, CXRMT_TENSORRT).
  return std::string("{\"version\": \"") + CXRMT_VERSION + "\", \"compiler\": \"" + compiler +
         "\", \"cuda_built\": " + (cuda_built ? "true" : "false") + ", \"cuda_archs\": \"" + CXRMT_CUDA_ARCHS +
         "\", \"cuda\": " + cuda::runtime_json() +
         ", \"engines\": {\"onnxruntime\": " + onnxruntime + ", \"tensorrt\": " + tensorrt + "}}";
}

}  // namespace cxrmt
