// The plain-C API: converts C structs to the C++ API and exceptions to status codes.
#include <cxrmt/cxrmt.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "c_api_common.hpp"
#include "internal.hpp"

namespace {

using namespace cxrmt_c;
thread_local std::string last_build_info;

cxrmt::window_options window_of(const cxrmt_preprocess_options& o) {
  cxrmt::window_options w;
  w.bits_stored = o.bits_stored;
  w.invert = o.invert != 0;
  w.has_window = o.has_window != 0;
  w.lo = o.window_lo;
  w.hi = o.window_hi;
  w.use_percentile = o.use_percentile != 0;
  w.field = o.use_percentile == CXRMT_PERCENTILE_FIELD;
  w.p_lo = o.p_lo;
  w.p_hi = o.p_hi;
  return w;
}

struct decode_call {
  cxrmt::output_view out;
  cxrmt::frame f;
  cxrmt::decode_options opts;
  cxrmt::image_view orig;
  bool has_orig = false;
  cxrmt::layout input_order;
};

decode_call decode_args(const void* output, const cxrmt_frame* frame, const cxrmt_decode_options* options,
                        const cxrmt_image* original) {
  const cxrmt_decode_options& o = need(options, "options");
  decode_call c;
  c.f = frame_of(need(frame, "frame"));
  c.opts.kind = enum_field<cxrmt::task>(o.task, CXRMT_TASK_MT, CXRMT_TASK_BSE, "options.task");
  c.opts.mode = enum_field<cxrmt::bone_mode>(o.bone_mode, CXRMT_BONE_RESIDUAL, CXRMT_BONE_RESIZE, "options.bone_mode");
  c.opts.filter = enum_field<cxrmt::resample>(o.resample, CXRMT_RESAMPLE_BILINEAR, CXRMT_RESAMPLE_AREA,
                                              "options.resample");
  c.opts.bone_type = enum_field<cxrmt::dtype>(o.bone_dtype, CXRMT_U8, CXRMT_U16, "options.bone_dtype");
  c.opts.bone_lo = o.bone_window_lo;
  c.opts.bone_hi = o.bone_window_hi;
  c.out = {output, enum_field<cxrmt::dtype>(o.output_dtype, CXRMT_F32, CXRMT_F16, "options.output_dtype"),
           c.f.size, c.opts.kind == cxrmt::task::mt ? 6 : 3,
           enum_field<cxrmt::layout>(o.output_layout, CXRMT_NHWC, CXRMT_NCHW, "options.output_layout")};
  if (original) { c.orig = view_of(*original); c.has_orig = true; }
  c.input_order = enum_field<cxrmt::layout>(o.input_layout, CXRMT_NHWC, CXRMT_NCHW, "options.input_layout");
  return c;
}

}  // namespace

namespace cxrmt {
namespace detail {
std::string& last_error() {
  thread_local std::string message;
  return message;
}
}  // namespace detail
}  // namespace cxrmt

