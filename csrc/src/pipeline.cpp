// The C pipeline (see pipeline.hpp). Each step names the Python it mirrors, so the two stay one
// behaviour: cxrmt/runtime/base.py info_from_io, cxrmt/window.py preprocess_args / full_window,
// cxrmt/pipeline.py Predictor, cxrmt/infer/run.py bone_like_input.
#include "pipeline.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "internal.hpp"
#include "json.hpp"

namespace cxrmt {
namespace detail {

namespace {

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

const std::string* meta_value(const std::map<std::string, std::string>& meta, const char* key) {
  auto it = meta.find(std::string("cxrmt.") + key);
  return it == meta.end() ? nullptr : &it->second;
}

[[noreturn]] void bad_model(const std::string& path, const std::string& msg) {
  throw std::runtime_error(path + ": " + msg);
}

// base.py layout_from_shape: NHWC when the last axis is the 3 grey copies, NCHW when axis 1 is.
layout layout_of(const std::string& path, const std::string* declared, const std::vector<std::int64_t>& s) {
  if (declared) {
    if (*declared == "nhwc") return layout::nhwc;
    if (*declared == "nchw") return layout::nchw;
    bad_model(path, "metadata cxrmt.layout is '" + *declared + "' (expected nhwc or nchw)");
  }
  if (s[3] == 3 && s[1] != 3) return layout::nhwc;
  if (s[1] == 3) return layout::nchw;
  bad_model(path, "cannot tell the layout of the input shape: expected (N, S, S, 3) or (N, 3, S, S)");
}

// base.py task_from_channels.
task task_of(const std::string& path, const std::string* declared, std::int64_t channels) {
  if (declared) {
    const int want = *declared == "mt" ? 6 : (*declared == "seg" || *declared == "bse") ? 3 : 0;
    if (!want) bad_model(path, "metadata cxrmt.task is '" + *declared + "' (expected mt, seg or bse)");
    if (want != channels)
      bad_model(path, "task '" + *declared + "' needs " + std::to_string(want) + " output channels, the model has " +
                          std::to_string(channels));
    return *declared == "mt" ? task::mt : *declared == "seg" ? task::seg : task::bse;
  }
  if (channels == 6) return task::mt;
  if (channels == 3) return task::seg;
  bad_model(path, "the model has " + std::to_string(channels) + " output channels; cxrmt models have 3 or 6");
}

void read_palette(const std::string& path, const std::string& text, std::uint8_t* palette) {
  try {
    const json doc = parse_json(text);
    const auto& rows = doc.as_array("cxrmt.palette");
    if (rows.size() != 4) throw std::invalid_argument("cxrmt.palette: expected 4 colours");
    for (int i = 0; i < 4; ++i) {
      const auto& rgb = rows[i].as_array("cxrmt.palette colour");
      if (rgb.size() != 3) throw std::invalid_argument("cxrmt.palette: expected RGB triples");
      for (int c = 0; c < 3; ++c) {
        const double v = rgb[c].as_number("cxrmt.palette value");
        if (v < 0 || v > 255) throw std::invalid_argument("cxrmt.palette: values must be 0..255");
        palette[3 * i + c] = static_cast<std::uint8_t>(v);
      }
    }
  } catch (const std::invalid_argument& e) {
    bad_model(path, std::string("bad metadata: ") + e.what());
  }
}

bool segments(task t) { return t != task::bse; }

// pipeline.py _check_finite.
void check_finite(const float* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(y[i]))
      throw std::runtime_error("the model produced NaN or Inf (an FP16 overflow?); "
                               "re-export without --fp16 or check the model");
}

}  // namespace

pipeline::pipeline(const std::string& model_path, const engine_options& options)
    : engine_(open_engine(model_path, options)) {
  const auto& in = engine_->input().shape;
  const auto& out = engine_->output().shape;
  const auto& meta = engine_->metadata();
  if (in.size() != 4 || out.size() != 4) bad_model(model_path, "cxrmt models have 4-D input and output");
  info_.order = layout_of(model_path, meta_value(meta, "layout"), in);
  const bool nhwc = info_.order == layout::nhwc;
  info_.size = static_cast<int>(nhwc ? in[1] : in[2]);
  if (const auto* s = meta_value(meta, "size"); s && std::to_string(info_.size) != *s)
    bad_model(model_path, "metadata says size " + *s + ", the input is " + std::to_string(info_.size));
  const std::int64_t s = info_.size;
  const bool square_in = nhwc ? (in[2] == s && in[3] == 3) : (in[1] == 3 && in[3] == s);
  if (!square_in) bad_model(model_path, "the input is not (N, S, S, 3) or (N, 3, S, S)");
  const std::int64_t channels = nhwc ? out[3] : out[1];
  info_.kind = task_of(model_path, meta_value(meta, "task"), channels);
  const bool square_out = out[0] == in[0] && (nhwc ? (out[1] == s && out[2] == s) : (out[2] == s && out[3] == s));
  if (!square_out) bad_model(model_path, "the output is not the input's batch and size");
  info_.batch = static_cast<int>(in[0]);
  info_.backend = engine_->backend();
  if (const auto* p = meta_value(meta, "precision")) info_.precision = *p;
  if (const auto* w = meta_value(meta, "window")) info_.window = *w;
  if (info_.window != "auto" && info_.window != "full")  // as Predictor, at creation
    bad_model(model_path, "metadata cxrmt.window is '" + info_.window + "' (expected auto or full)");
  if (const auto* p = meta_value(meta, "palette")) {
    read_palette(model_path, *p, info_.palette);
    info_.has_palette = true;
  }
}

dtype pipeline::bone_type(dtype input, float white) { return bone_depth(input, white); }

std::size_t pipeline::output_elements() const {
  return static_cast<std::size_t>(info_.size) * info_.size * (info_.kind == task::mt ? 6 : 3);
}

// window.py preprocess_args: the model's window unless one is chosen; "auto" is the field
// percentile window (1, 99); "full" the input's full scale (white) or its dtype's range.
window_options pipeline::window_for(const image_view&, const run_options& opts) const {
  window_options w;
  w.bits_stored = opts.bits_stored;
  w.invert = opts.invert;
  window_choice choice = opts.window;
  if (choice == window_choice::model) {
    choice = info_.window == "auto" ? window_choice::automatic : window_choice::full;
  }
  switch (choice) {
    case window_choice::automatic:
      w.use_percentile = true; w.field = true; w.p_lo = 1.0f; w.p_hi = 99.0f;
      break;
    case window_choice::full:
      if (opts.white > 0) { w.has_window = true; w.lo = 0.0f; w.hi = opts.white; }
      break;
    case window_choice::fixed:
      w.has_window = true; w.lo = opts.lo; w.hi = opts.hi;
      break;
    case window_choice::percentile:
      w.use_percentile = true; w.p_lo = opts.p_lo; w.p_hi = opts.p_hi;
      break;
    default:
      bad_arg("options.window: unknown window choice");
  }
  return w;
}

// One run's working state: the resolved options and the buffers the caller did not give but a
// later step needs.
struct pipeline::call {
  const image_view& image;
  const run_options& opts;
  const run_targets& out;
  window_options window;
  decode_options decode;
  float white = 0.0f;        // the input's full scale: the bone image is written on it
  bool bone_direct = false;  // the uint16 bone image is already at the input's depth
  overlay_options overlay;
  decode_targets targets;
  float* y = nullptr;        // this image's raw output
  std::vector<std::uint8_t> masks_own, labels_own;
  std::vector<std::uint16_t> bone_own;
  std::vector<float> y_own;
};

void pipeline::check_targets(const run_targets& out) const {
  if (!segments(info_.kind) && (out.masks || out.labels || out.segmentation || out.overlay_rgb))
    bad_arg("outputs: a bone-suppression model gives no masks, labels, segmentation or overlay");
  if (info_.kind == task::seg && out.bone) bad_arg("outputs.bone: a segmentation model gives no bone image");
}

void pipeline::prepare(call& c) const {
  const std::size_t px = static_cast<std::size_t>(c.image.height) * c.image.width;
  c.window = window_for(c.image, c.opts);
  // window.py full_window: where the bone image is written (the input's own scale).
  float full_lo = 0.0f;
  c.white = c.opts.white;
  if (c.white <= 0) {
    window_options full;
    full.bits_stored = c.opts.bits_stored;
    resolve_window(c.image, full, &full_lo, &c.white);
  }
  c.decode.kind = info_.kind;
  c.decode.mode = c.opts.mode;
  c.decode.filter = c.opts.filter;
  c.decode.bone_type = dtype::u16;  // as `cxrmt infer`: full-range uint16, then the input's depth
  if (c.opts.mode == bone_mode::residual) { c.decode.bone_lo = full_lo; c.decode.bone_hi = c.white; }
  c.bone_direct = bone_depth(c.image.type, c.white) == dtype::u16 &&
                  !(c.image.type == dtype::u16 && c.white < 65535.0f);
  c.overlay = c.opts.overlay;
  if (!c.opts.has_overlay_palette) std::memcpy(c.overlay.palette, info_.palette, 12);
  if (segments(info_.kind)) {
    c.targets.masks = c.out.masks;
    if (!c.targets.masks) { c.masks_own.resize(3 * px); c.targets.masks = c.masks_own.data(); }
    c.targets.labels = c.out.labels;
    if (!c.targets.labels) { c.labels_own.resize(px); c.targets.labels = c.labels_own.data(); }
  }
  if (c.out.bone) {
    if (c.bone_direct) c.targets.bone = c.out.bone;
    else { c.bone_own.resize(px); c.targets.bone = c.bone_own.data(); }
  }
  c.y = c.out.output;
  if (!c.y || info_.batch > 1) { c.y_own.resize(output_elements() * info_.batch); c.y = c.y_own.data(); }
}

void pipeline::infer_host(call& c, run_result& r) const {
  const std::size_t per_in = 3u * info_.size * info_.size;
  std::vector<float> x(per_in * info_.batch);
  auto t0 = clock_type::now();
  r.used = preprocess(c.image, info_.size, c.window, info_.order, -1.0f, x.data());
  // A static batch: fill it with copies of the image (pipeline.py _infer_decode).
  for (int b = 1; b < info_.batch; ++b) std::memcpy(x.data() + b * per_in, x.data(), per_in * sizeof(float));
  r.preprocess_ms = ms_since(t0);
  t0 = clock_type::now();
  engine_->run(x.data(), c.y);
  r.inference_ms = ms_since(t0);
  check_finite(c.y, output_elements());
  t0 = clock_type::now();
  const output_view y{c.y, dtype::f32, info_.size, info_.kind == task::mt ? 6 : 3, info_.order};
  decode(y, r.used, c.decode, &c.image, x.data(), info_.order, c.targets);
  r.decode_ms = ms_since(t0);
}

// pipeline.py _run_device: percentiles are host work, the rest stays on the device. Returns
// whether the overlay was drawn there (not when clean-up will change the labels).
bool pipeline::infer_device(call& c, run_result& r) const {
  window_options w = c.window;
  if (w.use_percentile) {
    w.field_size = info_.size;
    resolve_window(c.image, w, &w.lo, &w.hi);
    w.use_percentile = false;
    w.field = false;
    w.has_window = true;
  }
  const bool draw = c.out.overlay_rgb && !c.opts.clean;
  double stage[3] = {0, 0, 0};
  device_request req;
  req.image = c.image;
  req.order = info_.order;
  req.size = info_.size;
  req.window = w;
  req.decode = c.decode;
  req.overlay = draw ? &c.overlay : nullptr;
  req.targets = c.targets;
  req.overlay_rgb = draw ? c.out.overlay_rgb : nullptr;
  req.output = c.y;
  req.frame_out = &r.used;
  req.stage_ms = stage;
  engine_->run_on_device(req);
  check_finite(c.y, output_elements());
  r.preprocess_ms = stage[0];
  r.inference_ms = stage[1];
  r.decode_ms = stage[2];
  return draw;
}

// pipeline.py _postprocess (clean-up, relabel, colours, overlay), infer/run.py bone_like_input,
// infer/measure.py.
void pipeline::finish(call& c, run_result& r, bool overlay_drawn) const {
  const int h = c.image.height, w = c.image.width;
  if (c.out.output && c.y != c.out.output) std::memcpy(c.out.output, c.y, output_elements() * sizeof(float));
  if (c.out.bone && !c.bone_direct) bone_to_input_depth(c.bone_own.data(), h, w, c.image.type, c.white, c.out.bone);
  if (!segments(info_.kind)) return;
  if (c.opts.clean) {
    cleanup(c.targets.masks, h, w, true, true);
    relabel(c.targets.labels, c.targets.masks, h, w);
  }
  const seg_view labels{c.targets.labels, false, h, w};
  if (c.out.segmentation) colourise(labels, c.overlay.palette, c.out.segmentation);
  if (c.out.overlay_rgb && !overlay_drawn) overlay(c.image, r.used, labels, c.overlay, c.out.overlay_rgb);
  r.organs = measure(c.targets.masks, h, w, c.opts.has_spacing ? c.opts.spacing_mm : nullptr);
}

run_result pipeline::run(const image_view& image, const run_options& opts, const run_targets& out) const {
  const auto t_start = clock_type::now();
  check_image(image, "image");
  if (opts.white < 0 || !std::isfinite(opts.white)) bad_arg("options.white: must be > 0 (or 0: none)");
  check_targets(out);
  call c{image, opts, out, {}, {}, 0.0f, false, {}, {}, nullptr, {}, {}, {}, {}};
  prepare(c);
  run_result r;
  const bool on_device = engine_->device_resident() && info_.batch == 1;
  bool overlay_drawn = false;
  if (on_device) overlay_drawn = infer_device(c, r);
  else infer_host(c, r);
  const auto t_post = clock_type::now();
  finish(c, r, overlay_drawn);
  r.decode_ms += ms_since(t_post);
  r.total_ms = ms_since(t_start);
  return r;
}

}  // namespace detail
}  // namespace cxrmt
