// The C API of the pipeline (cxrmt_pipeline_*): checks every argument, then calls pipeline.hpp.
#include <cxrmt/cxrmt.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "c_api_common.hpp"
#include "pipeline.hpp"

struct cxrmt_pipeline {
  cxrmt::detail::pipeline impl;
};

namespace {

using namespace cxrmt_c;
using cxrmt::detail::bad_arg;
namespace d = cxrmt::detail;

void copy_text(char* dst, std::size_t n, const std::string& src) {
  std::snprintf(dst, n, "%s", src.c_str());
}

d::run_options run_options_of(const cxrmt_run_options* given) {
  cxrmt_run_options o;
  if (given) o = *given;
  else cxrmt_run_options_init(&o);
  d::run_options r;
  r.window = enum_field<d::window_choice>(o.window, CXRMT_WINDOW_MODEL, CXRMT_WINDOW_PERCENTILE, "options.window");
  r.lo = o.window_lo;
  r.hi = o.window_hi;
  r.p_lo = o.p_lo;
  r.p_hi = o.p_hi;
  r.bits_stored = o.bits_stored;
  r.invert = o.invert != 0;
  r.white = o.white;
  const double sr = o.spacing_mm[0], sc = o.spacing_mm[1];
  if (sr != 0.0 || sc != 0.0) {
    if (!(sr > 0.0) || !(sc > 0.0) || !std::isfinite(sr) || !std::isfinite(sc))
      bad_arg("options.spacing_mm: both values must be > 0 ({0, 0}: unknown)");
    r.has_spacing = true;
    r.spacing_mm[0] = sr;
    r.spacing_mm[1] = sc;
  }
  r.clean = o.clean != 0;
  r.overlay = overlay_of(o.overlay);   // checks its enum fields
  r.has_overlay_palette = o.model_palette == 0;
  r.mode = enum_field<cxrmt::bone_mode>(o.bone_mode, CXRMT_BONE_RESIDUAL, CXRMT_BONE_RESIZE, "options.bone_mode");
  r.filter = enum_field<cxrmt::resample>(o.resample, CXRMT_RESAMPLE_BILINEAR, CXRMT_RESAMPLE_AREA,
                                         "options.resample");
  return r;
}

// The image's full scale, as the pipeline writes the bone image on it.
float white_of(const cxrmt::image_view& im, const d::run_options& r) {
  if (r.white > 0) return r.white;
  cxrmt::window_options w;
  w.bits_stored = r.bits_stored;
  float lo = 0, hi = 1;
  d::static_window(im, w, &lo, &hi);
  return hi;
}

cxrmt_output_sizes sizes_of(const d::pipeline& p, const cxrmt::image_view& im, const d::run_options& r) {
  d::check_image(im, "image");
  cxrmt_output_sizes s{};
  s.height = im.height;
  s.width = im.width;
  const std::size_t px = static_cast<std::size_t>(im.height) * im.width;
  const auto kind = p.info().kind;
  const cxrmt::dtype bone = d::pipeline::bone_type(im.type, white_of(im, r));
  s.bone_dtype = static_cast<cxrmt_dtype>(bone);
  if (kind != cxrmt::task::bse) {
    s.masks = 3 * px;
    s.labels = px;
    s.segmentation = s.overlay = 3 * px;
  }
  if (kind != cxrmt::task::seg) s.bone = px * d::dtype_size(bone);
  s.output = p.output_elements() * sizeof(float);
  return s;
}

template <typename T>
T* target(T* buffer, std::size_t capacity, std::size_t needed, const char* name) {
  if (!buffer) return nullptr;
  if (needed == 0) bad_arg(std::string("outputs.") + name + ": this model does not give it (pass NULL)");
  if (capacity < needed)
    bad_arg(std::string("outputs.") + name + "_size: " + std::to_string(capacity) + " bytes, the image needs " +
            std::to_string(needed) + " (see cxrmt_outputs_size)");
  return buffer;
}

void store_measures(const cxrmt::measures& m, cxrmt_measurements* c) {
  for (int i = 0; i < 3; ++i) {
    const auto& o = m.organs[i];
    c->organs[i] = cxrmt_organ_measures{o.area_px, o.height_px, o.width_px, o.area_mm2, o.height_mm, o.width_mm};
  }
  c->cardiothoracic_ratio = m.ctr;
  c->has_ctr = m.has_ctr ? 1 : 0;
  c->has_spacing = m.has_spacing ? 1 : 0;
}

}  // namespace

