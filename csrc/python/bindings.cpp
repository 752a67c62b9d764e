// cxrmt._core: numpy in, numpy out, over the C++ API. Validation that needs numpy (ndim, dtype,
// shapes) lives here; everything else in the C++ core. The GIL is released while kernels run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

#include <cxrmt/core.hpp>

namespace py = pybind11;
using namespace cxrmt;

namespace {

[[noreturn]] void bad(const std::string& msg) { throw py::value_error(msg); }

bool use_cuda(const std::string& device) {
  if (device == "cpu") return false;
  if (device == "cuda") return true;
  bad("device: must be 'cpu' or 'cuda', got '" + device + "'");
}

layout parse_layout(const std::string& s, const char* name) {
  if (s == "nhwc") return layout::nhwc;
  if (s == "nchw") return layout::nchw;
  bad(std::string(name) + ": must be 'nhwc' or 'nchw', got '" + s + "'");
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// A numpy dtype among those the kernels accept.
dtype kind_of(const py::dtype& d, const char* name, bool allow_half) {
  const char k = d.kind();
  const auto n = d.itemsize();
  if (k == 'u' && n == 1) return dtype::u8;
  if (k == 'u' && n == 2) return dtype::u16;
  if (k == 'f' && n == 4) return dtype::f32;
  if (k == 'f' && n == 2 && allow_half) return dtype::f16;
  bad(std::string(name) + ": dtype " + py::str(d).cast<std::string>() + " is not supported (use " +
      (allow_half ? "float32 or float16)" : "uint8, uint16 or float32)"));
}

dtype kind_of(const py::array& a, const char* name, bool allow_half) { return kind_of(a.dtype(), name, allow_half); }

py::array contiguous(const py::array& a) {
  return py::array::ensure(a, py::array::c_style);
}

struct held_image {
  py::array arr;
  image_view view;
};

held_image image_arg(const py::array& a, const char* name) {
  if (a.ndim() != 2)
    bad(std::string(name) + ": expected a 2-D grey image (H, W), got " + std::to_string(a.ndim()) + " dimensions");
  if (a.size() == 0) bad(std::string(name) + ": empty image");
  held_image h{contiguous(a), {}};
  h.view = {h.arr.data(), kind_of(a, name, false), static_cast<int>(a.shape(0)), static_cast<int>(a.shape(1)),
            static_cast<std::ptrdiff_t>(a.shape(1))};
  return h;
}

window_options window_args(int bits_stored, bool invert, std::optional<std::pair<double, double>> window,
                           std::optional<std::pair<double, double>> percentile, bool field) {
  window_options w;
  w.bits_stored = bits_stored;
  w.invert = invert;
  if (window) { w.has_window = true; w.lo = static_cast<float>(window->first); w.hi = static_cast<float>(window->second); }
  if (percentile) {
    w.use_percentile = true;
    w.p_lo = static_cast<float>(percentile->first);
    w.p_hi = static_cast<float>(percentile->second);
  }
  if (field && !percentile) bad("field: only with a percentile window");
  w.field = field;
  return w;
}

py::tuple preprocess_py(const py::array& image, int size, int bits_stored, bool invert,
                        std::optional<std::pair<double, double>> window,
                        std::optional<std::pair<double, double>> percentile, bool field,
                        const std::string& layout_name, double pad_value, std::optional<py::array> out,
                        const std::string& device, int multiple_of) {
  held_image im = image_arg(image, "image");
  if (size <= 0) bad("size: must be positive, got " + std::to_string(size));
  if (multiple_of < 1) bad("multiple_of: must be >= 1, got " + std::to_string(multiple_of));
  if (size % multiple_of)
    bad("size: the model needs a positive multiple of " + std::to_string(multiple_of) + ", got " + std::to_string(size));
  const layout order = parse_layout(layout_name, "layout");
  std::vector<py::ssize_t> shape = order == layout::nhwc ? std::vector<py::ssize_t>{1, size, size, 3}
                                                         : std::vector<py::ssize_t>{1, 3, size, size};
  py::array_t<float> dst;
  if (out) {
    const py::array& o = *out;
    bool ok = o.dtype().is(py::dtype::of<float>()) && o.ndim() == 4 && (o.flags() & py::array::c_style) && o.writeable();
    for (int i = 0; ok && i < 4; ++i) ok = o.shape(i) == shape[i];
    if (!ok)
      bad("out: needs a writable C-contiguous float32 array of shape (" + std::to_string(shape[0]) + ", " +
          std::to_string(shape[1]) + ", " + std::to_string(shape[2]) + ", " + std::to_string(shape[3]) + ")");
    dst = py::reinterpret_borrow<py::array_t<float>>(o);
  } else {
    dst = py::array_t<float>(shape);
  }
  const window_options w = window_args(bits_stored, invert, window, percentile, field);
  const bool gpu = use_cuda(device);
  float* p = dst.mutable_data();
  frame f;
  {
    py::gil_scoped_release nogil;
    f = gpu ? cuda::preprocess_host(im.view, size, w, order, static_cast<float>(pad_value), p)
            : preprocess(im.view, size, w, order, static_cast<float>(pad_value), p);
  }
  return py::make_tuple(dst, f);
}

task parse_task(const std::string& name) {
  if (name == "mt") return task::mt;
  if (name == "seg") return task::seg;
  if (name == "bse") return task::bse;
  bad("task: must be 'auto', 'mt', 'seg' or 'bse', got '" + name + "'");
}

void bone_args(decode_options& o, const std::string& mode, const std::string& filter, const std::string& bone_dtype,
               std::optional<std::pair<double, double>> bone_window) {
  if (mode == "residual") o.mode = bone_mode::residual;
  else if (mode == "resize") o.mode = bone_mode::resize;
  else bad("bone_mode: must be 'residual' or 'resize', got '" + mode + "'");
  if (filter == "bilinear") o.filter = resample::bilinear;
  else if (filter == "area") o.filter = resample::area;
  else bad("resample: must be 'bilinear' or 'area', got '" + filter + "'");
  if (bone_dtype == "uint8") o.bone_type = dtype::u8;
  else if (bone_dtype == "uint16") o.bone_type = dtype::u16;
  else bad("bone_dtype: must be 'uint8' or 'uint16', got '" + bone_dtype + "'");
  if (bone_window) {
    o.bone_lo = static_cast<float>(bone_window->first);
    o.bone_hi = static_cast<float>(bone_window->second);
    if (!(o.bone_lo < o.bone_hi)) bad("bone_window: need lo < hi");
  }
}

py::dict decode_py(const py::array& output, const frame& f, const std::string& task_name, const std::string& layout_name,
                   std::optional<py::array> image, std::optional<py::array> model_input,
                   const std::string& input_layout, const std::string& mode, const std::string& filter,
                   const std::string& bone_dtype, std::optional<std::pair<double, double>> bone_window, bool masks,
                   bool labels, bool bone, const std::string& device) {
  const layout order = parse_layout(layout_name, "layout");
  if (output.ndim() != 3 && output.ndim() != 4)
    bad("output: expected (1, S, S, C), (S, S, C) or the NCHW equivalents, got " + std::to_string(output.ndim()) + " dimensions");
  const int off = output.ndim() - 3;
  if (off == 1 && output.shape(0) != 1) bad("output: batch size must be 1, got " + std::to_string(output.shape(0)));
  const int c = static_cast<int>(order == layout::nhwc ? output.shape(off + 2) : output.shape(off));
  const int sh = static_cast<int>(order == layout::nhwc ? output.shape(off) : output.shape(off + 1));
  const int sw = static_cast<int>(order == layout::nhwc ? output.shape(off + 1) : output.shape(off + 2));
  if (sh != sw) bad("output: spatial shape must be square, got " + std::to_string(sh) + "x" + std::to_string(sw));
  if (sh != f.size) bad("output: size " + std::to_string(sh) + " does not match the frame's " + std::to_string(f.size));
  decode_options o;
  if (task_name == "auto") {
    if (c != 6 && c != 3) bad("output: expected 6 (mt) or 3 channels, got " + std::to_string(c) + "; check layout");
    o.kind = c == 6 ? task::mt : task::seg;
  } else o.kind = parse_task(task_name);
  if (c != (o.kind == task::mt ? 6 : 3))
    bad("output: task " + task_name + " needs " + (o.kind == task::mt ? "6" : "3") + " channels, got " + std::to_string(c));
  bone_args(o, mode, filter, bone_dtype, bone_window);
  const bool has_seg = o.kind != task::bse, has_bone = o.kind != task::seg;
  masks = masks && has_seg;
  labels = labels && has_seg;
  bone = bone && has_bone;

  py::array out_c = contiguous(output);
  output_view ov{out_c.data(), kind_of(output, "output", true), sh, c, order};
  std::optional<held_image> orig;
  py::array_t<float> inp;
  const bool residual = bone && o.mode == bone_mode::residual;
  const layout in_order = parse_layout(input_layout, "input_layout");
  if (residual) {
    if (!image || !model_input) bad("image/model_input: residual bone decoding needs the original image and the model input");
    orig = image_arg(*image, "image");
    const py::array& mi = *model_input;
    if (!mi.dtype().is(py::dtype::of<float>()) || mi.size() != 3LL * f.size * f.size)
      bad("model_input: expected the float32 (1, S, S, 3) / (1, 3, S, S) array that preprocess returned");
    inp = py::array_t<float, py::array::c_style>::ensure(mi);
  }
  const py::ssize_t h = f.height, w = f.width;
  py::dict result;
  py::array_t<uint8_t> m, l;
  py::array b;
  if (masks) m = py::array_t<uint8_t>({py::ssize_t(3), h, w});
  if (labels) l = py::array_t<uint8_t>({h, w});
  if (bone) b = o.bone_type == dtype::u8 ? py::array(py::array_t<uint8_t>({h, w})) : py::array(py::array_t<uint16_t>({h, w}));
  decode_targets t{masks ? m.mutable_data() : nullptr, labels ? l.mutable_data() : nullptr, bone ? b.mutable_data() : nullptr};
  const bool gpu = use_cuda(device);
  {
    py::gil_scoped_release nogil;
    const image_view* ip = orig ? &orig->view : nullptr;
    const float* mp = residual ? inp.data() : nullptr;
    if (gpu) cuda::decode_host(ov, f, o, ip, mp, in_order, t);
    else decode(ov, f, o, ip, mp, in_order, t);
  }
  result["masks"] = masks ? py::object(m) : py::none();
  result["labels"] = labels ? py::object(l) : py::none();
  result["bone_suppressed"] = bone ? py::object(b) : py::none();
  return result;
}

struct held_seg {
  py::array arr;
  seg_view view;
};

held_seg seg_arg(const py::array& seg) {
  if (!seg.dtype().is(py::dtype::of<uint8_t>()) && seg.dtype().kind() != 'b')
    bad("seg: dtype " + dtype_str(seg) + " is not supported (use uint8 labels (H, W) or uint8/bool masks (3, H, W))");
  if (seg.ndim() == 3 && seg.shape(0) != 3)
    bad("seg: masks must have shape (3, H, W) (heart, left lung, right lung), got first axis " + std::to_string(seg.shape(0)));
  if (seg.ndim() != 2 && seg.ndim() != 3) bad("seg: expected labels (H, W) or masks (3, H, W)");
  if (seg.size() == 0) bad("seg: empty");
  held_seg s{contiguous(seg), {}};
  const bool multi = seg.ndim() == 3;
  s.view = {static_cast<const uint8_t*>(s.arr.data()), multi, static_cast<int>(seg.shape(multi ? 1 : 0)),
            static_cast<int>(seg.shape(multi ? 2 : 1))};
  return s;
}

void palette_arg(std::optional<py::array> palette, uint8_t* dst) {
  if (!palette) return;
  const py::array& p = *palette;
  if (!p.dtype().is(py::dtype::of<uint8_t>()) || p.ndim() != 2 || p.shape(0) != 4 || p.shape(1) != 3)
    bad("palette: expected a uint8 array of shape (4, 3) (background, right lung, left lung, heart), got dtype " +
        dtype_str(p) + " with " + std::to_string(p.ndim()) + " dimensions");
  py::array pc = contiguous(p);
  std::memcpy(dst, pc.data(), 12);
}

py::array_t<uint8_t> colourise_py(const py::array& seg, std::optional<py::array> palette, const std::string& device) {
  held_seg s = seg_arg(seg);
  overlay_options d;
  palette_arg(palette, d.palette);
  py::array_t<uint8_t> rgb({static_cast<py::ssize_t>(s.view.height), static_cast<py::ssize_t>(s.view.width), py::ssize_t(3)});
  uint8_t* p = rgb.mutable_data();
  const bool gpu = use_cuda(device);
  {
    py::gil_scoped_release nogil;
    if (gpu) cuda::colourise_host(s.view, d.palette, p);
    else colourise(s.view, d.palette, p);
  }
  return rgb;
}

overlay_options overlay_args(int alpha, const std::string& filter, const std::string& mode, int thickness,
                             std::optional<py::array> palette) {
  overlay_options o;
  o.alpha = alpha;
  o.thickness = thickness;
  if (filter == "point") o.filter = sampling::point;
  else if (filter == "linear") o.filter = sampling::linear;
  else bad("filter: must be 'point' or 'linear', got '" + filter + "'");
  if (mode == "fill") o.mode = overlay_mode::fill;
  else if (mode == "outline") o.mode = overlay_mode::outline;
  else bad("mode: must be 'fill' or 'outline', got '" + mode + "'");
  palette_arg(palette, o.palette);
  return o;
}

py::array_t<uint8_t> overlay_py(const py::array& image, const frame& f, const py::array& seg, int alpha,
                                const std::string& filter, const std::string& mode, int thickness,
                                std::optional<py::array> palette, const std::string& device) {
  held_image im = image_arg(image, "image");
  held_seg s = seg_arg(seg);
  const overlay_options o = overlay_args(alpha, filter, mode, thickness, palette);
  py::array_t<uint8_t> rgb({static_cast<py::ssize_t>(f.height), static_cast<py::ssize_t>(f.width), py::ssize_t(3)});
  uint8_t* p = rgb.mutable_data();
  const bool gpu = use_cuda(device);
  {
    py::gil_scoped_release nogil;
    if (gpu) cuda::overlay_host(im.view, f, s.view, o, p);
    else overlay(im.view, f, s.view, o, p);
  }
  return rgb;
}

// (3, H, W) uint8/bool masks, C-contiguous (bool is 0/1 bytes, read as uint8).
py::array masks_arg(const py::array& masks) {
  if (masks.ndim() != 3 || masks.shape(0) != 3) bad("masks: expected shape (3, H, W)");
  if (!masks.dtype().is(py::dtype::of<uint8_t>()) && masks.dtype().kind() != 'b')
    bad("masks: dtype " + dtype_str(masks) + " is not supported (use uint8 or bool)");
  if (masks.size() == 0) bad("masks: empty");
  return contiguous(masks);
}

const uint8_t* bytes(const py::array& a) { return static_cast<const uint8_t*>(a.data()); }

py::array_t<uint8_t> cleanup_py(const py::array& masks, bool keep_largest, bool fill_holes) {
  py::array src = masks_arg(masks);
  py::array_t<uint8_t> out({masks.shape(0), masks.shape(1), masks.shape(2)});
  std::memcpy(out.mutable_data(), src.data(), static_cast<std::size_t>(masks.size()));
  uint8_t* p = out.mutable_data();
  const int h = static_cast<int>(masks.shape(1)), w = static_cast<int>(masks.shape(2));
  {
    py::gil_scoped_release nogil;
    cleanup(p, h, w, keep_largest, fill_holes);
  }
  return out;
}

// Inflated PNG rows (bytes-like) -> the image: (H, W) or (H, W, C), uint8 or host-order uint16.
py::array png_unfilter_py(const py::buffer& filtered, int height, int width, int channels, int depth) {
  if (height <= 0 || width <= 0 || channels < 1 || channels > 4 || (depth != 8 && depth != 16))
    bad("png_unfilter: need positive height and width, 1-4 channels and depth 8 or 16, got " +
        std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels) + " at " +
        std::to_string(depth) + " bits");
  const py::buffer_info in = filtered.request();
  const std::size_t sample = static_cast<std::size_t>(depth / 8);
  const std::size_t row_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels) * sample;
  const std::size_t want = static_cast<std::size_t>(height) * (row_bytes + 1);
  if (in.ndim != 1 || in.itemsize != 1 || static_cast<std::size_t>(in.size) != want)
    bad("png_unfilter: expected " + std::to_string(want) + " bytes of filtered rows, got " +
        std::to_string(in.size * in.itemsize));
  std::vector<py::ssize_t> shape{height, width};
  if (channels > 1) shape.push_back(channels);
  py::array out = depth == 8 ? py::array(py::dtype::of<uint8_t>(), shape) : py::array(py::dtype::of<uint16_t>(), shape);
  auto* dst = static_cast<uint8_t*>(out.mutable_data());
  {
    py::gil_scoped_release nogil;
    png_unfilter(static_cast<const uint8_t*>(in.ptr), height, row_bytes, channels * static_cast<int>(sample),
                 static_cast<int>(sample), dst);
  }
  return out;
}

