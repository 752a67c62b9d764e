// The ONNX Runtime engine through ORT's C API. Compiled against the headers only: the library is
// dlopen'ed at run time (engine_options::library, $CXRMT_ONNXRUNTIME_LIBRARY, the CMake package's
// library, else libonnxruntime.so.1 from the loader path) and asked for the API version of the
// headers, which any newer library still serves (ORT's C API is ABI-stable).
#include "engine.hpp"

#include <dlfcn.h>
#include <onnxruntime_c_api.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "internal.hpp"

#ifndef CXRMT_ONNXRUNTIME_DEFAULT_LIBRARY
#define CXRMT_ONNXRUNTIME_DEFAULT_LIBRARY ""
#endif

namespace cxrmt {
namespace detail {
namespace {

// One loaded library: its API table and the process's OrtEnv for it (created once, never freed:
// ORT must not be unloaded while sessions of other engines may live).
struct runtime {
  const OrtApi* api = nullptr;
  OrtEnv* env = nullptr;
  std::string library;
  bool has_cuda = false;
};

std::string library_choice(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("CXRMT_ONNXRUNTIME_LIBRARY"); env && *env) return env;
  if (*CXRMT_ONNXRUNTIME_DEFAULT_LIBRARY) return CXRMT_ONNXRUNTIME_DEFAULT_LIBRARY;
  return "libonnxruntime.so.1";
}

void check(const OrtApi* api, OrtStatus* status, const std::string& what) {
  if (!status) return;
  std::string msg = what + ": " + api->GetErrorMessage(status);
  api->ReleaseStatus(status);
  throw std::runtime_error(msg);
}

bool library_has_cuda(const OrtApi* api) {
  char** names = nullptr;
  int n = 0;
  if (OrtStatus* st = api->GetAvailableProviders(&names, &n)) {
    api->ReleaseStatus(st);
    return false;
  }
  bool found = false;
  for (int i = 0; i < n; ++i) found = found || std::string(names[i]) == "CUDAExecutionProvider";
  if (OrtStatus* st = api->ReleaseAvailableProviders(names, n)) api->ReleaseStatus(st);
  return found;
}

const runtime& load_runtime(const std::string& wanted) {
  static std::mutex lock;
  static std::map<std::string, runtime> loaded;  // by library path as given
  const std::string library = library_choice(wanted);
  std::lock_guard<std::mutex> hold(lock);
  auto it = loaded.find(library);
  if (it != loaded.end()) return it->second;
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw std::runtime_error("cannot load ONNX Runtime (" + std::string(dlerror()) +
                             "); pass its library path (options.library) or set CXRMT_ONNXRUNTIME_LIBRARY");
  using get_base = const OrtApiBase*(ORT_API_CALL*)();
  auto base_fn = reinterpret_cast<get_base>(dlsym(handle, "OrtGetApiBase"));
  if (!base_fn) throw std::runtime_error(library + ": not an ONNX Runtime library (no OrtGetApiBase)");
  const OrtApiBase* base = base_fn();
  runtime rt;
  rt.library = library;
  rt.api = base->GetApi(ORT_API_VERSION);
  if (!rt.api)
    throw std::runtime_error(library + ": ONNX Runtime " + base->GetVersionString() +
                             " is older than the headers cxrmt was built with (API " +
                             std::to_string(ORT_API_VERSION) + ")");
  check(rt.api, rt.api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "cxrmt", &rt.env), library + ": CreateEnv");
  rt.has_cuda = library_has_cuda(rt.api);
  return loaded.emplace(library, rt).first->second;
}

// RAII for Ort* objects: one deleter per type, calling the API's Release* function.
template <typename T>
using releaser = void(ORT_API_CALL*)(T*);
template <typename T>
class owned {
 public:
  explicit owned(releaser<T> release) : release_(release) {}
  owned(const owned&) = delete;
  owned& operator=(const owned&) = delete;
  owned(owned&& o) noexcept : p_(std::exchange(o.p_, nullptr)), release_(o.release_) {}
  ~owned() { if (p_) release_(p_); }
  T** out() { return &p_; }
  T* get() const { return p_; }
 private:
  T* p_ = nullptr;
  releaser<T> release_ = nullptr;
};

// cxrmt's FP16 exports keep float32 I/O (keep_io_types), so float32 is all the engine feeds.
dtype element_type(ONNXTensorElementDataType t, const std::string& what) {
  if (t == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) return dtype::f32;
  throw std::runtime_error(what + ": element type " + std::to_string(t) +
                           " (the C pipeline feeds float32; export FP16 models with float32 I/O)");
}

std::size_t elements(const tensor_desc& d) {
  std::size_t n = 1;
  for (auto v : d.shape) n *= static_cast<std::size_t>(v);
  return n;
}

class onnxruntime_engine final : public engine {
 public:
  onnxruntime_engine(const std::string& path, const engine_options& options)
      : rt_(load_runtime(options.library)), api_(rt_.api), path_(path),
        session_(api_->ReleaseSession), memory_(api_->ReleaseMemoryInfo) {
    owned<OrtSessionOptions> so(api_->ReleaseSessionOptions);
    ok(api_->CreateSessionOptions(so.out()), "CreateSessionOptions");
    if (options.threads < 0) bad_arg("threads: must be >= 0 (0: ONNX Runtime's default)");
    if (options.threads > 0) ok(api_->SetIntraOpNumThreads(so.get(), options.threads), "SetIntraOpNumThreads");
    ok(api_->SetSessionGraphOptimizationLevel(so.get(), ORT_ENABLE_ALL), "SetSessionGraphOptimizationLevel");
    // Idle workers sleep instead of spinning, as in cxrmt.runtime.ort_backend: spinning takes the
    // cores the decoding and the PNG writers need, and one inference alone is no faster with it.
    ok(api_->AddSessionConfigEntry(so.get(), "session.intra_op.allow_spinning", "0"), "AddSessionConfigEntry");
    backend_ = use_cuda(so.get(), options) ? "onnxruntime-cuda" : "onnxruntime-cpu";
    ok(api_->CreateSession(rt_.env, path.c_str(), so.get(), session_.out()), "cannot open the model");
    ok(api_->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, memory_.out()), "CreateCpuMemoryInfo");
    read_io();
    read_metadata();
  }

