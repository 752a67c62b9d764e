// Helpers of the C API's translation units: exceptions -> status codes (the message kept for
// cxrmt_last_error), NULL checks naming the argument, C structs -> C++ views.
#pragma once
#include <cxrmt/cxrmt.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "internal.hpp"

namespace cxrmt {
namespace detail {
std::string& last_error();  // this thread's message
}  // namespace detail
}  // namespace cxrmt

namespace cxrmt_c {
using cxrmt::detail::last_error;

template <typename F>
inline cxrmt_status guarded(F&& fn) {
  try {
    fn();
    last_error().clear();
    return CXRMT_OK;
  } catch (const std::invalid_argument& e) {
    last_error() = e.what();
    return CXRMT_ERROR_INVALID_ARGUMENT;
  } catch (const std::runtime_error& e) {
    last_error() = e.what();
    bool unsupported = last_error().find("built without")  != std::string::npos;
    return unsupported ? CXRMT_ERROR_UNSUPPORTED
                       : last_error().rfind("CUDA error", 0) == 0 ? CXRMT_ERROR_CUDA : CXRMT_ERROR_INTERNAL;
  } catch (const std::exception& e) {
    last_error() = e.what();
    return CXRMT_ERROR_INTERNAL;
  } catch (...) {
    last_error() = "unknown error";
    return CXRMT_ERROR_INTERNAL;
  }
}

// An enum field of a C struct as its integer: C callers may store any int there, and loading an
// out-of-range value as the C++ enum type would be undefined behaviour (UBSan reports it).
template <typename E>
inline int raw(const E& e) {
  typename std::underlying_type<E>::type v;
  std::memcpy(&v, &e, sizeof v);
  return static_cast<int>(v);
}

// An enum field checked against [lo, hi] and converted to the C++ enum `To`; out of range is an
// invalid argument naming the field.
template <typename To, typename E>
inline To enum_field(const E& e, int lo, int hi, const char* name) {
  const int v = raw(e);
  if (v < lo || v > hi) cxrmt::detail::bad_arg(std::string(name) + ": unknown value " + std::to_string(v));
  return static_cast<To>(v);
}

template <typename T>
inline const T& need(const T* p, const char* name) {
  if (!p) cxrmt::detail::bad_arg(std::string(name) + ": NULL");
  return *p;
}

inline cxrmt::image_view view_of(const cxrmt_image& im) {
  cxrmt::image_view v;
  v.data = im.data;
  v.type = enum_field<cxrmt::dtype>(im.dtype, CXRMT_U8, CXRMT_F16, "image.dtype");
  v.height = im.height;
  v.width = im.width;
  v.row_stride = im.row_stride ? im.row_stride : im.width;
  return v;
}

inline cxrmt::frame frame_of(const cxrmt_frame& c) {
  cxrmt::frame f;
  f.height = c.height; f.width = c.width; f.size = c.size;
  f.pad_top = c.pad_top; f.pad_bottom = c.pad_bottom; f.pad_left = c.pad_left; f.pad_right = c.pad_right;
  f.window_lo = c.window_lo; f.window_hi = c.window_hi; f.invert = c.invert != 0;
  return f;
}

inline void store(const cxrmt::frame& f, cxrmt_frame* c) {
  if (!c) return;
  *c = cxrmt_frame{f.height, f.width, f.size, f.pad_top, f.pad_bottom, f.pad_left, f.pad_right,
                   f.window_lo, f.window_hi, f.invert ? 1 : 0};
}

inline cxrmt::overlay_options overlay_of(const cxrmt_overlay_options& o) {
  cxrmt::overlay_options v;
  v.alpha = o.alpha;
  v.filter = enum_field<cxrmt::sampling>(o.filter, CXRMT_FILTER_POINT, CXRMT_FILTER_LINEAR, "overlay.filter");
  v.mode = enum_field<cxrmt::overlay_mode>(o.mode, CXRMT_OVERLAY_FILL, CXRMT_OVERLAY_OUTLINE, "overlay.mode");
  v.thickness = o.thickness;
  std::memcpy(v.palette, o.palette, 12);
  return v;
}

}  // namespace cxrmt_c