py::array_t<uint8_t> relabel_py(const py::array& labels, const py::array& masks) {
  if (!labels.dtype().is(py::dtype::of<uint8_t>()) || labels.ndim() != 2)
    bad("labels: expected a uint8 label map (H, W), got dtype " + dtype_str(labels) + " with " +
        std::to_string(labels.ndim()) + " dimensions");
  py::array m = masks_arg(masks);
  if (masks.shape(1) != labels.shape(0) || masks.shape(2) != labels.shape(1))
    bad("masks: shape (3, " + std::to_string(masks.shape(1)) + ", " + std::to_string(masks.shape(2)) +
        ") does not match labels (" + std::to_string(labels.shape(0)) + ", " + std::to_string(labels.shape(1)) + ")");
  py::array_t<uint8_t> out({labels.shape(0), labels.shape(1)});
  py::array src = contiguous(labels);
  std::memcpy(out.mutable_data(), src.data(), static_cast<std::size_t>(labels.size()));
  uint8_t* p = out.mutable_data();
  const int h = static_cast<int>(labels.shape(0)), w = static_cast<int>(labels.shape(1));
  {
    py::gil_scoped_release nogil;
    relabel(p, bytes(m), h, w);
  }
  return out;
}

// The input's dtype as a kernel dtype; anything else numpy can name is an error here.
dtype input_kind(const py::object& input_dtype) {
  const py::dtype d = py::dtype::from_args(input_dtype);
  const char k = d.kind();
  if (k == 'u' && d.itemsize() == 1) return dtype::u8;
  if (k == 'u' && d.itemsize() == 2) return dtype::u16;
  if (k == 'f' && d.itemsize() == 4) return dtype::f32;
  if (k == 'f' && d.itemsize() == 2) return dtype::f16;
  bad("input_dtype: " + py::str(d).cast<std::string>() + " is not an image dtype (uint8, uint16, float32, float16)");
}

