// The C pipeline: one radiograph in, every `cxrmt infer` output out, over one engine. Mirrors
// cxrmt.pipeline.Predictor as `cxrmt infer` drives it (bone image at the input's bit depth).
// run() keeps no per-call state in the object: it may be called from several threads at once
// (the engine serialises where its runtime must).
#pragma once
#include <array>
#include <map>
#include <memory>
#include <string>

#include "engine.hpp"

namespace cxrmt {
namespace detail {

enum class window_choice { model, automatic, full, fixed, percentile };

struct model_info {
  int size = 0, batch = 1;
  layout order = layout::nhwc;
  task kind = task::mt;
  std::string precision = "fp32", backend, window = "full";  // window: the model's cxrmt.window
  std::uint8_t palette[12] = {0, 0, 0, 0, 0, 255, 0, 255, 0, 255, 0, 0};
  bool has_palette = false;  // the palette came from the model's metadata
};

struct run_options {
  window_choice window = window_choice::model;
  float lo = 0.0f, hi = 0.0f;         // window_choice::fixed
  float p_lo = 1.0f, p_hi = 99.0f;    // window_choice::percentile
  int bits_stored = 0;
  bool invert = false;
  float white = 0.0f;                 // the input's full-scale value (a Radiograph's white); 0: none
  bool has_spacing = false;
  double spacing_mm[2] = {0.0, 0.0};  // row, column
  bool clean = false;
  overlay_options overlay;            // palette: overlay_palette when set, else the model's
  bool has_overlay_palette = false;
  resample filter = resample::bilinear;
  bone_mode mode = bone_mode::residual;
};

// Host targets; null = not wanted.
struct run_targets {
  std::uint8_t* masks = nullptr;         // 3 x H x W
  std::uint8_t* labels = nullptr;        // H x W
  std::uint8_t* segmentation = nullptr;  // H x W x 3
  std::uint8_t* overlay_rgb = nullptr;   // H x W x 3
  void* bone = nullptr;                  // H x W of bone_type()
  float* output = nullptr;               // the raw network output of this image (no batch axis)
};

struct run_result {
  frame used;                        // window_lo/hi: the window that fed the network
  measures organs;                   // when the model segments
  double preprocess_ms = 0, inference_ms = 0, decode_ms = 0, total_ms = 0;
};

class pipeline {
 public:
  pipeline(const std::string& model_path, const engine_options& options);
  const model_info& info() const { return info_; }
  // The bone image's dtype for this input (as `cxrmt infer` writes it).
  static dtype bone_type(dtype input, float white);
  std::size_t output_elements() const;  // raw output of one image
  run_result run(const image_view& image, const run_options& opts, const run_targets& out) const;

 private:
  struct call;  // one run's working state (pipeline.cpp)
  window_options window_for(const image_view& image, const run_options& opts) const;
  void check_targets(const run_targets& out) const;
  void prepare(call& c) const;
  void infer_host(call& c, run_result& r) const;
  bool infer_device(call& c, run_result& r) const;
  void finish(call& c, run_result& r, bool overlay_drawn) const;
  std::unique_ptr<engine> engine_;
  model_info info_;
};

}  // namespace detail
}  // namespace cxrmt
