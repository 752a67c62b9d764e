// The TensorRT engine (TensorRT 10 or later): sidecar check before deserialising, one static
// input and output in device buffers bound once, one stream, enqueueV3. The host path copies
// through pinned buffers; the device-resident path (cxrmt/runtime/device_pipeline.py in C++)
// runs cuda::preprocess into the engine's input and cuda::decode from its output.
#include "engine.hpp"
#include "internal.hpp"
#include "trt_sidecar.hpp"

#include <NvInferRuntime.h>
#include <NvInferVersion.h>
#include <cuda_runtime_api.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>

#if NV_TENSORRT_MAJOR < 10
#error "cxrmt's TensorRT engine needs TensorRT 10 or later (enqueueV3, named I/O tensors, no destroy())"
#endif

namespace cxrmt {
namespace detail {
namespace {

namespace nv = nvinfer1;

// Every failure names the call and the engine.
void check(cudaError_t e, const char* call, const std::string& path) {
  if (e != cudaSuccess)
    throw std::runtime_error(path + ": " + call + " failed: " + cudaGetErrorString(e));
}

// Warnings and errors to stderr; errors are also kept for the exception that follows them.
class logger final : public nv::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override {
    if (severity > Severity::kWARNING) return;
    std::fprintf(stderr, "cxrmt: TensorRT %s: %s\n", severity == Severity::kWARNING ? "warning" : "error", msg);
    if (severity <= Severity::kERROR) {
      std::lock_guard<std::mutex> hold(mutex_);
      errors_ += (errors_.empty() ? "" : "; ") + std::string(msg);
    }
  }
  std::string take_errors() {
    std::lock_guard<std::mutex> hold(mutex_);
    std::string e;
    e.swap(errors_);
    return e.empty() ? "" : " (TensorRT: " + e + ")";
  }

 private:
  std::mutex mutex_;
  std::string errors_;
};

// The engine's stream and its timing events (declared before the buffers: destroyed after them).
struct stream_events {
  cudaStream_t stream = nullptr;
  cudaEvent_t events[4] = {};
  stream_events() = default;
  stream_events(const stream_events&) = delete;
  stream_events& operator=(const stream_events&) = delete;
  void create(const std::string& path) {
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags", path);
    for (auto& e : events) check(cudaEventCreate(&e), "cudaEventCreate", path);
  }
  ~stream_events() {
    if (stream) cudaStreamSynchronize(stream);  // no buffer is freed under queued work
    for (auto* e : events)
      if (e) cudaEventDestroy(e);
    if (stream) cudaStreamDestroy(stream);
  }
};

// The running library's version as the sidecar key records it ("10.3.0").
std::string library_version() {
  const int v = getInferLibVersion();  // major * 10000 + minor * 100 + patch from TensorRT 10 on
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

trt_system this_system(int device, const std::string& path) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties", path);
  std::string name(prop.name, strnlen(prop.name, sizeof prop.name));
  name.erase(name.find_last_not_of(" \t\n\r") + 1);  // Python's .strip()
  name.erase(0, name.find_first_not_of(" \t\n\r"));
  return {library_version(), name, std::to_string(prop.major) + "." + std::to_string(prop.minor)};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("model: cannot open " + path);
  std::string blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (blob.empty()) throw std::invalid_argument("model: " + path + " is empty");
  return blob;
}

std::size_t elements(const tensor_desc& t) {
  std::size_t n = 1;
  for (auto d : t.shape) n *= static_cast<std::size_t>(d);
  return n;
}

// A device buffer with a pinned host twin, grown on demand and reused otherwise: cudaMalloc
// and cudaMallocHost synchronise the device and cost more than a whole image's kernels.
struct staging {
  staging() = default;
  staging(const staging&) = delete;
  staging& operator=(const staging&) = delete;
  ~staging() { release(); }
  std::size_t capacity = 0;
  void* dev = nullptr;
  void* host = nullptr;
  void reserve(std::size_t bytes, const std::string& path) {
    if (bytes <= capacity) return;
    release();
    check(cudaMalloc(&dev, bytes), "cudaMalloc", path);
    check(cudaMallocHost(&host, bytes), "cudaMallocHost", path);
    capacity = bytes;
  }
  void release() {
    if (dev) cudaFree(dev);
    if (host) cudaFreeHost(host);
    dev = host = nullptr;
    capacity = 0;
  }
};

class tensorrt_engine final : public engine {
 public:
  tensorrt_engine(const std::string& path, const engine_options& options) : path_(path), device_(options.device_index) {
    check(cudaSetDevice(device_), "cudaSetDevice", path_);
    const trt_sidecar sidecar = check_sidecar(path_, this_system(device_, path_));  // before deserialising
    metadata_ = sidecar.metadata;
    const std::string blob = read_file(path_);
    runtime_.reset(nv::createInferRuntime(logger_));
    if (!runtime_) fail("createInferRuntime returned null");
    if (sidecar.has_dla) {
      if (sidecar.dla_core >= runtime_->getNbDLACores())
        throw std::runtime_error(path_ + ": built for DLA core " + std::to_string(sidecar.dla_core) + ", this device has " +
                                 std::to_string(runtime_->getNbDLACores()) + " DLA cores; rebuild it with `" +
                                 sidecar.rebuild + "`");
      runtime_->setDLACore(sidecar.dla_core);
    }
    engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
    if (!engine_)
      throw std::runtime_error("TensorRT " + library_version() + " could not load " + path_ + "; rebuild it with `" +
                               sidecar.rebuild + "`" + logger_.take_errors());
    context_.reset(engine_->createExecutionContext());
    if (!context_) fail("createExecutionContext returned null");
    read_io();
    allocate();
  }

