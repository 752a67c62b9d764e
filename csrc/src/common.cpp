#include "internal.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

namespace cxrmt {
namespace detail {

std::size_t dtype_size(dtype t) {
  switch (t) {
    case dtype::u8: return 1;
    case dtype::u16: case dtype::f16: return 2;
    case dtype::f32: return 4;
  }
  return 0;
}

const char* dtype_name(dtype t) {
  switch (t) {
    case dtype::u8: return "uint8";
    case dtype::u16: return "uint16";
    case dtype::f32: return "float32";
    case dtype::f16: return "float16";
  }
  return "?";
}

void check_image(const image_view& image, const char* name) {
  if (!image.data) bad_arg(std::string(name) + ": no pixel data");
  if (image.height <= 0 || image.width <= 0)
    bad_arg(std::string(name) + ": empty image (" + std::to_string(image.height) + "x" +
            std::to_string(image.width) + ")");
  if (image.type == dtype::f16)
    bad_arg(std::string(name) + ": dtype float16 is not supported; use uint8, uint16 or float32");
  if (image.row_stride < image.width) bad_arg(std::string(name) + ": row stride smaller than width");
}

void check_size(int size) {
  if (size <= 0) bad_arg("size: must be positive, got " + std::to_string(size));
}

void check_window_options(const image_view& image, const window_options& opts) {
  if (opts.bits_stored != 0) {
    int max_bits = image.type == dtype::u8 ? 8 : image.type == dtype::u16 ? 16 : 0;
    if (max_bits == 0) bad_arg("bits_stored: only meaningful for uint8/uint16 images");
    if (opts.bits_stored < 1 || opts.bits_stored > max_bits)
      bad_arg("bits_stored: must be in 1.." + std::to_string(max_bits) + " for " +
              dtype_name(image.type) + ", got " + std::to_string(opts.bits_stored));
  }
  if (opts.has_window && opts.use_percentile)
    bad_arg("window: give an explicit window or a percentile window, not both");
  if (opts.has_window) {
    if (!std::isfinite(opts.lo) || !std::isfinite(opts.hi)) bad_arg("window: bounds must be finite");
    if (!(opts.lo < opts.hi))
      bad_arg("window: lo must be < hi, got [" + std::to_string(opts.lo) + ", " + std::to_string(opts.hi) + "]");
  }
  if (opts.use_percentile &&
      !(opts.p_lo >= 0.0f && opts.p_lo < opts.p_hi && opts.p_hi <= 100.0f))
    bad_arg("percentile: need 0 <= lo < hi <= 100, got [" + std::to_string(opts.p_lo) + ", " +
            std::to_string(opts.p_hi) + "]");
}

void static_window(const image_view& image, const window_options& opts, float* lo, float* hi) {
  if (opts.has_window) { *lo = opts.lo; *hi = opts.hi; return; }
  *lo = 0.0f;
  if (image.type == dtype::f32) { *hi = 1.0f; return; }
  int bits = opts.bits_stored ? opts.bits_stored : (image.type == dtype::u8 ? 8 : 16);
  *hi = static_cast<float>((1u << bits) - 1u);
}

namespace {
template <typename T>
T row_max(const T* row, int n) {
  T m = 0;
  for (int x = 0; x < n; ++x) m = row[x] > m ? row[x] : m;
  return m;
}
}  // namespace

void check_values(const image_view& image, const window_options& opts) {
  if (image.type == dtype::f32) {
    for (int y = 0; y < image.height; ++y) {
      const float* row = static_cast<const float*>(image.data) + y * image.row_stride;
      float acc = 0.0f;  // x - x is NaN exactly for NaN and inf
      for (int x = 0; x < image.width; ++x) acc += row[x] - row[x];
      if (acc != 0.0f) bad_arg("image: contains NaN or infinite values (row " + std::to_string(y) + ")");
    }
    return;
  }
  if (!opts.bits_stored) return;
  unsigned limit = (1u << opts.bits_stored) - 1u, m = 0;
  for (int y = 0; y < image.height; ++y) {
    if (image.type == dtype::u8)
      m = std::max<unsigned>(m, row_max(static_cast<const uint8_t*>(image.data) + y * image.row_stride, image.width));
    else
      m = std::max<unsigned>(m, row_max(static_cast<const uint16_t*>(image.data) + y * image.row_stride, image.width));
  }
  if (m > limit)
    bad_arg("image: value " + std::to_string(m) + " exceeds bits_stored=" + std::to_string(opts.bits_stored) +
            " (max " + std::to_string(limit) + ")");
}

void check_output(const output_view& output, const decode_options& opts) {
  if (!output.data) bad_arg("output: no data");
  if (output.type != dtype::f32 && output.type != dtype::f16)
    bad_arg(std::string("output: dtype must be float32 or float16, got ") + dtype_name(output.type));
  if (output.size <= 0) bad_arg("output: empty");
  int need = opts.kind == task::mt ? 6 : 3;
  if (output.channels != need)
    bad_arg("output: task " + std::string(opts.kind == task::mt ? "mt" : opts.kind == task::seg ? "seg" : "bse") +
            " needs " + std::to_string(need) + " channels, got " + std::to_string(output.channels));
  if (opts.bone_type != dtype::u8 && opts.bone_type != dtype::u16)
    bad_arg("bone_dtype: must be uint8 or uint16");
  if (opts.bone_lo != opts.bone_hi) {
    if (!std::isfinite(opts.bone_lo) || !std::isfinite(opts.bone_hi) || !(opts.bone_lo < opts.bone_hi))
      bad_arg("bone_window: need finite lo < hi, got [" + std::to_string(opts.bone_lo) + ", " +
              std::to_string(opts.bone_hi) + "]");
    if (opts.mode != bone_mode::residual) bad_arg("bone_window: only with bone_mode residual");
  }
}

frame bone_frame(const frame& f, const decode_options& opts, float* scale) {
  frame b = f;
  *scale = 1.0f;
  if (opts.bone_lo == opts.bone_hi) return b;
  b.window_lo = opts.bone_lo;
  b.window_hi = opts.bone_hi;
  *scale = (f.window_hi - f.window_lo) / (opts.bone_hi - opts.bone_lo);
  return b;
}

void check_frame(const frame& f) {
  if (f.height <= 0 || f.width <= 0 || f.size <= 0) bad_arg("frame: empty geometry");
  int d = f.side();
  if (f.pad_top < 0 || f.pad_left < 0 || f.pad_bottom < 0 || f.pad_right < 0 ||
      f.pad_top + f.height + f.pad_bottom != d || f.pad_left + f.width + f.pad_right != d)
    bad_arg("frame: padding does not make the image square");
  if (!(f.window_lo < f.window_hi)) bad_arg("frame: window lo must be < hi");
}

void check_seg(const seg_view& seg, const frame& f, const char* name) {
  if (!seg.data) bad_arg(std::string(name) + ": no data");
  bool model = seg.height == f.size && seg.width == f.size;
  bool original = seg.height == f.height && seg.width == f.width;
  if (!model && !original)
    bad_arg(std::string(name) + ": shape " + std::to_string(seg.height) + "x" + std::to_string(seg.width) +
            " is neither the model size " + std::to_string(f.size) + "x" + std::to_string(f.size) +
            " nor the original size " + std::to_string(f.height) + "x" + std::to_string(f.width));
}

void check_overlay_options(const overlay_options& opts) {
  if (opts.alpha < 0 || opts.alpha > 255) bad_arg("alpha: must be in 0..255, got " + std::to_string(opts.alpha));
  if (opts.thickness < 1 || opts.thickness > 64)
    bad_arg("thickness: must be in 1..64, got " + std::to_string(opts.thickness));
}

int taps::max_taps() const {
  int m = 0;
  for (std::size_t i = 0; i + 1 < start.size(); ++i) m = std::max(m, start[i + 1] - start[i]);
  return m;
}

taps area_taps(int n_src, int pad_before, int n_pad, int n_dst) {
  taps t;
  t.start.reserve(n_dst + 1);
  const double scale = static_cast<double>(n_pad) / n_dst;
  for (int i = 0; i < n_dst; ++i) {
    t.start.push_back(static_cast<int>(t.idx.size()));
    double a = i * scale, b = (i + 1) * scale;
    int p0 = static_cast<int>(std::floor(a)), p1 = std::min(n_pad, static_cast<int>(std::ceil(b)));
    for (int p = p0; p < p1; ++p) {
      double w = (std::min(b, p + 1.0) - std::max(a, static_cast<double>(p))) / scale;
      if (w <= 1e-12) continue;
      int s = p - pad_before;
      t.idx.push_back(s >= 0 && s < n_src ? s : -1);
      t.w.push_back(static_cast<float>(w));
    }
  }
  t.start.push_back(static_cast<int>(t.idx.size()));
  return t;
}

taps bilinear_taps(int n_src, int n_pad, int pad_before, int n_dst) {
  taps t;
  for (int i = 0; i < n_dst; ++i) {
    t.start.push_back(static_cast<int>(t.idx.size()));
    int s0;
    float f;
    px::bilinear_source(i + pad_before, n_src, n_pad, &s0, &f);
    t.idx.push_back(s0);
    t.w.push_back(1.0f - f);
    if (f > 0.0f) { t.idx.push_back(s0 + 1); t.w.push_back(f); }
  }
  t.start.push_back(static_cast<int>(t.idx.size()));
  return t;
}

taps area_taps_to_original(int n_src, int n_pad, int pad_before, int n_dst) {
  taps t;
  const double scale = static_cast<double>(n_src) / n_pad;  // source pixels per destination pixel
  for (int i = 0; i < n_dst; ++i) {
    t.start.push_back(static_cast<int>(t.idx.size()));
    double a = (i + pad_before) * scale, b = (i + pad_before + 1) * scale;
    int s0 = static_cast<int>(std::floor(a)), s1 = std::min(n_src, static_cast<int>(std::ceil(b)));
    for (int s = s0; s < s1; ++s) {
      double w = (std::min(b, s + 1.0) - std::max(a, static_cast<double>(s))) / scale;
      if (w <= 1e-12) continue;
      t.idx.push_back(s);
      t.w.push_back(static_cast<float>(w));
    }
  }
  t.start.push_back(static_cast<int>(t.idx.size()));
  return t;
}

std::vector<int> nearest_map(int n_src, int n_pad, int pad_before, int n_dst) {
  std::vector<int> m(n_dst);
  for (int i = 0; i < n_dst; ++i) m[i] = px::nearest_source(i + pad_before, n_src, n_pad);
  return m;
}

grid_map seg_grid(const seg_view& seg, const frame& f) {
  if (seg.height == f.size && seg.width == f.size) return {f.side(), f.pad_top, f.side(), f.pad_left};
  return {f.height, 0, f.width, 0};
}

void parallel_for(int n, long long work_per_item, const std::function<void(int, int)>& fn) {
  const long long grain = 1 << 17;  // below this much work a thread costs more than it saves
  int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  long long by_work = std::max(1LL, (work_per_item * n) / grain);
  int threads = static_cast<int>(std::min<long long>({static_cast<long long>(hw), by_work, static_cast<long long>(n)}));
  if (threads <= 1) { fn(0, n); return; }
  // A few chunks per thread, taken in turn: on a shared machine a thread that lost its core
  // leaves its remaining chunks to the others instead of holding everyone up. The calling
  // thread works too.
  const int chunks = std::min(n, 4 * threads), chunk = (n + chunks - 1) / chunks;
  std::atomic<int> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int c = next++; c * chunk < n; c = next++) {
      try { fn(c * chunk, std::min(n, (c + 1) * chunk)); } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

namespace {
template <typename T>
void signed_values(const T* row, int n, float lo, float inv, bool invert, float* dst) {
  for (int x = 0; x < n; ++x) dst[x] = px::to_signed(px::unit(static_cast<float>(row[x]), lo, inv, invert));
}
}  // namespace

void signed_row(const image_view& im, const frame& f, int y, float* dst) {
  const char* row = static_cast<const char*>(im.data) + static_cast<std::size_t>(y) * im.row_stride * dtype_size(im.type);
  const float lo = f.window_lo, inv = 1.0f / (f.window_hi - f.window_lo);
  if (im.type == dtype::u8) signed_values(reinterpret_cast<const uint8_t*>(row), im.width, lo, inv, f.invert, dst);
  else if (im.type == dtype::u16) signed_values(reinterpret_cast<const uint16_t*>(row), im.width, lo, inv, f.invert, dst);
  else signed_values(reinterpret_cast<const float*>(row), im.width, lo, inv, f.invert, dst);
}

std::vector<float> planes(const output_view& output, int c0, int n) {
  const int s = output.size, c = output.channels;
  const std::size_t area = static_cast<std::size_t>(s) * s;
  std::vector<float> p(area * n);
  auto at = [&](int ch, std::size_t i) -> std::size_t {
    return output.order == layout::nhwc ? i * c + ch : ch * area + i;
  };
  float acc = 0.0f;  // x - x is NaN exactly for NaN and inf
  for (int k = 0; k < n; ++k)
    for (std::size_t i = 0; i < area; ++i) {
      std::size_t j = at(c0 + k, i);
      float v = output.type == dtype::f32 ? static_cast<const float*>(output.data)[j]
                                          : px::half_to_float(static_cast<const uint16_t*>(output.data)[j]);
      p[k * area + i] = v;
      acc += v - v;
    }
  if (acc != 0.0f) bad_arg("output: contains NaN or infinite values (an FP16 overflow in the model?)");
  return p;
}

}  // namespace detail
}  // namespace cxrmt
