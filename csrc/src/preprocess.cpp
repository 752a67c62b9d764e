// Grey image -> padded square -> area-averaged S x S -> [-1, 1] x 3 channels.
#include "internal.hpp"

#include <algorithm>
#include <cmath>

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

template <typename T>
std::vector<long long> histogram(const image_view& im) {
  std::vector<long long> h(std::size_t(1) << (8 * sizeof(T)), 0);
  for (int y = 0; y < im.height; ++y) {
    const T* row = static_cast<const T*>(im.data) + y * im.row_stride;
    for (int x = 0; x < im.width; ++x) ++h[row[x]];
  }
  return h;
}

// numpy.percentile's default ('linear') definition, exact for integer data.
float percentile(const image_view& im, float p, const std::vector<long long>* hist, std::vector<float>* sorted) {
  const long long n = static_cast<long long>(im.height) * im.width;
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

}  // namespace
}  // namespace detail

void resolve_window(const image_view& image, const window_options& opts, float* lo, float* hi) {
  detail::check_image(image, "image");
  detail::check_window_options(image, opts);
  if (!opts.use_percentile) { detail::static_window(image, opts, lo, hi); return; }
  detail::check_values(image, opts);
  std::vector<long long> hist;
  std::vector<float> values;
  if (image.type == dtype::u8) hist = detail::histogram<uint8_t>(image);
  else if (image.type == dtype::u16) hist = detail::histogram<uint16_t>(image);
  else {
    values.reserve(static_cast<std::size_t>(image.height) * image.width);
    for (int y = 0; y < image.height; ++y) {
      const float* row = static_cast<const float*>(image.data) + y * image.row_stride;
      values.insert(values.end(), row, row + image.width);
    }
  }
  const auto* h = hist.empty() ? nullptr : &hist;
  *lo = detail::percentile(image, opts.p_lo, h, &values);
  *hi = detail::percentile(image, opts.p_hi, h, &values);
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
  resolve_window(image, opts, &f.window_lo, &f.window_hi);
  f.invert = opts.invert;
  return f;
}

}  // namespace detail

frame preprocess(const image_view& image, int size, const window_options& opts, layout order,
                 float pad_value, float* out) {
  detail::check_image(image, "image");
  detail::check_size(size);
  if (!out) detail::bad_arg("out: no destination buffer");
  detail::check_values(image, opts);
  frame f = detail::make_frame(image, size, opts);
  const int d = f.side(), s = size;
  const detail::taps tx = detail::area_taps(d, 0, d, s);  // padded row -> S columns
  const detail::taps ty = detail::area_taps(image.height, f.pad_top, d, s);
  detail::row_normaliser norm(image, f, pad_value);

  // Horizontal pass over the image rows: H x S.
  std::vector<float> mid(static_cast<std::size_t>(image.height) * s);
  detail::parallel_for(image.height, d, [&](int b, int e) {
    std::vector<float> row(d);
    for (int y = b; y < e; ++y) {
      norm(y, row.data(), f.pad_left, d);
      float* m = mid.data() + static_cast<std::size_t>(y) * s;
      for (int j = 0; j < s; ++j) {
        float acc = 0.0f;
        for (int k = tx.start[j]; k < tx.start[j + 1]; ++k) acc += tx.w[k] * row[tx.idx[k]];
        m[j] = acc;
      }
    }
  });

  // Vertical pass into the 3 replicated channels.
  const std::size_t plane = static_cast<std::size_t>(s) * s;
  detail::parallel_for(s, static_cast<long long>(s) * (ty.max_taps() + 3), [&](int b, int e) {
    std::vector<float> acc(s);
    for (int i = b; i < e; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int k = ty.start[i]; k < ty.start[i + 1]; ++k) {
        const float w = ty.w[k];
        if (ty.idx[k] < 0) {
          for (int j = 0; j < s; ++j) acc[j] += w * pad_value;
          continue;
        }
        const float* m = mid.data() + static_cast<std::size_t>(ty.idx[k]) * s;
        for (int j = 0; j < s; ++j) acc[j] += w * m[j];
      }
      if (order == layout::nhwc) {
        float* o = out + static_cast<std::size_t>(i) * s * 3;
        for (int j = 0; j < s; ++j) o[3 * j] = o[3 * j + 1] = o[3 * j + 2] = acc[j];
      } else {
        for (int c = 0; c < 3; ++c) std::copy(acc.begin(), acc.end(), out + c * plane + static_cast<std::size_t>(i) * s);
      }
    }
  });
  return f;
}

}  // namespace cxrmt