  std::string backend() const override { return backend_; }
  const std::map<std::string, std::string>& metadata() const override { return meta_; }
  const tensor_desc& input() const override { return in_; }
  const tensor_desc& output() const override { return out_; }

  // Session::Run is thread-safe; every buffer here is the caller's or this call's own.
  void run(const float* x, float* y) override {
    owned<OrtValue> xv(api_->ReleaseValue), yv(api_->ReleaseValue);
    ok(api_->CreateTensorWithDataAsOrtValue(memory_.get(), const_cast<float*>(x), elements(in_) * sizeof(float),
                                            in_.shape.data(), in_.shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                            xv.out()), "input tensor");
    ok(api_->CreateTensorWithDataAsOrtValue(memory_.get(), y, elements(out_) * sizeof(float), out_.shape.data(),
                                            out_.shape.size(), ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, yv.out()),
       "output tensor");
    const char* in_name = in_.name.c_str();
    const char* out_name = out_.name.c_str();
    const OrtValue* inputs[] = {xv.get()};
    OrtValue* outputs[] = {yv.get()};
    ok(api_->Run(session_.get(), nullptr, &in_name, inputs, 1, &out_name, 1, outputs), "inference failed");
  }

 private:
  void ok(OrtStatus* status, const std::string& what) const { check(api_, status, path_ + ": " + what); }
  void free(OrtAllocator* alloc, void* p) const {
    if (OrtStatus* st = api_->AllocatorFree(alloc, p)) api_->ReleaseStatus(st);
  }