// Returns bone16 itself when the input's depth is full-range uint16 already (no copy).
py::array bone_to_input_depth_py(const py::array& bone16, const py::object& input_dtype, double white) {
  if (!bone16.dtype().is(py::dtype::of<uint16_t>()) || bone16.ndim() != 2)
    bad("bone16: expected the full-range uint16 bone image (H, W), got dtype " + dtype_str(bone16) + " with " +
        std::to_string(bone16.ndim()) + " dimensions");
  if (bone16.size() == 0) bad("bone16: empty image");
  const dtype input = input_kind(input_dtype);
  const float full = static_cast<float>(white);
  const dtype to = bone_depth(input, full);
  if (to == dtype::u16 && !(input == dtype::u16 && full < 65535.0f)) return bone16;
  py::array src = contiguous(bone16);
  const py::ssize_t h = bone16.shape(0), w = bone16.shape(1);
  py::array out = to == dtype::u8 ? py::array(py::array_t<uint8_t>({h, w})) : py::array(py::array_t<uint16_t>({h, w}));
  const auto* s = static_cast<const uint16_t*>(src.data());
  void* d = out.mutable_data();
  {
    py::gil_scoped_release nogil;
    bone_to_input_depth(s, static_cast<int>(h), static_cast<int>(w), input, full, d);
  }
  return out;
}

