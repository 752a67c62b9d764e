// Colourisation and overlays of the segmentation (segNet-style fill, plus organ outlines).
#include "internal.hpp"

namespace cxrmt {
namespace detail {
namespace {

// Organ flags of every cell of a label map or mask stack; rejects labels above 3.
std::vector<uint8_t> seg_flags(const seg_view& seg, const char* name) {
  const std::size_t n = static_cast<std::size_t>(seg.height) * seg.width;
  std::vector<uint8_t> flags(n);
  if (seg.masks) {
    for (std::size_t i = 0; i < n; ++i)
      flags[i] = static_cast<uint8_t>((seg.data[i] ? px::kHeart : 0) | (seg.data[n + i] ? px::kLeftLung : 0) |
                                      (seg.data[2 * n + i] ? px::kRightLung : 0));
    return flags;
  }
  uint8_t top = 0;
  for (std::size_t i = 0; i < n; ++i) {
    top = seg.data[i] > top ? seg.data[i] : top;
    flags[i] = px::flag_of_label(seg.data[i]);
  }
  if (top > 3) bad_arg(std::string(name) + ": label " + std::to_string(top) + " is not in 0..3");
  return flags;
}

// Flags of the original-size image: nearest cell of the segmentation grid.
std::vector<uint8_t> full_flags(const std::vector<uint8_t>& cells, const seg_view& seg, const frame& f) {
  const grid_map g = seg_grid(seg, f);
  const std::vector<int> ny = nearest_map(seg.height, g.n_pad_y, g.pad_y, f.height);
  const std::vector<int> nx = nearest_map(seg.width, g.n_pad_x, g.pad_x, f.width);
  std::vector<uint8_t> out(static_cast<std::size_t>(f.height) * f.width);
  parallel_for(f.height, f.width, [&](int b, int e) {
    for (int y = b; y < e; ++y)
      for (int x = 0; x < f.width; ++x)
        out[static_cast<std::size_t>(y) * f.width + x] = cells[static_cast<std::size_t>(ny[y]) * seg.width + nx[x]];
  });
  return out;
}

// Inner boundary of each organ: flags AND NOT (flags eroded by a (2r+1)^2 square, outside = 0).
std::vector<uint8_t> boundary(const std::vector<uint8_t>& flags, int h, int w, int r) {
  std::vector<uint8_t> tmp(flags.size()), out(flags.size());
  parallel_for(h, static_cast<long long>(w) * (2 * r + 1), [&](int b, int e) {
    for (int y = b; y < e; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t acc = 0x7;
        for (int k = x - r; k <= x + r; ++k) acc &= (k >= 0 && k < w) ? flags[static_cast<std::size_t>(y) * w + k] : 0;
        tmp[static_cast<std::size_t>(y) * w + x] = acc;
      }
  });
  parallel_for(h, static_cast<long long>(w) * (2 * r + 1), [&](int b, int e) {
    for (int y = b; y < e; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t acc = 0x7;
        for (int k = y - r; k <= y + r; ++k) acc &= (k >= 0 && k < h) ? tmp[static_cast<std::size_t>(k) * w + x] : 0;
        std::size_t i = static_cast<std::size_t>(y) * w + x;
        out[i] = flags[i] & static_cast<uint8_t>(~acc);
      }
  });
  return out;
}

// Grey display row of the original in the frame's window: 0..255 floats.
void grey_row(const row_normaliser& norm, int y, int w, float* row) {
  norm(y, row, 0, w);
  for (int x = 0; x < w; ++x) row[x] = (row[x] + 1.0f) * 127.5f;
}

void overlay_flags(const row_normaliser& norm, const std::vector<uint8_t>& flags, const frame& f,
                   const overlay_options& o, uint8_t* rgb) {
  parallel_for(f.height, f.width * 4, [&](int b, int e) {
    std::vector<float> g(f.width);
    for (int y = b; y < e; ++y) {
      grey_row(norm, y, f.width, g.data());
      for (int x = 0; x < f.width; ++x) {
        std::size_t i = static_cast<std::size_t>(y) * f.width + x;
        uint8_t c[3];
        px::flags_colour(flags[i], o.palette, c);
        float a = flags[i] ? static_cast<float>(o.alpha) : 0.0f;
        for (int k = 0; k < 3; ++k) rgb[3 * i + k] = px::blend(g[x], a * c[k], a);
      }
    }
  });
}

void overlay_linear(const row_normaliser& norm, const std::vector<uint8_t>& cells, const seg_view& seg,
                    const frame& f, const overlay_options& o, uint8_t* rgb) {
  const grid_map gm = seg_grid(seg, f);
  const taps tx = bilinear_taps(seg.width, gm.n_pad_x, gm.pad_x, f.width);
  const taps ty = bilinear_taps(seg.height, gm.n_pad_y, gm.pad_y, f.height);
  // Premultiplied colour and coverage of every cell.
  std::vector<float> cell(cells.size() * 4);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    uint8_t c[3];
    px::flags_colour(cells[i], o.palette, c);
    float a = cells[i] ? static_cast<float>(o.alpha) : 0.0f;
    for (int k = 0; k < 3; ++k) cell[4 * i + k] = a * c[k];
    cell[4 * i + 3] = a;
  }
  parallel_for(f.height, f.width * 8, [&](int b, int e) {
    std::vector<float> g(f.width);
    for (int y = b; y < e; ++y) {
      grey_row(norm, y, f.width, g.data());
      for (int x = 0; x < f.width; ++x) {
        float acc[4] = {0, 0, 0, 0};
        for (int ky = ty.start[y]; ky < ty.start[y + 1]; ++ky)
          for (int kx = tx.start[x]; kx < tx.start[x + 1]; ++kx) {
            float wk = ty.w[ky] * tx.w[kx];
            const float* c = &cell[4 * (static_cast<std::size_t>(ty.idx[ky]) * seg.width + tx.idx[kx])];
            for (int k = 0; k < 4; ++k) acc[k] += wk * c[k];
          }
        std::size_t i = static_cast<std::size_t>(y) * f.width + x;
        for (int k = 0; k < 3; ++k) rgb[3 * i + k] = px::blend(g[x], acc[k], acc[3]);
      }
    }
  });
}

}  // namespace
}  // namespace detail