  ~tensorrt_engine() override {
    cudaSetDevice(device_);
    if (queue_.stream) cudaStreamSynchronize(queue_.stream);
  }

  std::string backend() const override { return "tensorrt"; }
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }
  const tensor_desc& input() const override { return input_; }
  const tensor_desc& output() const override { return output_; }

  void run(const float* x, float* y) override {
    if (!x || !y) throw std::invalid_argument(std::string(x ? "y" : "x") + ": null buffer");
    std::lock_guard<std::mutex> hold(mutex_);  // one context, one set of buffers
    cuda(cudaSetDevice(device_), "cudaSetDevice");  // the calling thread may be a new one
    std::memcpy(in_.host, x, in_bytes_);
    cuda(cudaMemcpyAsync(in_.dev, in_.host, in_bytes_, cudaMemcpyHostToDevice, queue_.stream), "cudaMemcpyAsync (input)");
    enqueue();
    cuda(cudaMemcpyAsync(out_.host, out_.dev, out_bytes_, cudaMemcpyDeviceToHost, queue_.stream), "cudaMemcpyAsync (output)");
    cuda(cudaStreamSynchronize(queue_.stream), "cudaStreamSynchronize");
    output_to_f32(y);
  }

  bool device_resident() const override {
#ifdef CXRMT_WITH_CUDA
    return input_.shape[0] == 1;  // the preprocess kernel writes one float32 image
#else
    return false;
#endif
  }