  // "auto": the CUDA provider when the library has one and it accepts the device, else CPU
  // quietly; "cuda": the CUDA provider or an error.
  bool use_cuda(OrtSessionOptions* so, const engine_options& options) const {
    if (options.device == "cpu") return false;
    if (options.device != "cuda" && options.device != "auto")
      bad_arg("device: must be auto, cpu or cuda (got '" + options.device + "')");
    const bool required = options.device == "cuda";
    if (!rt_.has_cuda) {
      if (required)
        throw std::runtime_error(path_ + ": device 'cuda' but " + rt_.library +
                                 " has no CUDA execution provider (use onnxruntime-gpu's library)");
      return false;
    }
    owned<OrtCUDAProviderOptionsV2> cuda(api_->ReleaseCUDAProviderOptions);
    ok(api_->CreateCUDAProviderOptions(cuda.out()), "CreateCUDAProviderOptions");
    const std::string index = std::to_string(options.device_index);
    const char* keys[] = {"device_id"};
    const char* values[] = {index.c_str()};
    ok(api_->UpdateCUDAProviderOptions(cuda.get(), keys, values, 1), "CUDA provider options");
    OrtStatus* status = api_->SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda.get());
    if (status && !required) { api_->ReleaseStatus(status); return false; }
    ok(status, "CUDA execution provider");
    return true;
  }

  tensor_desc describe(bool is_input) {
    std::size_t count = 0;
    ok(is_input ? api_->SessionGetInputCount(session_.get(), &count)
                : api_->SessionGetOutputCount(session_.get(), &count), "I/O count");
    const char* what = is_input ? "input" : "output";
    if (count != 1)
      throw std::runtime_error(path_ + ": the model has " + std::to_string(count) + " " + what +
                               "s; cxrmt models have one");
    OrtAllocator* alloc = nullptr;
    ok(api_->GetAllocatorWithDefaultOptions(&alloc), "allocator");
    char* name = nullptr;
    ok(is_input ? api_->SessionGetInputName(session_.get(), 0, alloc, &name)
                : api_->SessionGetOutputName(session_.get(), 0, alloc, &name), "I/O name");
    tensor_desc d;
    d.name = name;
    free(alloc, name);
    owned<OrtTypeInfo> info(api_->ReleaseTypeInfo);
    ok(is_input ? api_->SessionGetInputTypeInfo(session_.get(), 0, info.out())
                : api_->SessionGetOutputTypeInfo(session_.get(), 0, info.out()), "I/O type");
    const OrtTensorTypeAndShapeInfo* tensor = nullptr;
    ok(api_->CastTypeInfoToTensorInfo(info.get(), &tensor), "I/O type");
    if (!tensor) throw std::runtime_error(path_ + ": the " + std::string(what) + " is not a tensor");
    ONNXTensorElementDataType type;
    ok(api_->GetTensorElementType(tensor, &type), "element type");
    d.type = element_type(type, path_ + ": " + what);
    std::size_t rank = 0;
    ok(api_->GetDimensionsCount(tensor, &rank), "rank");
    d.shape.resize(rank);
    ok(api_->GetDimensions(tensor, d.shape.data(), rank), "shape");
    for (auto v : d.shape)
      if (v <= 0)
        throw std::runtime_error(path_ + ": model " + what + " shape is not static; export it with "
                                 "a fixed batch and size (cxrmt export --size)");
    if (rank != 4) throw std::runtime_error(path_ + ": model " + std::string(what) + " has rank " +
                                            std::to_string(rank) + "; cxrmt models have 4");
    return d;
  }

  void read_io() {
    in_ = describe(true);
    out_ = describe(false);
  }

  void read_metadata() {
    owned<OrtModelMetadata> md(api_->ReleaseModelMetadata);
    ok(api_->SessionGetModelMetadata(session_.get(), md.out()), "metadata");
    OrtAllocator* alloc = nullptr;
    ok(api_->GetAllocatorWithDefaultOptions(&alloc), "allocator");
    char** keys = nullptr;
    int64_t n = 0;
    ok(api_->ModelMetadataGetCustomMetadataMapKeys(md.get(), alloc, &keys, &n), "metadata keys");
    for (int64_t i = 0; i < n; ++i) {
      const std::string key = keys[i];
      char* value = nullptr;
      OrtStatus* st = api_->ModelMetadataLookupCustomMetadataMap(md.get(), alloc, keys[i], &value);
      free(alloc, keys[i]);
      if (st) api_->ReleaseStatus(st);
      else if (value) {
        if (key.rfind("cxrmt.", 0) == 0) meta_[key] = value;
        free(alloc, value);
      }
    }
    if (keys) free(alloc, keys);
  }

  const runtime& rt_;
  const OrtApi* api_;
  std::string path_, backend_;
  owned<OrtSession> session_;
  owned<OrtMemoryInfo> memory_;
  tensor_desc in_, out_;
  std::map<std::string, std::string> meta_;
};

}  // namespace

std::unique_ptr<engine> open_onnxruntime(const std::string& path, const engine_options& options) {
  if (path.empty()) bad_arg("model_path: empty");
  if (FILE* f = std::fopen(path.c_str(), "rb")) std::fclose(f);
  else bad_arg("model_path: " + path + ": no such model file");
  return std::make_unique<onnxruntime_engine>(path, options);
}

}  // namespace detail
}  // namespace cxrmt