extern "C" {

void cxrmt_pipeline_options_init(cxrmt_pipeline_options* o) {
  if (o) *o = cxrmt_pipeline_options{CXRMT_DEVICE_AUTO, 0, 0, nullptr};
}

void cxrmt_run_options_init(cxrmt_run_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof(*o));
  o->window = CXRMT_WINDOW_MODEL;
  o->p_lo = 1.0f;
  o->p_hi = 99.0f;
  cxrmt_overlay_options_init(&o->overlay);
  o->model_palette = 1;
  o->bone_mode = CXRMT_BONE_RESIDUAL;
  o->resample = CXRMT_RESAMPLE_BILINEAR;
}

cxrmt_status cxrmt_pipeline_create(const char* model_path, const cxrmt_pipeline_options* options,
                                   cxrmt_pipeline** pipeline) {
  if (pipeline) *pipeline = nullptr;
  return guarded([&] {
    if (!pipeline) bad_arg("pipeline: NULL");
    if (!model_path || !*model_path) bad_arg("model_path: NULL or empty");
    cxrmt_pipeline_options o;
    if (options) o = *options;
    else cxrmt_pipeline_options_init(&o);
    d::engine_options e;
    const int device = raw(o.device);
    if (device < CXRMT_DEVICE_AUTO || device > CXRMT_DEVICE_CUDA) bad_arg("options.device: unknown device");
    e.device = device == CXRMT_DEVICE_CPU ? "cpu" : device == CXRMT_DEVICE_CUDA ? "cuda" : "auto";
    if (o.device_index < 0) bad_arg("options.device_index: must be >= 0");
    if (o.threads < 0) bad_arg("options.threads: must be >= 0 (0: the runtime's default)");
    e.device_index = o.device_index;
    e.threads = o.threads;
    if (o.library) e.library = o.library;
    *pipeline = new cxrmt_pipeline{d::pipeline(model_path, e)};
  });
}

cxrmt_status cxrmt_pipeline_info(const cxrmt_pipeline* pipeline, cxrmt_model_info* info) {
  return guarded([&] {
    const auto& i = need(pipeline, "pipeline").impl.info();
    if (!info) bad_arg("info: NULL");
    cxrmt_model_info c{};
    c.size = i.size;
    c.batch = i.batch;
    c.layout = static_cast<cxrmt_layout>(i.order);
    c.task = static_cast<cxrmt_task>(i.kind);
    std::memcpy(c.palette, i.palette, 12);
    copy_text(c.precision, sizeof c.precision, i.precision);
    copy_text(c.backend, sizeof c.backend, i.backend);
    copy_text(c.window, sizeof c.window, i.window);
    *info = c;
  });
}

cxrmt_status cxrmt_outputs_size(const cxrmt_pipeline* pipeline, const cxrmt_image* image,
                                const cxrmt_run_options* options, cxrmt_output_sizes* sizes) {
  return guarded([&] {
    const auto& p = need(pipeline, "pipeline").impl;
    const auto im = view_of(need(image, "image"));
    if (!sizes) bad_arg("sizes: NULL");
    *sizes = sizes_of(p, im, run_options_of(options));
  });
}

cxrmt_status cxrmt_pipeline_run(const cxrmt_pipeline* pipeline, const cxrmt_image* image,
                                const cxrmt_run_options* options, cxrmt_outputs* outputs) {
  return guarded([&] {
    const auto& p = need(pipeline, "pipeline").impl;
    const auto im = view_of(need(image, "image"));
    if (!outputs) bad_arg("outputs: NULL");
    const d::run_options r = run_options_of(options);
    const cxrmt_output_sizes s = sizes_of(p, im, r);
    cxrmt_outputs& o = *outputs;
    d::run_targets t;
    t.masks = target(o.masks, o.masks_size, s.masks, "masks");
    t.labels = target(o.labels, o.labels_size, s.labels, "labels");
    t.segmentation = target(o.segmentation, o.segmentation_size, s.segmentation, "segmentation");
    t.overlay_rgb = target(o.overlay, o.overlay_size, s.overlay, "overlay");
    t.bone = target(o.bone, o.bone_size, s.bone, "bone");
    t.output = target(o.output, o.output_size, s.output, "output");
    const d::run_result res = p.run(im, r, t);
    o.timings = cxrmt_timings{0.0, res.preprocess_ms, res.inference_ms, res.decode_ms, res.total_ms};
    o.measurements = cxrmt_measurements{};
    if (p.info().kind != cxrmt::task::bse) store_measures(res.organs, &o.measurements);
    store(res.used, &o.frame);
  });
}

void cxrmt_pipeline_destroy(cxrmt_pipeline* pipeline) { delete pipeline; }

}  // extern "C"