  void run_on_device(const device_request& req) override {
    if (!device_resident())
      throw std::runtime_error(path_ + ": no device-resident path (needs a CUDA build and batch 1)");
    check_request(req);
    const auto t0 = clock::now();
    check_values(req.image, req.window);  // the value checks of the host preprocess, which the kernel skips
    const int h = req.image.height, w = req.image.width;
    const std::size_t pixel = dtype_size(req.image.type), area = static_cast<std::size_t>(h) * w;
    const bool seg = req.decode.kind != task::bse, bone = req.decode.kind != task::seg;
    const bool want_masks = seg && req.targets.masks, want_bone = bone && req.targets.bone;
    const bool want_labels = seg && (req.targets.labels || req.overlay);
    std::lock_guard<std::mutex> hold(mutex_);
    cuda(cudaSetDevice(device_), "cudaSetDevice");
    image_.reserve(area * pixel, path_);
    if (want_masks) masks_.reserve(3 * area, path_);
    if (want_labels) labels_.reserve(area, path_);
    if (want_bone) bone_.reserve(area * dtype_size(req.decode.bone_type), path_);
    if (req.overlay) overlay_.reserve(3 * area, path_);
    for (int y = 0; y < h; ++y)  // into pinned memory, dropping the row stride
      std::memcpy(static_cast<char*>(image_.host) + static_cast<std::size_t>(y) * w * pixel,
                  static_cast<const char*>(req.image.data) + static_cast<std::ptrdiff_t>(y) * req.image.row_stride * pixel,
                  w * pixel);
    const auto t1 = clock::now();

    cuda(cudaEventRecord(queue_.events[0], queue_.stream), "cudaEventRecord");
    cuda(cudaMemcpyAsync(image_.dev, image_.host, area * pixel, cudaMemcpyHostToDevice, queue_.stream), "cudaMemcpyAsync (image)");
    image_view dev_image{image_.dev, req.image.type, h, w, w};
    float* input = static_cast<float*>(in_.dev);
    const frame f = cuda::preprocess(dev_image, req.size, req.window, req.order, req.pad_value, input, queue_.stream);
    cuda(cudaEventRecord(queue_.events[1], queue_.stream), "cudaEventRecord");
    enqueue();
    cuda(cudaEventRecord(queue_.events[2], queue_.stream), "cudaEventRecord");
    const output_view out{out_.dev, output_.type, req.size, req.decode.kind == task::mt ? 6 : 3, req.order};
    const decode_targets dev_targets{want_masks ? static_cast<std::uint8_t*>(masks_.dev) : nullptr,
                                     want_labels ? static_cast<std::uint8_t*>(labels_.dev) : nullptr,
                                     want_bone ? bone_.dev : nullptr};
    cuda::decode(out, f, req.decode, &dev_image, input, req.order, dev_targets, queue_.stream);
    if (req.overlay)
      cuda::overlay(dev_image, f, seg_view{dev_targets.labels, false, h, w}, *req.overlay,
                    static_cast<std::uint8_t*>(overlay_.dev), queue_.stream);
    download(out_, out_bytes_, req.output != nullptr);
    download(masks_, 3 * area, want_masks);
    download(labels_, area, seg && req.targets.labels);
    download(bone_, area * dtype_size(req.decode.bone_type), want_bone);
    download(overlay_, 3 * area, req.overlay != nullptr);
    cuda(cudaEventRecord(queue_.events[3], queue_.stream), "cudaEventRecord");
    cuda(cudaStreamSynchronize(queue_.stream), "cudaStreamSynchronize");

    const auto t2 = clock::now();
    if (req.output) output_to_f32(req.output);
    if (want_masks) std::memcpy(req.targets.masks, masks_.host, 3 * area);
    if (seg && req.targets.labels) std::memcpy(req.targets.labels, labels_.host, area);
    if (want_bone) std::memcpy(req.targets.bone, bone_.host, area * dtype_size(req.decode.bone_type));
    if (req.overlay) std::memcpy(req.overlay_rgb, overlay_.host, 3 * area);
    if (req.frame_out) *req.frame_out = f;
    if (req.stage_ms) {
      float device_ms[3];
      for (int i = 0; i < 3; ++i)
        cuda(cudaEventElapsedTime(&device_ms[i], queue_.events[i], queue_.events[i + 1]), "cudaEventElapsedTime");
      req.stage_ms[0] = ms(t1 - t0) + device_ms[0];  // host work around the device time
      req.stage_ms[1] = device_ms[1];
      req.stage_ms[2] = device_ms[2] + ms(clock::now() - t2);
    }
  }

 private:
  using clock = std::chrono::steady_clock;
  struct deleter {
    template <typename T>
    void operator()(T* p) const { delete p; }  // TensorRT 10: objects are deleted, destroy() is gone
  };

  std::string path_;
  int device_;
  logger logger_;  // outlives the runtime, engine and context declared after it
  std::unique_ptr<nv::IRuntime, deleter> runtime_;
  std::unique_ptr<nv::ICudaEngine, deleter> engine_;
  std::unique_ptr<nv::IExecutionContext, deleter> context_;
  std::map<std::string, std::string> metadata_;
  tensor_desc input_, output_;
  std::size_t in_bytes_ = 0, out_bytes_ = 0;
  stream_events queue_;
  staging in_, out_;                                        // the engine's own I/O, bound once
  staging image_, masks_, labels_, bone_, overlay_;         // device-resident path
  std::mutex mutex_;

  static double ms(clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(path_ + ": TensorRT " + what + logger_.take_errors());
  }
  void cuda(cudaError_t e, const char* call) const { check(e, call, path_); }

  void enqueue() {
    if (!context_->enqueueV3(queue_.stream)) fail("enqueueV3 failed");
  }

