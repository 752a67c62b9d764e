// Island removal and hole filling per organ (the paper's stated future work).
#include "internal.hpp"

#include <vector>

namespace cxrmt {
namespace detail {
namespace {

// Labels the `value` pixels of `m` into components (8- or 4-connected); returns sizes, 1-based.
std::vector<long long> components(const uint8_t* m, int h, int w, uint8_t value, bool eight, std::vector<int>& label) {
  label.assign(static_cast<std::size_t>(h) * w, 0);
  std::vector<long long> sizes(1, 0);
  std::vector<int> stack;
  for (int start = 0; start < h * w; ++start) {
    if ((m[start] != 0) != (value != 0) || label[start]) continue;
    int id = static_cast<int>(sizes.size());
    sizes.push_back(0);
    label[start] = id;
    stack.push_back(start);
    while (!stack.empty()) {
      int p = stack.back();
      stack.pop_back();
      ++sizes[id];
      int y = p / w, x = p % w;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          if ((dy == 0 && dx == 0) || (!eight && dy != 0 && dx != 0)) continue;
          int yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          int q = yy * w + xx;
          if (label[q] || (m[q] != 0) != (value != 0)) continue;
          label[q] = id;
          stack.push_back(q);
        }
    }
  }
  return sizes;
}

void keep_largest_component(uint8_t* m, int h, int w) {
  std::vector<int> label;
  std::vector<long long> sizes = components(m, h, w, 1, true, label);
  int best = 0;
  for (std::size_t i = 1; i < sizes.size(); ++i)
    if (sizes[i] > sizes[best]) best = static_cast<int>(i);  // first-found wins ties
  for (int p = 0; p < h * w; ++p) m[p] = (m[p] && label[p] == best) ? 1 : 0;
}

// Background components that do not touch the border are holes.
void fill(uint8_t* m, int h, int w) {
  std::vector<int> label;
  std::vector<long long> sizes = components(m, h, w, 0, false, label);
  std::vector<char> outside(sizes.size(), 0);
  for (int x = 0; x < w; ++x) outside[label[x]] = outside[label[(h - 1) * w + x]] = 1;
  for (int y = 0; y < h; ++y) outside[label[y * w]] = outside[label[y * w + w - 1]] = 1;
  for (int p = 0; p < h * w; ++p) m[p] = (m[p] || !outside[label[p]]) ? 1 : 0;
}

}  // namespace
}  // namespace detail

void cleanup(uint8_t* masks, int height, int width, bool keep_largest, bool fill_holes) {
  if (!masks || height <= 0 || width <= 0) detail::bad_arg("masks: empty");
  const std::size_t n = static_cast<std::size_t>(height) * width;
  detail::parallel_for(3, static_cast<long long>(n), [&](int b, int e) {
    for (int c = b; c < e; ++c) {
      uint8_t* m = masks + c * n;
      for (std::size_t p = 0; p < n; ++p) m[p] = m[p] ? 1 : 0;
      if (keep_largest) detail::keep_largest_component(m, height, width);
      if (fill_holes) detail::fill(m, height, width);
    }
  });
}

}  // namespace cxrmt