py::dict organ_dict(const organ_measures& o, bool mm) {
  py::dict d;
  d["area_px"] = o.area_px;
  d["height_px"] = o.height_px;
  d["width_px"] = o.width_px;
  if (mm) {
    d["area_mm2"] = o.area_mm2;
    d["height_mm"] = o.height_mm;
    d["width_mm"] = o.width_mm;
  }
  return d;
}

py::dict measure_py(const py::array& masks, std::optional<std::pair<double, double>> spacing) {
  py::array m = masks_arg(masks);
  const double sp[2] = {spacing ? spacing->first : 0.0, spacing ? spacing->second : 0.0};
  measures r;
  {
    py::gil_scoped_release nogil;
    r = measure(bytes(m), static_cast<int>(masks.shape(1)), static_cast<int>(masks.shape(2)), spacing ? sp : nullptr);
  }
  py::dict out;
  out["organs"] = py::make_tuple(organ_dict(r.organs[0], r.has_spacing), organ_dict(r.organs[1], r.has_spacing),
                                 organ_dict(r.organs[2], r.has_spacing));
  out["cardiothoracic_ratio"] = r.has_ctr ? py::object(py::float_(r.ctr)) : py::none();
  return out;
}

// -- Raw pointers (the TensorRT engine's device buffers): integers in, the cuda:: API called on
// `stream`. host=True runs the CPU kernels on host pointers instead (stand-ins, tests).