void colourise(const seg_view& seg, const uint8_t* palette, uint8_t* rgb) {
  if (!seg.data || seg.height <= 0 || seg.width <= 0) detail::bad_arg("seg: empty");
  if (!palette) detail::bad_arg("palette: missing");
  const std::vector<uint8_t> flags = detail::seg_flags(seg, seg.masks ? "masks" : "labels");
  for (std::size_t i = 0; i < flags.size(); ++i) px::flags_colour(flags[i], palette, rgb + 3 * i);
}

void overlay(const image_view& original, const frame& f, const seg_view& seg, const overlay_options& o, uint8_t* rgb) {
  detail::check_image(original, "image");
  detail::check_frame(f);
  detail::check_overlay_options(o);
  if (original.height != f.height || original.width != f.width)
    detail::bad_arg("image: shape does not match the frame");
  const char* name = seg.masks ? "masks" : "labels";
  detail::check_seg(seg, f, name);
  detail::check_values(original, window_options{});
  const std::vector<uint8_t> cells = detail::seg_flags(seg, name);
  const detail::row_normaliser norm(original, f, 0.0f);
  if (o.mode == overlay_mode::outline) {
    const auto full = detail::full_flags(cells, seg, f);
    detail::overlay_flags(norm, detail::boundary(full, f.height, f.width, o.thickness), f, o, rgb);
  } else if (o.filter == sampling::linear) {
    detail::overlay_linear(norm, cells, seg, f, o, rgb);
  } else {
    detail::overlay_flags(norm, detail::full_flags(cells, seg, f), f, o, rgb);
  }
}

}  // namespace cxrmt
