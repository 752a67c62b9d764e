// Colourisation and overlays of the segmentation (segNet-style fill, plus organ outlines).
#include "internal.hpp"

#include <cstring>
#include <type_traits>

namespace cxrmt {
namespace detail {
namespace {

// Organ flags of every cell of a label map or mask stack; rejects labels above 3.
// Written with comparisons rather than lookups so that the loops vectorise.
std::vector<uint8_t> seg_flags(const seg_view& seg, const char* name) {
  const std::size_t n = static_cast<std::size_t>(seg.height) * seg.width, w = seg.width;
  std::vector<uint8_t> flags(n);
  const uint8_t* in = seg.data;
  uint8_t* out = flags.data();
  std::vector<uint8_t> tops(seg.height, 0);
  const bool masks = seg.masks;
  parallel_for(seg.height, seg.width, [=, &tops](int b, int e) {
    // Locals, not closure members: byte stores may alias anything reached through a pointer.
    const uint8_t* src = in;
    uint8_t* dst = out;
    const std::size_t total = n, width = w;
    for (int y = b; y < e; ++y) {
      const std::size_t i0 = y * width, i1 = i0 + width;
      if (masks) {
        for (std::size_t i = i0; i < i1; ++i)
          dst[i] = static_cast<uint8_t>((src[i] != 0) * px::kHeart | (src[total + i] != 0) * px::kLeftLung |
                                        (src[2 * total + i] != 0) * px::kRightLung);
        continue;
      }
      uint8_t top = 0;
      for (std::size_t i = i0; i < i1; ++i) {
        const uint8_t l = src[i];
        top = l > top ? l : top;
        dst[i] = static_cast<uint8_t>((l == 3) * px::kHeart | (l == 2) * px::kLeftLung | (l == 1) * px::kRightLung);
      }
      tops[y] = top;
    }
  });
  const uint8_t top = *std::max_element(tops.begin(), tops.end());
  if (top > 3) bad_arg(std::string(name) + ": label " + std::to_string(top) + " is not in 0..3");
  return flags;
}

// Flags of the original-size image: nearest cell of the segmentation grid.
std::vector<uint8_t> full_flags(std::vector<uint8_t> cells, const seg_view& seg, const frame& f) {
  const grid_map g = seg_grid(seg, f);
  if (g.pad_y == 0 && g.pad_x == 0 && seg.height == f.height && seg.width == f.width) return cells;  // 1:1
  const std::vector<int> ny = nearest_map(seg.height, g.n_pad_y, g.pad_y, f.height);
  const std::vector<int> nx = nearest_map(seg.width, g.n_pad_x, g.pad_x, f.width);
  std::vector<uint8_t> out(static_cast<std::size_t>(f.height) * f.width);
  const int w = f.width, sw = seg.width;  // locals: byte stores may alias anything the loop reads
  const int* nxp = nx.data();
  const uint8_t* cp = cells.data();
  parallel_for(f.height, w, [&](int b, int e) {
    expand_rows(ny, w, out.data(), b, e, [&](int y, uint8_t* row) {
      const uint8_t* src = cp + static_cast<std::size_t>(ny[y]) * sw;
      for (int x = 0; x < w; ++x) row[x] = src[nxp[x]];
    });
  });
  return out;
}

// Inner boundary of each organ: flags AND NOT (flags eroded by a (2r+1)^2 square, outside = 0).
std::vector<uint8_t> boundary(const std::vector<uint8_t>& flags, int h, int w, int r) {
  std::vector<uint8_t> tmp(flags.size()), out(flags.size());
  const uint8_t* in = flags.data();
  uint8_t *tp = tmp.data(), *op = out.data();
  parallel_for(h, static_cast<long long>(w) * (2 * r + 1), [=](int b, int e) {
    for (int y = b; y < e; ++y) {
      const uint8_t* row = in + static_cast<std::size_t>(y) * w;
      uint8_t* dst = tp + static_cast<std::size_t>(y) * w;
      for (int x = 0; x < w; ++x) {
        uint8_t acc = 0x7;
        for (int k = x - r; k <= x + r; ++k) acc &= (k >= 0 && k < w) ? row[k] : 0;
        dst[x] = acc;
      }
    }
  });
  parallel_for(h, static_cast<long long>(w) * (2 * r + 1), [=](int b, int e) {
    for (int y = b; y < e; ++y) {
      uint8_t* dst = op + static_cast<std::size_t>(y) * w;
      const uint8_t* row = in + static_cast<std::size_t>(y) * w;
      for (int x = 0; x < w; ++x) dst[x] = 0x7;
      for (int k = y - r; k <= y + r; ++k) {
        if (k < 0 || k >= h) { for (int x = 0; x < w; ++x) dst[x] = 0; continue; }
        const uint8_t* t = tp + static_cast<std::size_t>(k) * w;
        for (int x = 0; x < w; ++x) dst[x] &= t[x];
      }
      for (int x = 0; x < w; ++x) dst[x] = row[x] & static_cast<uint8_t>(~dst[x]);
    }
  });
  return out;
}

// Grey display level (0..255) of an original value in the frame's window, as signed_row then
// (s + 1) * 127.5: the same operations in the same order, so the same bits.
inline float grey_level(float v, float lo, float inv, bool invert) {
  return (px::to_signed(px::unit(v, lo, inv, invert)) + 1.0f) * 127.5f;
}

// Grey display row of the original in the frame's window: 0..255 floats.
void grey_row(const image_view& im, const frame& f, int y, float* row) {
  signed_row(im, f, y, row);
  for (int x = 0; x < f.width; ++x) row[x] = (row[x] + 1.0f) * 127.5f;
}

// Three bytes at p from the low bytes of rgb; `wide` allows a 4-byte store (its 4th byte is
// rewritten by the next pixel).
inline void put_rgb(uint8_t* p, uint32_t rgb, bool wide) {
  if (wide) { std::memcpy(p, &rgb, 4); return; }
  p[0] = static_cast<uint8_t>(rgb); p[1] = static_cast<uint8_t>(rgb >> 8); p[2] = static_cast<uint8_t>(rgb >> 16);
}

// Blend coefficients of the 8 organ sets (px::blend_coeffs).
struct flag_blend {
  float keep[8], add[8][3];
};

// Packed RGB of a run of pixels of one organ set: its blend over their grey levels, from the
// table of levels for integer images. Constant coefficients: vectorised in the clones.
template <typename T>
CXRMT_CLONES void blend_run(const T* row, const float* grey, const frame& f, float keep, const float* add, int n,
                            uint32_t* rgb) {
  const float lo = f.window_lo, inv = 1.0f / (f.window_hi - f.window_lo), a0 = add[0], a1 = add[1], a2 = add[2];
  const bool invert = f.invert;
  for (int x = 0; x < n; ++x) {
    float g;
    if constexpr (std::is_same_v<T, float>) g = grey_level(row[x], lo, inv, invert);
    else g = grey[row[x]];
    rgb[x] = px::apply_blend(g, keep, a0) | px::apply_blend(g, keep, a1) << 8 |
             static_cast<uint32_t>(px::apply_blend(g, keep, a2)) << 16;
  }
}

// Rows [b, e) of the point overlay, by runs of one organ set (organs and background are large
// regions). Background runs (most of the image: keep = 1 and add = 0.5 in every channel) take
// the finished grey byte from a table over all values of an integer image; organ runs are
// blended, packed, then stored three bytes a pixel.
template <typename T>
void blend_rows(const image_view& im, const uint8_t* flags, const frame& f, const flag_blend& fb, const float* grey,
                const uint8_t* background, int b, int e, uint8_t* rgb) {
  const int w = f.width;
  std::vector<uint32_t> packed(w);
  for (int y = b; y < e; ++y) {
    const T* row = static_cast<const T*>(im.data) + static_cast<std::size_t>(y) * im.row_stride;
    const uint8_t* fr = flags + static_cast<std::size_t>(y) * w;
    uint8_t* out = rgb + 3 * static_cast<std::size_t>(y) * w;
    for (int x0 = 0, x1; x0 < w; x0 = x1) {
      const int fl = fr[x0];
      for (x1 = x0 + 1; x1 < w && fr[x1] == fl;) ++x1;
      if constexpr (!std::is_same_v<T, float>) {
        if (!fl) {
          for (int x = x0; x < x1; ++x) put_rgb(out + 3 * x, background[row[x]] * 0x010101u, x + 1 < w);
          continue;
        }
      }
      blend_run(row + x0, grey, f, fb.keep[fl], fb.add[fl], x1 - x0, packed.data());
      for (int x = x0; x < x1; ++x) put_rgb(out + 3 * x, packed[x - x0], x + 1 < w);
    }
  }
}

// Every pixel has one of 8 organ sets: blend through a table of their coefficients.
void overlay_flags(const image_view& im, const std::vector<uint8_t>& flags, const frame& f,
                   const overlay_options& o, uint8_t* rgb) {
  flag_blend fb;
  for (int fl = 0; fl < 8; ++fl) px::blend_coeffs(static_cast<uint8_t>(fl), o.palette, o.alpha, &fb.keep[fl], fb.add[fl]);
  std::vector<float> grey;  // grey level and finished background byte of every value of an integer image
  std::vector<uint8_t> background;
  if (im.type != dtype::f32) {
    grey.resize(im.type == dtype::u8 ? 256 : 65536);
    background.resize(grey.size());
    const float lo = f.window_lo, inv = 1.0f / (f.window_hi - f.window_lo);
    for (std::size_t v = 0; v < grey.size(); ++v) {
      grey[v] = grey_level(static_cast<float>(v), lo, inv, f.invert);
      background[v] = px::apply_blend(grey[v], fb.keep[0], fb.add[0][0]);
    }
  }
  const float* gp = grey.data();
  const uint8_t* bp = background.data();
  parallel_for(f.height, f.width * 4, [&](int b, int e) {
    if (im.type == dtype::u8) blend_rows<uint8_t>(im, flags.data(), f, fb, gp, bp, b, e, rgb);
    else if (im.type == dtype::u16) blend_rows<uint16_t>(im, flags.data(), f, fb, gp, bp, b, e, rgb);
    else blend_rows<float>(im, flags.data(), f, fb, nullptr, nullptr, b, e, rgb);
  });
}

// Bilinear colour and coverage, separably: cell rows to output columns once (S x W x 4), then
// two of those rows per output row, vectorised; premultiplied so colours do not bleed into
// background.
void overlay_linear(const image_view& im, const std::vector<uint8_t>& cells, const seg_view& seg,
                    const frame& f, const overlay_options& o, uint8_t* rgb) {
  const grid_map gm = seg_grid(seg, f);
  const taps tx = bilinear_taps(seg.width, gm.n_pad_x, gm.pad_x, f.width);
  const taps ty = bilinear_taps(seg.height, gm.n_pad_y, gm.pad_y, f.height);
  float premult[8][4];  // per organ set: colour * alpha, alpha
  for (int fl = 0; fl < 8; ++fl) {
    uint8_t c[3];
    px::flags_colour(static_cast<uint8_t>(fl), o.palette, c);
    premult[fl][3] = fl ? static_cast<float>(o.alpha) : 0.0f;
    for (int k = 0; k < 3; ++k) premult[fl][k] = premult[fl][3] * c[k];
  }
  const int w = f.width, sw = seg.width;
  std::vector<float> mid(static_cast<std::size_t>(seg.height) * w * 4);
  parallel_for(seg.height, static_cast<long long>(w) * 8, [&](int b, int e) {
    for (int i = b; i < e; ++i) {
      const uint8_t* row = cells.data() + static_cast<std::size_t>(i) * sw;
      float* m = mid.data() + static_cast<std::size_t>(i) * w * 4;
      for (int x = 0; x < w; ++x) {
        float acc[4] = {0, 0, 0, 0};
        for (int k = tx.start[x]; k < tx.start[x + 1]; ++k)
          for (int c = 0; c < 4; ++c) acc[c] += tx.w[k] * premult[row[tx.idx[k]]][c];
        for (int c = 0; c < 4; ++c) m[4 * x + c] = acc[c];
      }
    }
  });
  parallel_for(f.height, static_cast<long long>(w) * 12, [&](int b, int e) {
    std::vector<float> g(w), acc(static_cast<std::size_t>(w) * 4);
    for (int y = b; y < e; ++y) {
      grey_row(im, f, y, g.data());
      std::fill(acc.begin(), acc.end(), 0.0f);
      float* ap = acc.data();
      for (int k = ty.start[y]; k < ty.start[y + 1]; ++k) {
        const float wk = ty.w[k];
        const float* m = mid.data() + static_cast<std::size_t>(ty.idx[k]) * w * 4;
        for (int x = 0; x < 4 * w; ++x) ap[x] += wk * m[x];
      }
      uint8_t* out = rgb + 3 * static_cast<std::size_t>(y) * w;
      const float* gp = g.data();
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) out[3 * x + c] = px::blend(gp[x], ap[4 * x + c], ap[4 * x + 3]);
    }
  });
}

}  // namespace
}  // namespace detail