void* pointer(std::uintptr_t p, const char* name) {
  if (!p) bad(std::string(name) + ": null pointer");
  return reinterpret_cast<void*>(p);
}

void* stream_of(std::uintptr_t s) { return reinterpret_cast<void*>(s); }

image_view pointer_image(std::uintptr_t p, const py::object& dt, int height, int width, const char* name) {
  return {pointer(p, name), kind_of(py::dtype::from_args(dt), name, false), height, width, width};
}

frame preprocess_device_py(std::uintptr_t image, const py::object& image_dtype, int height, int width, int size,
                           std::uintptr_t out, int bits_stored, bool invert,
                           std::optional<std::pair<double, double>> window,
                           std::optional<std::pair<double, double>> percentile, bool field,
                           const std::string& layout_name, double pad_value, std::uintptr_t stream, bool host) {
  const image_view im = pointer_image(image, image_dtype, height, width, "image");
  auto* dst = static_cast<float*>(pointer(out, "out"));
  const window_options w = window_args(bits_stored, invert, window, percentile, field);
  const layout order = parse_layout(layout_name, "layout");
  py::gil_scoped_release nogil;
  return host ? preprocess(im, size, w, order, static_cast<float>(pad_value), dst)
              : cuda::preprocess(im, size, w, order, static_cast<float>(pad_value), dst, stream_of(stream));
}

