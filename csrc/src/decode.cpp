// Model output -> masks, label map and bone-suppressed image at the original resolution.
#include "internal.hpp"

namespace cxrmt {
namespace detail {
namespace {

// Decide at model resolution (S x S), then expand by nearest neighbour: the decision per pixel
// is the same, and S^2 is 16x less work than 2048^2.
void decode_seg(const std::vector<float>& seg, const frame& f, const decode_targets& t) {
  const int s = f.size, h = f.height, w = f.width;
  const std::size_t area = static_cast<std::size_t>(s) * s, full = static_cast<std::size_t>(h) * w;
  std::vector<uint8_t> small(4 * area);  // heart, left, right masks, then labels
  for (std::size_t i = 0; i < area; ++i) {
    float hv = seg[i], lv = seg[area + i], rv = seg[2 * area + i];
    small[i] = hv > 0.0f;
    small[area + i] = lv > 0.0f;
    small[2 * area + i] = rv > 0.0f;
    small[3 * area + i] = px::label_of(hv, lv, rv);
  }
  const std::vector<int> ny = nearest_map(s, f.side(), f.pad_top, h);
  const std::vector<int> nx = nearest_map(s, f.side(), f.pad_left, w);
  const int* nxp = nx.data();  // locals: byte stores may alias anything the loop reads
  auto expand = [&](const uint8_t* plane, uint8_t* dst) {
    parallel_for(h, w, [&](int b, int e) {
      expand_rows(ny, w, dst, b, e, [&](int y, uint8_t* row) {
        const uint8_t* src = plane + static_cast<std::size_t>(ny[y]) * s;
        for (int x = 0; x < w; ++x) row[x] = src[nxp[x]];
      });
    });
  };
  if (t.masks)
    for (int c = 0; c < 3; ++c) expand(small.data() + c * area, t.masks + c * full);
  if (t.labels) expand(small.data() + 3 * area, t.labels);
}

taps upsample_taps(int n_src, int n_pad, int pad, int n_dst, resample filter) {
  return filter == resample::bilinear ? bilinear_taps(n_src, n_pad, pad, n_dst)
                                      : area_taps_to_original(n_src, n_pad, pad, n_dst);
}

// dst[x] = quantise(original's signed value - up[x]) for one row, up = w0 * m0 (+ w1 * m1): the
// vertical taps, the original in the window and the quantisation in one pass, no row buffers.
// The sums are those of the tap loop (it starts from 0, which changes at most the sign of a zero,
// and the quantisation does not see that). Inlined into bone_row_any's clones.
template <typename T, typename O>
inline __attribute__((always_inline)) void bone_row(const T* orig, const frame& f, const float* m0, float w0,
                                                    const float* m1, float w1, int w, float max_value, O* dst) {
  const float lo = f.window_lo, inv = 1.0f / (f.window_hi - f.window_lo);
  const bool invert = f.invert;
  for (int x = 0; x < w; ++x) {
    float up = w0 * m0[x];
    if (m1) up += w1 * m1[x];
    const float s = orig ? px::to_signed(px::unit(static_cast<float>(orig[x]), lo, inv, invert)) : 0.0f;
    dst[x] = static_cast<O>(px::quantise(s - up, max_value));
  }
}

template <typename O>
CXRMT_CLONES void bone_row_any(const image_view* original, int y, const frame& f, const float* m0, float w0,
                               const float* m1, float w1, float max_value, O* dst) {
  const int w = f.width;
  if (!original) { bone_row<uint8_t, O>(nullptr, f, m0, w0, m1, w1, w, max_value, dst); return; }
  const char* row = static_cast<const char*>(original->data) +
                    static_cast<std::size_t>(y) * original->row_stride * dtype_size(original->type);
  if (original->type == dtype::u8) bone_row(reinterpret_cast<const uint8_t*>(row), f, m0, w0, m1, w1, w, max_value, dst);
  else if (original->type == dtype::u16) bone_row(reinterpret_cast<const uint16_t*>(row), f, m0, w0, m1, w1, w, max_value, dst);
  else bone_row(reinterpret_cast<const float*>(row), f, m0, w0, m1, w1, w, max_value, dst);
}

// Two-tap horizontal resampling of one model row: m[x] = 0 + w0[x] * r[i0[x]] + w1[x] * r[i1[x]],
// a single tap padded with weight 0 (the tap loop's sum up to the sign of a zero). Gathers.
CXRMT_CLONES void two_tap_row(const float* r, const int* i0, const int* i1, const float* w0, const float* w1, int w,
                              float* m) {
  for (int x = 0; x < w; ++x) {
    float acc = 0.0f;
    acc += w0[x] * r[i0[x]];
    acc += w1[x] * r[i1[x]];
    m[x] = acc;
  }
}

// Horizontal pass at model rows (S x W), then per output row: vertical taps, the original's row
// in the window (residual mode), quantisation. No full-size float intermediate.
template <typename T>
void write_bone(const std::vector<float>& plane, const frame& f, const decode_options& opts,
                const image_view* original, T* out, float max_value) {
  const int s = f.size, h = f.height, w = f.width, d = f.side();
  const taps tx = upsample_taps(s, d, f.pad_left, w, opts.filter);
  const taps ty = upsample_taps(s, d, f.pad_top, h, opts.filter);
  std::vector<float> mid(static_cast<std::size_t>(s) * w);
  std::vector<int> i0(w), i1(w);
  std::vector<float> w0(w), w1(w);
  const bool two_x = tx.max_taps() <= 2;
  for (int x = 0; two_x && x < w; ++x) {
    const int k = tx.start[x], n = tx.start[x + 1] - k;
    i0[x] = n ? tx.idx[k] : 0;
    w0[x] = n ? tx.w[k] : 0.0f;
    i1[x] = n == 2 ? tx.idx[k + 1] : i0[x];
    w1[x] = n == 2 ? tx.w[k + 1] : 0.0f;
  }
  parallel_for(s, static_cast<long long>(w) * tx.max_taps(), [&](int b, int e) {
    for (int i = b; i < e && two_x; ++i)
      two_tap_row(plane.data() + static_cast<std::size_t>(i) * s, i0.data(), i1.data(), w0.data(), w1.data(), w,
                  mid.data() + static_cast<std::size_t>(i) * w);
    for (int i = b; i < e && !two_x; ++i) {
      const float* r = plane.data() + static_cast<std::size_t>(i) * s;
      float* m = mid.data() + static_cast<std::size_t>(i) * w;
      for (int x = 0; x < w; ++x) {
        float acc = 0.0f;
        for (int k = tx.start[x]; k < tx.start[x + 1]; ++k) acc += tx.w[k] * r[tx.idx[k]];
        m[x] = acc;
      }
    }
  });
  const bool two_taps = ty.max_taps() <= 2;
  parallel_for(h, static_cast<long long>(w) * (ty.max_taps() + 2), [&](int b, int e) {
    std::vector<float> up, orig;
    if (!two_taps) { up.resize(w); orig.assign(w, 0.0f); }
    for (int y = b; y < e; ++y) {
      T* o = out + static_cast<std::size_t>(y) * w;
      auto mid_row = [&](int k) { return mid.data() + static_cast<std::size_t>(ty.idx[k]) * w; };
      const int k0 = ty.start[y], n = ty.start[y + 1] - k0;
      if (two_taps) {  // (no taps cannot happen; it would read zeros)
        bone_row_any(original, y, f, n ? mid_row(k0) : mid.data(), n ? ty.w[k0] : 0.0f, n == 2 ? mid_row(k0 + 1) : nullptr,
                     n == 2 ? ty.w[k0 + 1] : 0.0f, max_value, o);
        continue;
      }
      std::fill(up.begin(), up.end(), 0.0f);
      for (int k = ty.start[y]; k < ty.start[y + 1]; ++k) {
        const float wk = ty.w[k];
        const float* m = mid_row(k);
        for (int x = 0; x < w; ++x) up[x] += wk * m[x];
      }
      if (original) signed_row(*original, f, y, orig.data());
      const float *op = orig.data(), *upp = up.data();
      for (int x = 0; x < w; ++x) o[x] = static_cast<T>(px::quantise(op[x] - upp[x], max_value));
    }
  });
}

void decode_bone(const std::vector<float>& bone3, const frame& f, const decode_options& opts,
                 const image_view* original, const float* model_input, layout input_order, void* out) {
  const int s = f.size;
  const std::size_t area = static_cast<std::size_t>(s) * s;
  const bool residual = opts.mode == bone_mode::residual;
  // Residual mode upsamples (model input - bone) and subtracts it from the original; resize mode
  // upsamples -bone and subtracts it from zero.
  // In the bone window the network's change scales by k and the original is read unclipped.
  float k = 1.0f;
  const frame fb = bone_frame(f, opts, &k);
  std::vector<float> plane(area);
  for (std::size_t i = 0; i < area; ++i) {
    float bone = (bone3[i] + bone3[area + i] + bone3[2 * area + i]) * (1.0f / 3.0f);
    plane[i] = k * ((residual ? model_input[input_order == layout::nhwc ? 3 * i : i] : 0.0f) - bone);
  }
  const image_view* orig = residual ? original : nullptr;
  if (opts.bone_type == dtype::u8) write_bone(plane, fb, opts, orig, static_cast<uint8_t*>(out), 255.0f);
  else write_bone(plane, fb, opts, orig, static_cast<uint16_t*>(out), 65535.0f);
}

}  // namespace
}  // namespace detail

void decode(const output_view& output, const frame& f, const decode_options& opts,
            const image_view* original, const float* model_input, layout input_order,
            const decode_targets& t) {
  detail::check_output(output, opts);
  detail::check_frame(f);
  if (output.size != f.size)
    detail::bad_arg("output: size " + std::to_string(output.size) + " does not match the frame's " + std::to_string(f.size));
  const bool has_seg = opts.kind != task::bse, has_bone = opts.kind != task::seg;
  if ((t.masks || t.labels) && !has_seg) detail::bad_arg("masks/labels: a bse-only output has no segmentation");
  if (t.bone && !has_bone) detail::bad_arg("bone: a seg-only output has no bone-suppressed image");
  if (t.bone && opts.mode == bone_mode::residual) {
    if (!original || !model_input)
      detail::bad_arg("image/model_input: residual bone decoding needs the original image and the model input");
    detail::check_image(*original, "image");
    if (original->height != f.height || original->width != f.width)
      detail::bad_arg("image: shape does not match the frame it was preprocessed with");
  }
  if (t.masks || t.labels) detail::decode_seg(detail::planes(output, 0, 3), f, t);
  if (t.bone)
    detail::decode_bone(detail::planes(output, opts.kind == task::mt ? 3 : 0, 3), f, opts, original, model_input,
                        input_order, t.bone);
}

}  // namespace cxrmt
