// Island removal and hole filling per organ (the paper's stated future work).
// Connected components over runs of equal pixels (scanline union-find): linear time and far
// fewer operations than a per-pixel flood fill at 2048^2.
#include "internal.hpp"

#include <numeric>
#include <vector>

namespace cxrmt {
namespace detail {
namespace {

struct run {
  int y, x0, x1;  // pixels [x0, x1) of row y
};

struct run_components {
  std::vector<run> runs;
  std::vector<int> parent;
  std::vector<int> row_start;  // runs of row y: [row_start[y], row_start[y + 1])

  int find(int a) {
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
  }
  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);  // the root is the earliest run (raster order)
  }
};

// Runs of pixels equal to `value` (as booleans), joined when they touch (8- or 4-connected).
run_components label_runs(const uint8_t* m, int h, int w, bool value, bool eight) {
  run_components c;
  c.row_start.push_back(0);
  const int reach = eight ? 1 : 0;  // 8-connectivity also joins diagonal neighbours
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = m + static_cast<std::size_t>(y) * w;
    for (int x = 0; x < w;) {
      if ((row[x] != 0) != value) { ++x; continue; }
      int x0 = x;
      while (x < w && (row[x] != 0) == value) ++x;
      c.runs.push_back({y, x0, x});
    }
    c.row_start.push_back(static_cast<int>(c.runs.size()));
  }
  c.parent.resize(c.runs.size());
  std::iota(c.parent.begin(), c.parent.end(), 0);
  for (int y = 1; y < h; ++y) {
    int p = c.row_start[y - 1];
    const int p_end = c.row_start[y];
    for (int r = c.row_start[y]; r < c.row_start[y + 1]; ++r) {
      const run& cur = c.runs[r];
      while (p < p_end && c.runs[p].x1 + reach <= cur.x0) ++p;  // previous-row runs left of cur
      for (int q = p; q < p_end && c.runs[q].x0 < cur.x1 + reach; ++q) c.unite(r, q);
    }
  }
  return c;
}

void fill_runs(uint8_t* m, int w, const run_components& c, const std::vector<char>& keep, uint8_t value) {
  for (std::size_t r = 0; r < c.runs.size(); ++r)
    if (keep[r]) std::fill(m + static_cast<std::size_t>(c.runs[r].y) * w + c.runs[r].x0,
                           m + static_cast<std::size_t>(c.runs[r].y) * w + c.runs[r].x1, value);
}

void keep_largest_component(uint8_t* m, int h, int w) {
  run_components c = label_runs(m, h, w, true, true);
  std::vector<long long> size(c.runs.size(), 0);
  for (std::size_t r = 0; r < c.runs.size(); ++r) size[c.find(static_cast<int>(r))] += c.runs[r].x1 - c.runs[r].x0;
  int best = -1;
  for (std::size_t r = 0; r < size.size(); ++r)
    if (best < 0 || size[r] > size[best]) best = static_cast<int>(r);  // first in raster order wins ties
  std::vector<char> drop(c.runs.size());
  for (std::size_t r = 0; r < c.runs.size(); ++r) drop[r] = c.find(static_cast<int>(r)) != best;
  fill_runs(m, w, c, drop, 0);
}

// Background components (4-connected) that do not touch the border are holes.
void fill_holes_of(uint8_t* m, int h, int w) {
  run_components c = label_runs(m, h, w, false, false);
  std::vector<char> outside(c.runs.size(), 0);
  for (std::size_t r = 0; r < c.runs.size(); ++r) {
    const run& u = c.runs[r];
    if (u.y == 0 || u.y == h - 1 || u.x0 == 0 || u.x1 == w) outside[c.find(static_cast<int>(r))] = 1;
  }
  std::vector<char> hole(c.runs.size());
  for (std::size_t r = 0; r < c.runs.size(); ++r) hole[r] = !outside[c.find(static_cast<int>(r))];
  fill_runs(m, w, c, hole, 1);
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
      if (fill_holes) detail::fill_holes_of(m, height, width);
    }
  });
}

}  // namespace cxrmt