void decode_device_py(std::uintptr_t output, const py::object& output_dtype, const frame& f,
                      const std::string& task_name, const std::string& layout_name, std::uintptr_t image,
                      const py::object& image_dtype, std::uintptr_t model_input,
                      std::optional<std::string> input_layout, const std::string& mode, const std::string& filter,
                      const std::string& bone_dtype, std::optional<std::pair<double, double>> bone_window,
                      std::uintptr_t masks, std::uintptr_t labels, std::uintptr_t bone, std::uintptr_t stream,
                      bool host) {
  decode_options o;
  o.kind = parse_task(task_name);
  bone_args(o, mode, filter, bone_dtype, bone_window);
  const layout order = parse_layout(layout_name, "layout");
  const layout in_order = input_layout ? parse_layout(*input_layout, "input_layout") : order;
  const output_view ov{pointer(output, "output"), kind_of(py::dtype::from_args(output_dtype), "output_dtype", true),
                       f.size, o.kind == task::mt ? 6 : 3, order};
  std::optional<image_view> orig;
  if (image) orig = pointer_image(image, image_dtype, f.height, f.width, "image");
  const decode_targets t{reinterpret_cast<uint8_t*>(masks), reinterpret_cast<uint8_t*>(labels),
                         reinterpret_cast<void*>(bone)};
  const auto* mi = reinterpret_cast<const float*>(model_input);
  py::gil_scoped_release nogil;
  const image_view* ip = orig ? &*orig : nullptr;
  if (host) decode(ov, f, o, ip, mi, in_order, t);
  else cuda::decode(ov, f, o, ip, mi, in_order, t, stream_of(stream));
}

void overlay_device_py(std::uintptr_t image, const py::object& image_dtype, const frame& f, std::uintptr_t seg,
                       std::uintptr_t out, bool masks, std::optional<std::pair<int, int>> seg_shape, int alpha,
                       const std::string& filter, const std::string& mode, int thickness,
                       std::optional<py::array> palette, std::uintptr_t stream, bool host) {
  const image_view im = pointer_image(image, image_dtype, f.height, f.width, "image");
  const seg_view sv{static_cast<const uint8_t*>(pointer(seg, "seg")), masks,
                    seg_shape ? seg_shape->first : f.height, seg_shape ? seg_shape->second : f.width};
  const overlay_options o = overlay_args(alpha, filter, mode, thickness, palette);
  auto* rgb = static_cast<uint8_t*>(pointer(out, "out"));
  py::gil_scoped_release nogil;
  if (host) overlay(im, f, sv, o, rgb);
  else cuda::overlay(im, f, sv, o, rgb, stream_of(stream));
}

std::string frame_repr(const frame& f) {
  return "Frame(height=" + std::to_string(f.height) + ", width=" + std::to_string(f.width) + ", size=" +
         std::to_string(f.size) + ", pad=(" + std::to_string(f.pad_top) + ", " + std::to_string(f.pad_bottom) + ", " +
         std::to_string(f.pad_left) + ", " + std::to_string(f.pad_right) + "), window=(" + std::to_string(f.window_lo) +
         ", " + std::to_string(f.window_hi) + "), invert=" + (f.invert ? "True" : "False") + ")";
}

}  // namespace

void bind_pipeline(py::module_& m);  // bind_pipeline.cpp