void colourise(const seg_view& seg, const uint8_t* palette, uint8_t* rgb) {
  if (!seg.data || seg.height <= 0 || seg.width <= 0) detail::bad_arg("seg: empty");
  if (!palette) detail::bad_arg("palette: missing");
  const std::vector<uint8_t> flags = detail::seg_flags(seg, seg.masks ? "masks" : "labels");
  uint8_t colour[8][3];
  for (int fl = 0; fl < 8; ++fl) px::flags_colour(static_cast<uint8_t>(fl), palette, colour[fl]);
  const uint8_t* fp = flags.data();
  const std::size_t w = static_cast<std::size_t>(seg.width);
  detail::parallel_for(seg.height, seg.width, [&, fp, w](int b, int e) {
    uint8_t table[8][3];  // a local copy: the stores below may alias anything else
    std::memcpy(table, colour, sizeof table);
    uint8_t* dst = rgb;
    const std::size_t end = e * w;
    for (std::size_t i = b * w; i < end; ++i) {
      const uint8_t* c = table[fp[i]];
      dst[3 * i] = c[0]; dst[3 * i + 1] = c[1]; dst[3 * i + 2] = c[2];
    }
  });
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
  std::vector<uint8_t> cells = detail::seg_flags(seg, name);
  if (o.mode == overlay_mode::outline) {
    const auto full = detail::full_flags(std::move(cells), seg, f);
    detail::overlay_flags(original, detail::boundary(full, f.height, f.width, o.thickness), f, o, rgb);
  } else if (o.filter == sampling::linear) {
    detail::overlay_linear(original, cells, seg, f, o, rgb);
  } else {
    detail::overlay_flags(original, detail::full_flags(std::move(cells), seg, f), f, o, rgb);
  }
}

}  // namespace cxrmt
