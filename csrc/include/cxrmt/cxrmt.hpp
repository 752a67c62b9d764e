// Header-only C++ wrapper of the C pipeline (cxrmt.h, API version 3): RAII ownership, exceptions
// instead of status codes (std::invalid_argument for CXRMT_ERROR_INVALID_ARGUMENT,
// std::runtime_error otherwise) and outputs in std::vectors. Links only the C API, so it works
// with any compiler that can call libcxrmt.
//
//   cxrmt::Pipeline p("model.onnx");
//   cxrmt::Result r = p.run(cxrmt_image{pixels, CXRMT_U16, h, w, 0});
#ifndef CXRMT_CXRMT_HPP
#define CXRMT_CXRMT_HPP

#include <cxrmt/cxrmt.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxrmt {

inline void check(cxrmt_status status) {
  if (status == CXRMT_OK) return;
  if (status == CXRMT_ERROR_INVALID_ARGUMENT) throw std::invalid_argument(cxrmt_last_error());
  throw std::runtime_error(cxrmt_last_error());
}

// Which outputs run() fills (those the model cannot give stay empty).
struct Wanted {
  bool masks = true, labels = true, segmentation = true, overlay = true, bone = true, output = false;
};

struct Result {
  int height = 0, width = 0;
  std::vector<uint8_t> masks, labels, segmentation, overlay;  // see cxrmt_outputs
  std::vector<uint8_t> bone;                                  // H x W of bone_dtype (raw bytes)
  cxrmt_dtype bone_dtype = CXRMT_U8;
  std::vector<float> output;
  cxrmt_timings timings{};
  cxrmt_measurements measurements{};
  cxrmt_frame frame{};
};

inline cxrmt_pipeline_options pipeline_options() {
  cxrmt_pipeline_options o;
  cxrmt_pipeline_options_init(&o);
  return o;
}

inline cxrmt_run_options run_options() {
  cxrmt_run_options o;
  cxrmt_run_options_init(&o);
  return o;
}

class Pipeline {
 public:
  explicit Pipeline(const std::string& model, const cxrmt_pipeline_options& options = pipeline_options()) {
    cxrmt_pipeline* p = nullptr;
    check(cxrmt_pipeline_create(model.c_str(), &options, &p));
    p_.reset(p);
  }

  cxrmt_model_info info() const {
    cxrmt_model_info i;
    check(cxrmt_pipeline_info(p_.get(), &i));
    return i;
  }

  cxrmt_output_sizes sizes(const cxrmt_image& image, const cxrmt_run_options& options = run_options()) const {
    cxrmt_output_sizes s;
    check(cxrmt_outputs_size(p_.get(), &image, &options, &s));
    return s;
  }

  // Thread-safe as cxrmt_pipeline_run is.
  Result run(const cxrmt_image& image, const cxrmt_run_options& options = run_options(), Wanted want = {}) const {
    const cxrmt_output_sizes s = sizes(image, options);
    Result r;
    r.height = s.height;
    r.width = s.width;
    r.bone_dtype = s.bone_dtype;
    cxrmt_outputs out{};
    out.masks = take(r.masks, s.masks, want.masks, &out.masks_size);
    out.labels = take(r.labels, s.labels, want.labels, &out.labels_size);
    out.segmentation = take(r.segmentation, s.segmentation, want.segmentation, &out.segmentation_size);
    out.overlay = take(r.overlay, s.overlay, want.overlay, &out.overlay_size);
    out.bone = take(r.bone, s.bone, want.bone, &out.bone_size);
    if (want.output && s.output) {
      r.output.resize(s.output / sizeof(float));
      out.output = r.output.data();
      out.output_size = s.output;
    }
    check(cxrmt_pipeline_run(p_.get(), &image, &options, &out));
    r.timings = out.timings;
    r.measurements = out.measurements;
    r.frame = out.frame;
    return r;
  }

 private:
  static uint8_t* take(std::vector<uint8_t>& v, size_t bytes, bool wanted, size_t* size) {
    if (!wanted || bytes == 0) return nullptr;
    v.resize(bytes);
    *size = bytes;
    return v.data();
  }
  struct destroy {
    void operator()(cxrmt_pipeline* p) const { cxrmt_pipeline_destroy(p); }
  };
  std::unique_ptr<cxrmt_pipeline, destroy> p_;
};

}  // namespace cxrmt

#endif  // CXRMT_CXRMT_HPP
