// Grey image -> padded square -> area-averaged S x S -> [-1, 1] x 3 channels.
#include "internal.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

namespace cxrmt {
namespace detail {
namespace {

// k-th smallest value (0-based) from a histogram.
int hist_kth(const std::vector<long long>& hist, long long k) {
  long long seen = 0;
  for (std::size_t v = 0; v < hist.size(); ++v) {
    seen += hist[v];
    if (seen > k) return static_cast<int>(v);
  }
  return static_cast<int>(hist.size()) - 1;
}

// The pixels a window is measured on: the whole image, or its field (margins cut away).
struct region {
  int y0, y1, x0, x1;
};

region region_of(const image_view& im, bool field) {
  if (!field) return {0, im.height, 0, im.width};
  const int my = static_cast<int>(im.height * kFieldMargin), mx = static_cast<int>(im.width * kFieldMargin);
  return {my, im.height - my, mx, im.width - mx};  // the margin is < half a side: never empty
}

template <typename T>
std::vector<long long> histogram(const image_view& im, const region& r) {
  std::vector<long long> h(std::size_t(1) << (8 * sizeof(T)), 0);
  for (int y = r.y0; y < r.y1; ++y) {
    const T* row = static_cast<const T*>(im.data) + y * im.row_stride;
    for (int x = r.x0; x < r.x1; ++x) ++h[row[x]];
  }
  return h;
}

// Field mode: forget the lowest and highest value (padding, saturation, burnt-in text) unless
// nothing else is left. Returns the number of values that remain.
long long drop_extremes(std::vector<long long>& h) {
  long long n = 0;
  std::size_t a = h.size(), b = 0;
  for (std::size_t v = 0; v < h.size(); ++v)
    if (h[v]) { n += h[v]; a = std::min(a, v); b = v; }
  const long long rest = a < b ? n - h[a] - h[b] : 0;
  if (rest == 0) return n;
  h[a] = h[b] = 0;
  return rest;
}

void drop_extremes(std::vector<float>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const float a = *lo, b = *hi;
  std::vector<float> kept;
  kept.reserve(v.size());
  for (float x : v)
    if (x != a && x != b) kept.push_back(x);
  if (!kept.empty()) v.swap(kept);
}

// numpy.percentile's default ('linear') definition over n values, exact for integer data.
float percentile(long long n, float p, const std::vector<long long>* hist, std::vector<float>* sorted) {
  double pos = static_cast<double>(p) / 100.0 * (n - 1);
  long long i0 = static_cast<long long>(std::floor(pos));
  long long i1 = std::min(i0 + 1, n - 1);
  double frac = pos - i0, a, b;
  if (hist) {
    a = hist_kth(*hist, i0);
    b = hist_kth(*hist, i1);
  } else {
    std::nth_element(sorted->begin(), sorted->begin() + i0, sorted->end());
    a = (*sorted)[i0];
    b = i1 > i0 ? *std::min_element(sorted->begin() + i0 + 1, sorted->end()) : a;
  }
  return static_cast<float>(a + frac * (b - a));
}

// The value range of an image, for a linear, unclipped reduction of it.
void value_range(const image_view& im, float* lo, float* hi) {
  *lo = 0.0f;
  *hi = im.type == dtype::u8 ? 255.0f : 65535.0f;
  if (im.type != dtype::f32) return;
  *lo = *hi = static_cast<const float*>(im.data)[0];
  for (int y = 0; y < im.height; ++y) {
    const float* row = static_cast<const float*>(im.data) + y * im.row_stride;
    for (int x = 0; x < im.width; ++x) { *lo = std::min(*lo, row[x]); *hi = std::max(*hi, row[x]); }
  }
  if (!(*lo < *hi)) *hi = *lo + 1.0f;  // a constant image: the percentile check reports it
}

// The field window on the image area-reduced to the S x S grid: the grid cells that lie fully
// inside the image, in the image's own values, then the ordinary field window of those.
void field_window_at(const image_view& image, const window_options& opts, float* lo, float* hi) {
  const int s = opts.field_size;
  window_options linear;
  linear.has_window = true;
  value_range(image, &linear.lo, &linear.hi);
  std::vector<float> grid(static_cast<std::size_t>(s) * s * 3);
  const frame f = preprocess(image, s, linear, layout::nchw, -1.0f, grid.data());
  const double cell = static_cast<double>(f.side()) / s;
  int r0 = static_cast<int>(std::ceil(f.pad_top / cell - 1e-9));
  int r1 = static_cast<int>(std::floor((f.pad_top + f.height) / cell + 1e-9));
  int c0 = static_cast<int>(std::ceil(f.pad_left / cell - 1e-9));
  int c1 = static_cast<int>(std::floor((f.pad_left + f.width) / cell + 1e-9));
  if (r1 <= r0 || c1 <= c0) { r0 = c0 = 0; r1 = c1 = s; }  // thinner than a cell: every cell
  const float scale = 0.5f * (linear.hi - linear.lo);
  std::vector<float> values;
  values.reserve(static_cast<std::size_t>(r1 - r0) * (c1 - c0));
  for (int i = r0; i < r1; ++i)
    for (int j = c0; j < c1; ++j) values.push_back(linear.lo + (grid[static_cast<std::size_t>(i) * s + j] + 1.0f) * scale);
  const image_view reduced{values.data(), dtype::f32, r1 - r0, c1 - c0, c1 - c0};
  window_options w = opts;
  w.field_size = 0;
  w.bits_stored = 0;  // the reduced values are floats; the original's values were checked
  resolve_window(reduced, w, lo, hi);
}

}  // namespace
}  // namespace detail

void resolve_window(const image_view& image, const window_options& opts, float* lo, float* hi) {
  detail::check_image(image, "image");
  detail::check_window_options(image, opts);
  if (!opts.use_percentile) { detail::static_window(image, opts, lo, hi); return; }
  detail::check_values(image, opts);
  if (opts.field && opts.field_size > 0) { detail::field_window_at(image, opts, lo, hi); return; }
  const detail::region r = detail::region_of(image, opts.field);
  std::vector<long long> hist;
  std::vector<float> values;
  long long n = static_cast<long long>(r.y1 - r.y0) * (r.x1 - r.x0);
  if (image.type == dtype::u8) hist = detail::histogram<uint8_t>(image, r);
  else if (image.type == dtype::u16) hist = detail::histogram<uint16_t>(image, r);
  else {
    values.reserve(static_cast<std::size_t>(n));
    for (int y = r.y0; y < r.y1; ++y) {
      const float* row = static_cast<const float*>(image.data) + y * image.row_stride;
      values.insert(values.end(), row + r.x0, row + r.x1);
    }
  }
  if (opts.field) {
    if (hist.empty()) { detail::drop_extremes(values); n = static_cast<long long>(values.size()); }
    else n = detail::drop_extremes(hist);
  }
  const auto* h = hist.empty() ? nullptr : &hist;
  *lo = detail::percentile(n, opts.p_lo, h, &values);
  *hi = detail::percentile(n, opts.p_hi, h, &values);
  if (!(*lo < *hi))
    detail::bad_arg("window: the percentile window [" + std::to_string(*lo) + ", " + std::to_string(*hi) +
                    "] is empty (is the image constant?); pass an explicit window");
}

namespace detail {

frame make_frame(const image_view& image, int size, const window_options& opts) {
  frame f;
  f.height = image.height;
  f.width = image.width;
  f.size = size;
  int d = f.side();
  f.pad_top = (d - image.height) / 2;
  f.pad_bottom = d - image.height - f.pad_top;
  f.pad_left = (d - image.width) / 2;
  f.pad_right = d - image.width - f.pad_left;
  window_options o = opts;
  if (o.field && !o.field_size) o.field_size = size;  // the field window at the model's size
  resolve_window(image, o, &f.window_lo, &f.window_hi);
  f.invert = opts.invert;
  return f;
}

}  // namespace detail

namespace detail {
namespace {

// Problems found while reading pixels (per thread, merged at the end).
struct value_scan {
  unsigned max_int = 0;
  float nan_probe = 0.0f;  // x - x summed: NaN exactly when some x is NaN or inf
};

// acc[x] += w * signed(normalise(row[x])) for one image row; vectorisable (no branches).
template <typename T>
void accumulate_row(const T* row, int n, float w, const frame& f, float* acc, value_scan& scan) {
  const float lo = f.window_lo, inv = 1.0f / (f.window_hi - f.window_lo);
  const float wa = w * (f.invert ? -2.0f : 2.0f), wb = w * (f.invert ? 1.0f : -1.0f);
  T top = 0;
  for (int x = 0; x < n; ++x) {
    float t = (static_cast<float>(row[x]) - lo) * inv;
    t = t < 0.0f ? 0.0f : t;
    t = t > 1.0f ? 1.0f : t;
    acc[x] += wa * t + wb;
    top = row[x] > top ? row[x] : top;
  }
  scan.max_int = std::max(scan.max_int, static_cast<unsigned>(top));
}

template <>
void accumulate_row<float>(const float* row, int n, float w, const frame& f, float* acc, value_scan& scan) {
  const float lo = f.window_lo, inv = 1.0f / (f.window_hi - f.window_lo);
  const float wa = w * (f.invert ? -2.0f : 2.0f), wb = w * (f.invert ? 1.0f : -1.0f);
  float probe = 0.0f;
  for (int x = 0; x < n; ++x) {
    float t = (row[x] - lo) * inv;
    probe += row[x] - row[x];
    t = t < 0.0f ? 0.0f : t;
    t = t > 1.0f ? 1.0f : t;
    acc[x] += wa * t + wb;
  }
  scan.nan_probe += probe;
}

void accumulate(const image_view& im, int y, float w, const frame& f, float* acc, value_scan& scan) {
  const char* row = static_cast<const char*>(im.data) + static_cast<std::size_t>(y) * im.row_stride * dtype_size(im.type);
  if (im.type == dtype::u8) accumulate_row(reinterpret_cast<const uint8_t*>(row), im.width, w, f, acc, scan);
  else if (im.type == dtype::u16) accumulate_row(reinterpret_cast<const uint16_t*>(row), im.width, w, f, acc, scan);
  else accumulate_row(reinterpret_cast<const float*>(row), im.width, w, f, acc, scan);
}

// One padded-width row of vertical averages -> S horizontal averages.
void horizontal(const float* acc, const taps& tx, int factor, int s, float* dst) {
  if (factor) {  // integer ratio: plain block means
    const float inv = 1.0f / factor;
    for (int j = 0; j < s; ++j) {
      float sum = 0.0f;
      for (int q = 0; q < factor; ++q) sum += acc[j * factor + q];
      dst[j] = sum * inv;
    }
    return;
  }
  for (int j = 0; j < s; ++j) {
    float sum = 0.0f;
    for (int k = tx.start[j]; k < tx.start[j + 1]; ++k) sum += tx.w[k] * acc[tx.idx[k]];
    dst[j] = sum;
  }
}

CXRMT_CLONES void write_channels(const float* v, int i, int s, layout order, float* out) {
  if (order == layout::nhwc) {
    float* o = out + static_cast<std::size_t>(i) * s * 3;
    for (int j = 0; j < s; ++j) o[3 * j] = o[3 * j + 1] = o[3 * j + 2] = v[j];
  } else {
    const std::size_t plane = static_cast<std::size_t>(s) * s;
    for (int c = 0; c < 3; ++c) std::copy(v, v + s, out + c * plane + static_cast<std::size_t>(i) * s);
  }
}

void raise_on_bad_values(const image_view& im, const window_options& opts, const value_scan& scan) {
  if (im.type == dtype::f32 && scan.nan_probe != 0.0f) bad_arg("image: contains NaN or infinite values");
  if (opts.bits_stored && scan.max_int > (1u << opts.bits_stored) - 1u)
    bad_arg("image: value " + std::to_string(scan.max_int) + " exceeds bits_stored=" + std::to_string(opts.bits_stored) +
            " (max " + std::to_string((1u << opts.bits_stored) - 1u) + ")");
}

// Integer images whose window spans every storable value need no clamping, so the mean of raw
// values normalises like the values themselves: sum integers (exact, fast), normalise once per
// output pixel. Used for integer downscale ratios (2048 -> 512 and the like).
bool integer_blocks_apply(const image_view& im, const window_options& opts, const frame& f, int factor) {
  if (!factor || factor > 256 || im.type == dtype::f32) return false;  // 32-bit block sums
  const int bits = opts.bits_stored ? opts.bits_stored : (im.type == dtype::u8 ? 8 : 16);
  return f.window_lo <= 0.0f && f.window_hi >= static_cast<float>((1u << bits) - 1u);
}

// Vertical block sums with the running maximum (for the bits_stored check).
template <typename T>
inline __attribute__((always_inline)) void sum_rows_impl(const image_view& im, int y0, int y1, uint32_t* acc,
                                                         value_scan& scan) {
  const int n = im.width;  // a local, so the loop bound cannot alias acc
  auto row_at = [&](int y) { return static_cast<const T*>(im.data) + static_cast<std::size_t>(y) * im.row_stride; };
  T top = 0;
  int y = y0;
  if ((y1 - y0) % 2) {  // an odd row first, then pairs: half the passes over acc
    const T* r = row_at(y++);
    for (int x = 0; x < n; ++x) {
      acc[x] = r[x];
      top = r[x] > top ? r[x] : top;
    }
  } else {
    std::fill(acc, acc + n, 0u);
  }
  for (; y + 1 < y1; y += 2) {
    const T *r0 = row_at(y), *r1 = row_at(y + 1);
    for (int x = 0; x < n; ++x) {
      acc[x] += static_cast<uint32_t>(r0[x]) + r1[x];
      const T m = r0[x] > r1[x] ? r0[x] : r1[x];
      top = m > top ? m : top;
    }
  }
  scan.max_int = std::max(scan.max_int, static_cast<unsigned>(top));
}

// The hottest loop of preprocessing.
CXRMT_CLONES void sum_rows(const image_view& im, int y0, int y1, uint32_t* acc, value_scan& scan) {
  if (im.type == dtype::u8) sum_rows_impl<uint8_t>(im, y0, y1, acc, scan);
  else sum_rows_impl<uint16_t>(im, y0, y1, acc, scan);
}

// sums[j] = F consecutive column sums from acc + x: the blocks that lie inside the image, where a
// fixed width lets the loop vectorise (integer sums: any order is exact).
template <int F>
void fixed_blocks(const uint32_t* acc, int n, uint32_t* sums) {
  for (int j = 0; j < n; ++j) {
    uint32_t sum = 0;
    for (int q = 0; q < F; ++q) sum += acc[F * j + q];
    sums[j] = sum;
  }
}

// Block sums of one row of column sums: the interior [ja, jb) by fixed_blocks where the factor
// is a common one, the rest (and other factors) column by column.
void block_sums(const uint32_t* acc, const std::vector<int>& x0, const std::vector<int>& cols, int factor, int ja,
                int jb, uint32_t* sums) {
  const int s = static_cast<int>(x0.size());
  const bool fixed = jb > ja && (factor == 2 || factor == 4 || factor == 8);
  for (int j = 0; j < s; ++j) {
    if (fixed && j == ja) {
      const uint32_t* p = acc + x0[ja];
      if (factor == 2) fixed_blocks<2>(p, jb - ja, sums + ja);
      else if (factor == 4) fixed_blocks<4>(p, jb - ja, sums + ja);
      else fixed_blocks<8>(p, jb - ja, sums + ja);
      j = jb - 1;
      continue;
    }
    const uint32_t* p = acc + x0[j];
    uint32_t sum = 0;
    for (int x = 0; x < cols[j]; ++x) sum += p[x];
    sums[j] = sum;
  }
}

// The signed block means of one output row from its block sums and pixel counts (a vectorised
// loop, the formula of integer_blocks).
CXRMT_CLONES void block_means(const uint32_t* sums, const int* counts, int s, int ff, float per_sum, float per_pixel,
                              float per_pad, float* row) {
  for (int j = 0; j < s; ++j)
    row[j] = static_cast<float>(sums[j]) * per_sum + static_cast<float>(counts[j]) * per_pixel +
             static_cast<float>(ff - counts[j]) * per_pad;
}

void integer_blocks(const image_view& im, const frame& f, int factor, float pad_value, layout order, float* out,
                    value_scan& scan, int i0, int i1) {
  const int s = f.size, ff = factor * factor;
  // mean of signed values = (sum of a * (v - lo) * inv + b over the n image pixels
  //                          + pad_value over the ff - n padding pixels) / ff, without divisions:
  const float inv = 1.0f / (f.window_hi - f.window_lo), a = f.invert ? -2.0f : 2.0f, b = f.invert ? 1.0f : -1.0f;
  const float per_sum = a * inv / ff, per_pixel = (b - a * inv * f.window_lo) / ff, per_pad = pad_value / ff;
  // Image columns of each output column (the same for every row), and the interior run [ja, jb)
  // of whole blocks in step with the image.
  std::vector<int> x0(s), cols(s);
  int ja = s, jb = s;
  for (int j = 0; j < s; ++j) {
    x0[j] = std::max(0, j * factor - f.pad_left);
    cols[j] = std::max(0, std::min(im.width, (j + 1) * factor - f.pad_left) - x0[j]);
    const bool whole = cols[j] == factor && x0[j] == j * factor - f.pad_left;
    if (whole && ja == s) ja = j;
    if (whole) jb = j + 1;
  }
  for (int j = ja; j < jb; ++j)
    if (cols[j] != factor) { ja = jb = s; break; }  // not one run: column by column
  std::vector<uint32_t> acc(im.width), sums(s);
  std::vector<int> counts(s);
  std::vector<float> row(s);
  for (int i = i0; i < i1; ++i) {
    const int y0 = std::max(0, i * factor - f.pad_top), y1 = std::min(im.height, (i + 1) * factor - f.pad_top);
    const int rows = std::max(0, y1 - y0);
    if (rows) {
      sum_rows(im, y0, y1, acc.data(), scan);
      block_sums(acc.data(), x0, cols, factor, ja, jb, sums.data());
    } else {
      std::fill(sums.begin(), sums.end(), 0u);
    }
    for (int j = 0; j < s; ++j) counts[j] = rows * cols[j];
    block_means(sums.data(), counts.data(), s, ff, per_sum, per_pixel, per_pad, row.data());
    write_channels(row.data(), i, s, order, out);
  }
}

}  // namespace
}  // namespace detail

// Vertical first (contiguous rows), then horizontal; the value checks ride along the same pass.
frame preprocess(const image_view& image, int size, const window_options& opts, layout order,
                 float pad_value, float* out) {
  detail::check_image(image, "image");
  detail::check_size(size);
  if (!out) detail::bad_arg("out: no destination buffer");
  frame f = detail::make_frame(image, size, opts);
  const int d = f.side(), s = size, factor = d % s == 0 ? d / s : 0;
  const detail::taps ty = detail::area_taps(image.height, f.pad_top, d, s);
  const detail::taps tx = detail::area_taps(d, 0, d, s);
  detail::value_scan all;  // merged from each chunk's scan
  std::mutex all_mutex;
  auto merge = [&](const detail::value_scan& sc) {
    std::lock_guard<std::mutex> lock(all_mutex);
    all.max_int = std::max(all.max_int, sc.max_int);
    all.nan_probe += sc.nan_probe;
  };
  const long long work = static_cast<long long>(d) * (ty.max_taps() + 1);
  if (detail::integer_blocks_apply(image, opts, f, factor)) {
    detail::parallel_for(s, work, [&](int b, int e) {
      detail::value_scan scan;
      detail::integer_blocks(image, f, factor, pad_value, order, out, scan, b, e);
      merge(scan);
    });
  } else detail::parallel_for(s, work, [&](int b, int e) {
    detail::value_scan scan;
    std::vector<float> acc(d), row(s);
    float* img_cols = acc.data() + f.pad_left;
    for (int i = b; i < e; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      float pad_weight = 0.0f;
      for (int k = ty.start[i]; k < ty.start[i + 1]; ++k) {
        if (ty.idx[k] < 0) pad_weight += ty.w[k];
        else detail::accumulate(image, ty.idx[k], ty.w[k], f, img_cols, scan);
      }
      // Padding rows add pad_value * their weight; padding columns are padding all the way down.
      if (pad_weight > 0.0f)
        for (int x = 0; x < image.width; ++x) img_cols[x] += pad_weight * pad_value;
      std::fill(acc.begin(), acc.begin() + f.pad_left, pad_value);
      std::fill(img_cols + image.width, acc.data() + d, pad_value);
      detail::horizontal(acc.data(), tx, factor, s, row.data());
      detail::write_channels(row.data(), i, s, order, out);
    }
    merge(scan);
  });
  detail::raise_on_bad_values(image, opts, all);
  return f;
}

}  // namespace cxrmt