extern "C" {

int cxrmt_api_version(void) { return CXRMT_API_VERSION; }
const char* cxrmt_version(void) { return CXRMT_VERSION; }
const char* cxrmt_last_error(void) { return cxrmt::detail::last_error().c_str(); }
const char* cxrmt_build_info(void) {
  last_build_info = cxrmt::build_info_json();
  return last_build_info.c_str();
}

void cxrmt_preprocess_options_init(cxrmt_preprocess_options* o) {
  if (!o) return;
  *o = cxrmt_preprocess_options{0, 0, 0, 0.0f, 0.0f, 0, 0.5f, 99.5f, CXRMT_NHWC, -1.0f};
}

void cxrmt_decode_options_init(cxrmt_decode_options* o) {
  if (!o) return;
  *o = cxrmt_decode_options{CXRMT_TASK_MT, CXRMT_BONE_RESIDUAL, CXRMT_RESAMPLE_BILINEAR, CXRMT_U8,
                            CXRMT_NHWC, CXRMT_NHWC, CXRMT_F32, 0.0f, 0.0f};
}

void cxrmt_overlay_options_init(cxrmt_overlay_options* o) {
  if (!o) return;
  cxrmt::overlay_options d;
  o->alpha = d.alpha;
  o->filter = CXRMT_FILTER_POINT;
  o->mode = CXRMT_OVERLAY_FILL;
  o->thickness = d.thickness;
  std::memcpy(o->palette, d.palette, 12);
}

cxrmt_status cxrmt_preprocess(const cxrmt_image* image, int32_t size, const cxrmt_preprocess_options* options,
                              float* out, cxrmt_frame* frame) {
  return guarded([&] {
    const auto& o = need(options, "options");
    store(cxrmt::preprocess(view_of(need(image, "image")), size, window_of(o),
                            enum_field<cxrmt::layout>(o.layout, CXRMT_NHWC, CXRMT_NCHW, "options.layout"),
                            o.pad_value, out), frame);
  });
}

cxrmt_status cxrmt_decode(const void* output, const cxrmt_frame* frame, const cxrmt_decode_options* options,
                          const cxrmt_image* original, const float* model_input, uint8_t* masks, uint8_t* labels,
                          void* bone) {
  return guarded([&] {
    decode_call c = decode_args(output, frame, options, original);
    cxrmt::decode(c.out, c.f, c.opts, c.has_orig ? &c.orig : nullptr, model_input, c.input_order, {masks, labels, bone});
  });
}

cxrmt_status cxrmt_colourise(const uint8_t* seg, int32_t is_masks, int32_t height, int32_t width,
                             const uint8_t* palette, uint8_t* rgb) {
  return guarded([&] {
    if (!rgb) cxrmt::detail::bad_arg("rgb: NULL");
    cxrmt::overlay_options d;
    cxrmt::colourise({seg, is_masks != 0, height, width}, palette ? palette : d.palette, rgb);
  });
}

cxrmt_status cxrmt_overlay(const cxrmt_image* original, const cxrmt_frame* frame, const uint8_t* seg, int32_t is_masks,
                           int32_t seg_height, int32_t seg_width, const cxrmt_overlay_options* options, uint8_t* rgb) {
  return guarded([&] {
    if (!rgb) cxrmt::detail::bad_arg("rgb: NULL");
    cxrmt::overlay(view_of(need(original, "original")), frame_of(need(frame, "frame")),
                   {seg, is_masks != 0, seg_height, seg_width}, overlay_of(need(options, "options")), rgb);
  });
}

cxrmt_status cxrmt_cleanup(uint8_t* masks, int32_t height, int32_t width, int32_t keep_largest, int32_t fill_holes) {
  return guarded([&] { cxrmt::cleanup(masks, height, width, keep_largest != 0, fill_holes != 0); });
}

int cxrmt_cuda_available(void) { return cxrmt::cuda::available() ? 1 : 0; }

cxrmt_status cxrmt_preprocess_cuda(const cxrmt_image* image, int32_t size, const cxrmt_preprocess_options* options,
                                   float* out, cxrmt_frame* frame, void* stream) {
  return guarded([&] {
    const auto& o = need(options, "options");
    store(cxrmt::cuda::preprocess(view_of(need(image, "image")), size, window_of(o),
                                  enum_field<cxrmt::layout>(o.layout, CXRMT_NHWC, CXRMT_NCHW, "options.layout"),
                                  o.pad_value, out, stream), frame);
  });
}

cxrmt_status cxrmt_decode_cuda(const void* output, const cxrmt_frame* frame, const cxrmt_decode_options* options,
                               const cxrmt_image* original, const float* model_input, uint8_t* masks, uint8_t* labels,
                               void* bone, void* stream) {
  return guarded([&] {
    decode_call c = decode_args(output, frame, options, original);
    cxrmt::cuda::decode(c.out, c.f, c.opts, c.has_orig ? &c.orig : nullptr, model_input, c.input_order,
                        {masks, labels, bone}, stream);
  });
}

cxrmt_status cxrmt_overlay_cuda(const cxrmt_image* original, const cxrmt_frame* frame, const uint8_t* seg,
                                int32_t is_masks, int32_t seg_height, int32_t seg_width,
                                const cxrmt_overlay_options* options, uint8_t* rgb, void* stream) {
  return guarded([&] {
    cxrmt::cuda::overlay(view_of(need(original, "original")), frame_of(need(frame, "frame")),
                         {seg, is_masks != 0, seg_height, seg_width}, overlay_of(need(options, "options")), rgb, stream);
  });
}

}  // extern "C"
