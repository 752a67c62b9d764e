// Model output -> masks, label map and bone-suppressed image at the original resolution.
#include "internal.hpp"

namespace cxrmt {
namespace detail {
namespace {

void decode_seg(const std::vector<float>& seg, const frame& f, const decode_targets& t) {
  const int s = f.size, h = f.height, w = f.width;
  const std::size_t area = static_cast<std::size_t>(s) * s, full = static_cast<std::size_t>(h) * w;
  const std::vector<int> ny = nearest_map(s, f.side(), f.pad_top, h);
  const std::vector<int> nx = nearest_map(s, f.side(), f.pad_left, w);
  parallel_for(h, w, [&](int b, int e) {
    for (int y = b; y < e; ++y) {
      const std::size_t row = static_cast<std::size_t>(ny[y]) * s;
      for (int x = 0; x < w; ++x) {
        std::size_t i = row + nx[x], o = static_cast<std::size_t>(y) * w + x;
        float hv = seg[i], lv = seg[area + i], rv = seg[2 * area + i];
        if (t.masks) {
          t.masks[o] = hv > 0.0f;
          t.masks[full + o] = lv > 0.0f;
          t.masks[2 * full + o] = rv > 0.0f;
        }
        if (t.labels) t.labels[o] = px::label_of(hv, lv, rv);
      }
    }
  });
}

// S x S plane -> H x W (the original's part of the padded square), separable.
std::vector<float> upsample(const std::vector<float>& src, const frame& f, resample filter) {
  const int s = f.size, h = f.height, w = f.width, d = f.side();
  const taps tx = filter == resample::bilinear ? bilinear_taps(s, d, f.pad_left, w) : area_taps_to_original(s, d, f.pad_left, w);
  const taps ty = filter == resample::bilinear ? bilinear_taps(s, d, f.pad_top, h) : area_taps_to_original(s, d, f.pad_top, h);
  std::vector<float> mid(static_cast<std::size_t>(s) * w), out(static_cast<std::size_t>(h) * w);
  parallel_for(s, static_cast<long long>(w) * tx.max_taps(), [&](int b, int e) {
    for (int i = b; i < e; ++i) {
      const float* r = src.data() + static_cast<std::size_t>(i) * s;
      float* m = mid.data() + static_cast<std::size_t>(i) * w;
      for (int x = 0; x < w; ++x) {
        float acc = 0.0f;
        for (int k = tx.start[x]; k < tx.start[x + 1]; ++k) acc += tx.w[k] * r[tx.idx[k]];
        m[x] = acc;
      }
    }
  });
  parallel_for(h, static_cast<long long>(w) * ty.max_taps(), [&](int b, int e) {
    for (int y = b; y < e; ++y) {
      float* o = out.data() + static_cast<std::size_t>(y) * w;
      std::fill(o, o + w, 0.0f);
      for (int k = ty.start[y]; k < ty.start[y + 1]; ++k) {
        const float wk = ty.w[k];
        const float* m = mid.data() + static_cast<std::size_t>(ty.idx[k]) * w;
        for (int x = 0; x < w; ++x) o[x] += wk * m[x];
      }
    }
  });
  return out;
}

template <typename T>
void write_bone(const std::vector<float>& up, const frame& f, const image_view* original, T* out, float max_value) {
  const int h = f.height, w = f.width;
  std::unique_ptr<row_normaliser> norm;
  if (original) norm.reset(new row_normaliser(*original, f, 0.0f));
  parallel_for(h, w, [&](int b, int e) {
    std::vector<float> row(w);
    for (int y = b; y < e; ++y) {
      if (norm) (*norm)(y, row.data(), 0, w);
      const float* u = up.data() + static_cast<std::size_t>(y) * w;
      T* o = out + static_cast<std::size_t>(y) * w;
      for (int x = 0; x < w; ++x) o[x] = static_cast<T>(px::quantise(norm ? row[x] - u[x] : u[x], max_value));
    }
  });
}

void decode_bone(const std::vector<float>& bone3, const frame& f, const decode_options& opts,
                 const image_view* original, const float* model_input, layout input_order, void* out) {
  const int s = f.size;
  const std::size_t area = static_cast<std::size_t>(s) * s;
  std::vector<float> plane(area);  // mean of the three bone channels, or the residual
  for (std::size_t i = 0; i < area; ++i) {
    float bone = (bone3[i] + bone3[area + i] + bone3[2 * area + i]) * (1.0f / 3.0f);
    if (opts.mode == bone_mode::residual)
      plane[i] = model_input[input_order == layout::nhwc ? 3 * i : i] - bone;
    else
      plane[i] = bone;
  }
  const std::vector<float> up = upsample(plane, f, opts.filter);
  const image_view* orig = opts.mode == bone_mode::residual ? original : nullptr;
  if (opts.bone_type == dtype::u8) write_bone(up, f, orig, static_cast<uint8_t*>(out), 255.0f);
  else write_bone(up, f, orig, static_cast<uint16_t*>(out), 65535.0f);
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