  void download(staging& s, std::size_t bytes, bool wanted) {
    if (wanted) cuda(cudaMemcpyAsync(s.host, s.dev, bytes, cudaMemcpyDeviceToHost, queue_.stream), "cudaMemcpyAsync (download)");
  }

  void output_to_f32(float* y) const {
    const std::size_t n = elements(output_);
    if (output_.type == dtype::f32) {
      std::memcpy(y, out_.host, n * sizeof(float));
      return;
    }
    const auto* h = static_cast<const std::uint16_t*>(out_.host);
    for (std::size_t i = 0; i < n; ++i) y[i] = px::half_to_float(h[i]);
  }

  // cxrmt engines: one static float32 input, one float32 or float16 output.
  void read_io() {
    const int n = engine_->getNbIOTensors();
    int inputs = 0;
    for (int i = 0; i < n; ++i) {
      const char* name = engine_->getIOTensorName(i);
      const bool is_input = engine_->getTensorIOMode(name) == nv::TensorIOMode::kINPUT;
      tensor_desc t;
      t.name = name;
      const nv::Dims dims = engine_->getTensorShape(name);
      for (int d = 0; d < dims.nbDims; ++d) {
        if (dims.d[d] < 0)
          throw std::runtime_error(path_ + ": engine tensor '" + t.name + "' has a dynamic shape; cxrmt engines are "
                                   "built from static-shape ONNX (cxrmt export)");
        t.shape.push_back(dims.d[d]);
      }
      const nv::DataType type = engine_->getTensorDataType(name);
      if (type != nv::DataType::kFLOAT && (is_input || type != nv::DataType::kHALF))
        throw std::runtime_error(path_ + ": engine tensor '" + t.name + "' is not float32" +
                                 (is_input ? "" : " or float16") + " (TensorRT DataType " +
                                 std::to_string(static_cast<int>(type)) + ")");
      t.type = type == nv::DataType::kHALF ? dtype::f16 : dtype::f32;
      inputs += is_input;
      (is_input ? input_ : output_) = t;
    }
    if (inputs != 1 || n != 2)
      throw std::runtime_error(path_ + ": expected 1 input and 1 output, the engine has " + std::to_string(inputs) +
                               " inputs and " + std::to_string(n - inputs) + " outputs");
    geometry();
  }

  // The model's geometry (layout, size, task) is the pipeline's to read from the metadata; the
  // engine needs only its buffers' sizes.
  void geometry() {
    in_bytes_ = elements(input_) * sizeof(float);
    out_bytes_ = elements(output_) * dtype_size(output_.type);
  }

  void allocate() {
    queue_.create(path_);
    in_.reserve(in_bytes_, path_);
    out_.reserve(out_bytes_, path_);
    if (!context_->setTensorAddress(input_.name.c_str(), in_.dev) ||
        !context_->setTensorAddress(output_.name.c_str(), out_.dev))
      fail("setTensorAddress failed");
  }

  void check_request(const device_request& req) const {
    check_image(req.image, "image");
    const std::size_t s = req.size > 0 ? static_cast<std::size_t>(req.size) : 0;
    if (s * s * 3 * sizeof(float) != in_bytes_)
      throw std::invalid_argument("size: " + std::to_string(req.size) + " does not fit the engine's input (" +
                                  std::to_string(in_bytes_ / sizeof(float)) + " floats)");
    if (req.window.use_percentile || !req.window.has_window)
      throw std::invalid_argument("window: the device path needs the window resolved on the host (resolve_window)");
    if (req.overlay && !req.overlay_rgb) throw std::invalid_argument("overlay_rgb: no buffer for the overlay");
    if (req.overlay && req.decode.kind == task::bse)
      throw std::invalid_argument("overlay: a bone-suppression model has no segmentation to draw");
    if (req.decode.bone_type != dtype::u8 && req.decode.bone_type != dtype::u16)
      throw std::invalid_argument("decode.bone_type: must be uint8 or uint16");
  }
};

}  // namespace

std::unique_ptr<engine> open_tensorrt(const std::string& path, const engine_options& options) {
  if (options.device_index < 0) throw std::invalid_argument("device_index: must be >= 0");
  if (options.device == "cpu")
    throw std::invalid_argument("device: a TensorRT engine runs on a CUDA device, not \"cpu\" (use the ONNX model)");
  return std::make_unique<tensorrt_engine>(path, options);
}

}  // namespace detail
}  // namespace cxrmt