PYBIND11_MODULE(_core, m) {
  bind_pipeline(m);
  m.doc() = "cxrmt compiled core: preprocessing, decoding, colourisation, overlays, mask clean-up";

  py::class_<frame>(m, "Frame", "Geometry and intensity window that map model space back to the original image.")
      .def(py::init([](int height, int width, int size, int pad_top, int pad_bottom, int pad_left, int pad_right,
                       float window_lo, float window_hi, bool invert) {
             frame f;
             f.height = height; f.width = width; f.size = size;
             f.pad_top = pad_top; f.pad_bottom = pad_bottom; f.pad_left = pad_left; f.pad_right = pad_right;
             f.window_lo = window_lo; f.window_hi = window_hi; f.invert = invert;
             return f;
           }),
           py::arg("height"), py::arg("width"), py::arg("size"), py::arg("pad_top") = 0, py::arg("pad_bottom") = 0,
           py::arg("pad_left") = 0, py::arg("pad_right") = 0, py::arg("window_lo") = 0.0f,
           py::arg("window_hi") = 1.0f, py::arg("invert") = false)
      .def_readonly("height", &frame::height)
      .def_readonly("width", &frame::width)
      .def_readonly("size", &frame::size)
      .def_readonly("pad_top", &frame::pad_top)
      .def_readonly("pad_bottom", &frame::pad_bottom)
      .def_readonly("pad_left", &frame::pad_left)
      .def_readonly("pad_right", &frame::pad_right)
      .def_readonly("window_lo", &frame::window_lo)
      .def_readonly("window_hi", &frame::window_hi)
      .def_readonly("invert", &frame::invert)
      .def_property_readonly("side", &frame::side)
      .def("__repr__", &frame_repr);

  m.def("build_info", [] { return py::module_::import("json").attr("loads")(build_info_json()); },
        "Compiler, CUDA build and architectures, and whether a CUDA device is usable now.");
  m.def("cuda_available", &cuda::available, "True when built with CUDA and a driver and device are present.");

  m.def("resolve_window",
        [](const py::array& image, int bits_stored, bool invert, std::optional<std::pair<double, double>> window,
           std::optional<std::pair<double, double>> percentile, bool field, int size) {
          held_image im = image_arg(image, "image");
          if (size < 0) bad("size: must be >= 0, got " + std::to_string(size));
          window_options w = window_args(bits_stored, invert, window, percentile, field);
          w.field_size = size;
          float lo = 0, hi = 0;
          resolve_window(im.view, w, &lo, &hi);
          return py::make_tuple(lo, hi);
        },
        py::arg("image"), py::arg("bits_stored") = 0, py::arg("invert") = false, py::arg("window") = py::none(),
        py::arg("percentile") = py::none(), py::arg("field") = false, py::arg("size") = 0,
        "The intensity window preprocess would use, as (lo, hi). field=True takes the percentiles over the "
        "radiograph's field: 5% margins cut away, the field's lowest and highest values ignored; with size S "
        "(what preprocess to S uses) on the image area-reduced to the S x S grid.");

  m.def("preprocess", &preprocess_py, py::arg("image"), py::arg("size") = 512, py::kw_only(),
        py::arg("bits_stored") = 0, py::arg("invert") = false, py::arg("window") = py::none(),
        py::arg("percentile") = py::none(), py::arg("field") = false, py::arg("layout") = "nhwc",
        py::arg("pad_value") = -1.0,
        py::arg("out") = py::none(), py::arg("device") = "cpu", py::arg("multiple_of") = 1,
        "Grey image (uint8/uint16/float32, any size) -> (model input 1xSxSx3 or 1x3xSxS in [-1, 1], Frame).");

  m.def("decode", &decode_py, py::arg("output"), py::arg("frame"), py::kw_only(), py::arg("task") = "auto",
        py::arg("layout") = "nhwc", py::arg("image") = py::none(), py::arg("model_input") = py::none(),
        py::arg("input_layout") = "nhwc", py::arg("bone_mode") = "residual", py::arg("resample") = "bilinear",
        py::arg("bone_dtype") = "uint8", py::arg("bone_window") = py::none(), py::arg("masks") = true,
        py::arg("labels") = true, py::arg("bone_suppressed") = true, py::arg("device") = "cpu",
        "Model output -> {'masks': (3,H,W) 0/1, 'labels': (H,W), 'bone_suppressed': (H,W)} at the original size.");

  m.def("colourise", &colourise_py, py::arg("seg"), py::arg("palette") = py::none(), py::kw_only(),
        py::arg("device") = "cpu", "Labels (H,W) or masks (3,H,W) -> RGB (H,W,3) uint8.");

  m.def("overlay", &overlay_py, py::arg("image"), py::arg("frame"), py::arg("seg"), py::kw_only(),
        py::arg("alpha") = 128, py::arg("filter") = "point", py::arg("mode") = "fill", py::arg("thickness") = 1,
        py::arg("palette") = py::none(), py::arg("device") = "cpu",
        "Segmentation (model or original size) alpha-blended over the original radiograph -> RGB (H,W,3).");

  m.def("cleanup", &cleanup_py, py::arg("masks"), py::kw_only(), py::arg("keep_largest") = true,
        py::arg("fill_holes") = true, "Per organ: largest 8-connected component, holes filled. Returns a copy.");

  m.def("relabel", &relabel_py, py::arg("labels"), py::arg("masks"),
        "Labels (H,W) made consistent with cleaned masks (3,H,W): a removed organ's pixels turn background, "
        "background inside a mask takes its label (right lung, then left lung, then heart). Returns a copy.");

  m.def("png_unfilter", &png_unfilter_py, py::arg("filtered"), py::arg("height"), py::arg("width"),
        py::arg("channels"), py::arg("depth"),
        "A PNG image's inflated IDAT rows (filter byte + filtered bytes each) -> (H, W) or (H, W, C) uint8, or "
        "uint16 in host order for depth 16 (non-interlaced, 8/16-bit samples). ValueError names the row of an "
        "unknown filter type.");

  m.def("bone_to_input_depth", &bone_to_input_depth_py, py::arg("bone16"), py::arg("input_dtype"), py::arg("white"),
        "Full-range uint16 bone image -> the input's depth: uint8 (round(v/257)) for uint8 inputs, uint16 on the "
        "input's scale (round(v*white/65535)) when white < 65535, else bone16 itself. Rounds half to even.");

  m.def("measure", &measure_py, py::arg("masks"), py::arg("spacing") = py::none(),
        "Masks (3,H,W) -> {'organs': (heart, left lung, right lung) dicts of area_px, height_px, width_px "
        "(+ area_mm2, height_mm, width_mm with a (row, col) mm spacing), 'cardiothoracic_ratio': float or None}. "
        "Unrounded.");

  m.def("preprocess_device", &preprocess_device_py, py::arg("image"), py::arg("image_dtype"), py::arg("height"),
        py::arg("width"), py::arg("size"), py::arg("out"), py::kw_only(), py::arg("bits_stored") = 0,
        py::arg("invert") = false, py::arg("window") = py::none(), py::arg("percentile") = py::none(),
        py::arg("field") = false, py::arg("layout") = "nhwc", py::arg("pad_value") = -1.0, py::arg("stream") = 0,
        py::arg("host") = false,
        "preprocess on raw device pointers (ints): the packed (height, width) image at `image` -> the model input "
        "at `out`, queued on `stream` (a cudaStream_t; complete after it synchronises). Returns the Frame. "
        "host=True: host pointers, CPU kernels.");

  m.def("decode_device", &decode_device_py, py::arg("output"), py::arg("output_dtype"), py::arg("frame"),
        py::kw_only(), py::arg("task"), py::arg("layout") = "nhwc", py::arg("image") = 0,
        py::arg("image_dtype") = py::none(), py::arg("model_input") = 0, py::arg("input_layout") = py::none(),
        py::arg("bone_mode") = "residual", py::arg("resample") = "bilinear", py::arg("bone_dtype") = "uint8",
        py::arg("bone_window") = py::none(), py::arg("masks") = 0, py::arg("labels") = 0,
        py::arg("bone_suppressed") = 0, py::arg("stream") = 0, py::arg("host") = false,
        "decode on raw device pointers: the model output at `output` -> masks (3,H,W), labels (H,W) and bone (H,W) "
        "at the given pointers (0: not wanted); residual bone needs `image` (the original, frame's H x W) and "
        "`model_input`. Queued on `stream`. host=True: host pointers, CPU kernels.");

  m.def("overlay_device", &overlay_device_py, py::arg("image"), py::arg("image_dtype"), py::arg("frame"),
        py::arg("seg"), py::arg("out"), py::kw_only(), py::arg("masks") = false, py::arg("seg_shape") = py::none(),
        py::arg("alpha") = 128, py::arg("filter") = "point", py::arg("mode") = "fill", py::arg("thickness") = 1,
        py::arg("palette") = py::none(), py::arg("stream") = 0, py::arg("host") = false,
        "overlay on raw device pointers: labels (or masks=True: 3 planes) of seg_shape (default the frame's H x W) "
        "over the original image -> RGB (H,W,3) at `out`. Queued on `stream`. host=True: host pointers, CPU kernels.");
}
