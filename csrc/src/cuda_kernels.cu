// CUDA twins of the CPU kernels. Per-pixel maths comes from pixel.hpp, shared with the CPU.
// The device API queues work on the caller's stream; scratch memory is stream-ordered.
#include "internal.hpp"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace cxrmt {
namespace cuda {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define CXRMT_CUDA(expr) check((expr), #expr)

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Taps tables on the device, freed in stream order.
struct device_taps {
  int* start = nullptr;
  int* idx = nullptr;
  float* w = nullptr;
  cudaStream_t stream;
  device_taps(const detail::taps& t, cudaStream_t s) : stream(s) {
    CXRMT_CUDA(cudaMallocAsync(&start, t.start.size() * sizeof(int), s));
    CXRMT_CUDA(cudaMallocAsync(&idx, (t.idx.size() + 1) * sizeof(int), s));
    CXRMT_CUDA(cudaMallocAsync(&w, (t.w.size() + 1) * sizeof(float), s));
    CXRMT_CUDA(cudaMemcpyAsync(start, t.start.data(), t.start.size() * sizeof(int), cudaMemcpyHostToDevice, s));
    CXRMT_CUDA(cudaMemcpyAsync(idx, t.idx.data(), t.idx.size() * sizeof(int), cudaMemcpyHostToDevice, s));
    CXRMT_CUDA(cudaMemcpyAsync(w, t.w.data(), t.w.size() * sizeof(float), cudaMemcpyHostToDevice, s));
  }
  ~device_taps() {
    cudaFreeAsync(start, stream);
    cudaFreeAsync(idx, stream);
    cudaFreeAsync(w, stream);
  }
  device_taps(const device_taps&) = delete;
  device_taps& operator=(const device_taps&) = delete;
};

struct pixel_source {
  const void* data;
  dtype type;
  std::ptrdiff_t stride;
  float lo, inv;
  bool invert;
  __device__ float signed_value(int y, int x) const {
    std::ptrdiff_t i = y * stride + x;
    float v = type == dtype::u8 ? static_cast<const uint8_t*>(data)[i]
            : type == dtype::u16 ? static_cast<const uint16_t*>(data)[i]
                                 : static_cast<const float*>(data)[i];
    return px::to_signed(px::unit(v, lo, inv, invert));
  }
};

pixel_source source_of(const image_view& im, const frame& f) {
  return {im.data, im.type, im.row_stride, f.window_lo, 1.0f / (f.window_hi - f.window_lo), f.invert};
}

dim3 grid_for(int w, int h, dim3 block) { return dim3((w + block.x - 1) / block.x, (h + block.y - 1) / block.y); }
const dim3 kBlock(32, 8);

__global__ void preprocess_kernel(pixel_source src, int s, const int* ys, const int* yi, const float* yw, const int* xs,
                                  const int* xi, const float* xw, float pad, bool nhwc, float* out) {
  int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y * blockDim.y + threadIdx.y;
  if (i >= s || j >= s) return;
  float acc = 0.0f;
  for (int ky = ys[i]; ky < ys[i + 1]; ++ky) {
    float row = 0.0f;
    for (int kx = xs[j]; kx < xs[j + 1]; ++kx)
      row += xw[kx] * ((yi[ky] < 0 || xi[kx] < 0) ? pad : src.signed_value(yi[ky], xi[kx]));
    acc += yw[ky] * row;
  }
  std::size_t p = static_cast<std::size_t>(i) * s + j, plane = static_cast<std::size_t>(s) * s;
  if (nhwc) { out[3 * p] = acc; out[3 * p + 1] = acc; out[3 * p + 2] = acc; }
  else { out[p] = acc; out[plane + p] = acc; out[2 * plane + p] = acc; }
}

struct output_source {
  const void* data;
  bool half, nhwc;
  int s, c;
  __device__ float at(int ch, std::size_t i) const {
    std::size_t j = nhwc ? i * c + ch : ch * static_cast<std::size_t>(s) * s + i;
    return half ? px::half_to_float(static_cast<const uint16_t*>(data)[j]) : static_cast<const float*>(data)[j];
  }
};

__global__ void decode_seg_kernel(output_source o, frame f, uint8_t* masks, uint8_t* labels) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (y >= f.height || x >= f.width) return;
  std::size_t i = static_cast<std::size_t>(px::nearest_source(y + f.pad_top, f.size, f.side())) * f.size +
                  px::nearest_source(x + f.pad_left, f.size, f.side());
  float hv = o.at(0, i), lv = o.at(1, i), rv = o.at(2, i);
  std::size_t p = static_cast<std::size_t>(y) * f.width + x, full = static_cast<std::size_t>(f.height) * f.width;
  if (masks) { masks[p] = hv > 0.0f; masks[full + p] = lv > 0.0f; masks[2 * full + p] = rv > 0.0f; }
  if (labels) labels[p] = px::label_of(hv, lv, rv);
}

__global__ void bone_plane_kernel(output_source o, int c0, const float* input, bool input_nhwc, bool residual,
                                  float k, float* plane) {
  std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x, area = static_cast<std::size_t>(o.s) * o.s;
  if (i >= area) return;
  float bone = (o.at(c0, i) + o.at(c0 + 1, i) + o.at(c0 + 2, i)) * (1.0f / 3.0f);
  plane[i] = residual ? k * (input[input_nhwc ? 3 * i : i] - bone) : bone;
}

template <typename T>
__global__ void bone_kernel(const float* plane, int s, int h, int w, const int* ys, const int* yi, const float* yw,
                            const int* xs, const int* xi, const float* xw, bool residual, pixel_source src,
                            float max_value, T* out) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (y >= h || x >= w) return;
  float up = 0.0f;
  for (int ky = ys[y]; ky < ys[y + 1]; ++ky) {
    float row = 0.0f;
    for (int kx = xs[x]; kx < xs[x + 1]; ++kx) row += xw[kx] * plane[static_cast<std::size_t>(yi[ky]) * s + xi[kx]];
    up += yw[ky] * row;
  }
  float v = residual ? src.signed_value(y, x) - up : up;
  out[static_cast<std::size_t>(y) * w + x] = static_cast<T>(px::quantise(v, max_value));
}

struct seg_source {
  const uint8_t* data;
  bool masks;
  int h, w;
  __device__ uint8_t flags(int y, int x) const {
    std::size_t i = static_cast<std::size_t>(y) * w + x, n = static_cast<std::size_t>(h) * w;
    if (!masks) return px::flag_of_label(data[i]);
    return static_cast<uint8_t>((data[i] ? px::kHeart : 0) | (data[n + i] ? px::kLeftLung : 0) |
                                (data[2 * n + i] ? px::kRightLung : 0));
  }
};

struct palette_t { uint8_t v[12]; };

__global__ void colourise_kernel(seg_source seg, palette_t pal, uint8_t* rgb) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (y >= seg.h || x >= seg.w) return;
  px::flags_colour(seg.flags(y, x), pal.v, rgb + 3 * (static_cast<std::size_t>(y) * seg.w + x));
}

struct overlay_params {
  frame f;
  detail::grid_map g;
  int alpha, radius;
  bool linear, outline;
  palette_t pal;
};

__device__ uint8_t full_flags(const seg_source& seg, const overlay_params& p, int y, int x) {
  int sy = px::nearest_source(y + p.g.pad_y, seg.h, p.g.n_pad_y);
  int sx = px::nearest_source(x + p.g.pad_x, seg.w, p.g.n_pad_x);
  return seg.flags(sy, sx);
}

__global__ void overlay_kernel(pixel_source src, seg_source seg, overlay_params p, uint8_t* rgb) {
  int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (y >= p.f.height || x >= p.f.width) return;
  float grey = (src.signed_value(y, x) + 1.0f) * 127.5f;
  float acc[4] = {0, 0, 0, 0};
  if (p.outline || !p.linear) {
    uint8_t fl = full_flags(seg, p, y, x);
    if (p.outline) {
      uint8_t er = 0x7;
      for (int dy = -p.radius; dy <= p.radius; ++dy)
        for (int dx = -p.radius; dx <= p.radius; ++dx) {
          int yy = y + dy, xx = x + dx;
          er &= (yy >= 0 && yy < p.f.height && xx >= 0 && xx < p.f.width) ? full_flags(seg, p, yy, xx) : 0;
        }
      fl &= static_cast<uint8_t>(~er);
    }
    float keep, add[3];
    px::blend_coeffs(fl, p.pal.v, p.alpha, &keep, add);
    std::size_t i = 3 * (static_cast<std::size_t>(y) * p.f.width + x);
    for (int k = 0; k < 3; ++k) rgb[i + k] = px::apply_blend(grey, keep, add[k]);
    return;
  } else {
    int y0, x0;
    float fy, fx;
    px::bilinear_source(y + p.g.pad_y, seg.h, p.g.n_pad_y, &y0, &fy);
    px::bilinear_source(x + p.g.pad_x, seg.w, p.g.n_pad_x, &x0, &fx);
    for (int ky = 0; ky < 2; ++ky)
      for (int kx = 0; kx < 2; ++kx) {
        float wk = (ky ? fy : 1.0f - fy) * (kx ? fx : 1.0f - fx);
        if (wk <= 0.0f) continue;
        uint8_t fl = seg.flags(y0 + ky, x0 + kx), c[3];
        px::flags_colour(fl, p.pal.v, c);
        float a = fl ? static_cast<float>(p.alpha) : 0.0f;
        for (int k = 0; k < 3; ++k) acc[k] += wk * a * c[k];
        acc[3] += wk * a;
      }
  }
  std::size_t i = 3 * (static_cast<std::size_t>(y) * p.f.width + x);
  for (int k = 0; k < 3; ++k) rgb[i + k] = px::blend(grey, acc[k], acc[3]);
}

}  // namespace

bool available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

std::string runtime_json() {
  int runtime = 0, driver = 0, n = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  cudaError_t e = cudaGetDeviceCount(&n);
  std::string j = "{\"runtime_version\": " + std::to_string(runtime) + ", \"driver_version\": " + std::to_string(driver);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return j + ", \"usable\": false, \"reason\": \"" + cudaGetErrorString(e) + "\", \"devices\": []}";
  }
  j += ", \"usable\": " + std::string(n > 0 ? "true" : "false") + ", \"devices\": [";
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    j += std::string(i ? ", " : "") + "{\"name\": \"" + prop.name + "\", \"compute_capability\": \"" +
         std::to_string(prop.major) + "." + std::to_string(prop.minor) + "\"}";
  }
  return j + "]}";
}

frame preprocess(const image_view& image, int size, const window_options& opts, layout order, float pad_value,
                 float* out, void* stream) {
  detail::check_image(image, "image");
  detail::check_size(size);
  if (!out) detail::bad_arg("out: no destination buffer");
  if (opts.use_percentile)
    detail::bad_arg("percentile: the device path needs the window up front; resolve it on the host (resolve_window)");
  frame f = detail::make_frame(image, size, opts);
  cudaStream_t s = as_stream(stream);
  const int d = f.side();
  device_taps tx(detail::area_taps(image.width, f.pad_left, d, size), s);
  device_taps ty(detail::area_taps(image.height, f.pad_top, d, size), s);
  preprocess_kernel<<<grid_for(size, size, kBlock), kBlock, 0, s>>>(source_of(image, f), size, ty.start, ty.idx, ty.w,
                                                                     tx.start, tx.idx, tx.w, pad_value,
                                                                     order == layout::nhwc, out);
  CXRMT_CUDA(cudaGetLastError());
  return f;
}

void decode(const output_view& output, const frame& f, const decode_options& opts, const image_view* original,
            const float* model_input, layout input_order, const decode_targets& t, void* stream) {
  detail::check_output(output, opts);
  detail::check_frame(f);
  if (output.size != f.size) detail::bad_arg("output: size does not match the frame");
  const bool residual = opts.mode == bone_mode::residual;
  if (t.bone && residual && (!original || !model_input))
    detail::bad_arg("image/model_input: residual bone decoding needs the original image and the model input");
  cudaStream_t s = as_stream(stream);
  output_source o{output.data, output.type == dtype::f16, output.order == layout::nhwc, output.size, output.channels};
  if ((t.masks || t.labels) && opts.kind != task::bse)
    decode_seg_kernel<<<grid_for(f.width, f.height, kBlock), kBlock, 0, s>>>(o, f, t.masks, t.labels);
  if (t.bone && opts.kind != task::seg) {
    const std::size_t area = static_cast<std::size_t>(f.size) * f.size;
    float* plane = nullptr;
    CXRMT_CUDA(cudaMallocAsync(&plane, area * sizeof(float), s));
    float k = 1.0f;
    const frame fb = detail::bone_frame(f, opts, &k);  // the window the bone image is written in
    bone_plane_kernel<<<static_cast<unsigned>((area + 255) / 256), 256, 0, s>>>(
        o, opts.kind == task::mt ? 3 : 0, model_input, input_order == layout::nhwc, residual, k, plane);
    const int d = f.side();
    bool bl = opts.filter == resample::bilinear;
    device_taps tx(bl ? detail::bilinear_taps(f.size, d, f.pad_left, f.width) : detail::area_taps_to_original(f.size, d, f.pad_left, f.width), s);
    device_taps ty(bl ? detail::bilinear_taps(f.size, d, f.pad_top, f.height) : detail::area_taps_to_original(f.size, d, f.pad_top, f.height), s);
    pixel_source src = residual ? source_of(*original, fb) : pixel_source{};
    dim3 g = grid_for(f.width, f.height, kBlock);
    if (opts.bone_type == dtype::u8)
      bone_kernel<uint8_t><<<g, kBlock, 0, s>>>(plane, f.size, f.height, f.width, ty.start, ty.idx, ty.w, tx.start,
                                                 tx.idx, tx.w, residual, src, 255.0f, static_cast<uint8_t*>(t.bone));
    else
      bone_kernel<uint16_t><<<g, kBlock, 0, s>>>(plane, f.size, f.height, f.width, ty.start, ty.idx, ty.w, tx.start,
                                                  tx.idx, tx.w, residual, src, 65535.0f, static_cast<uint16_t*>(t.bone));
    CXRMT_CUDA(cudaFreeAsync(plane, s));
  }
  CXRMT_CUDA(cudaGetLastError());
}

void colourise(const seg_view& seg, const uint8_t* palette, uint8_t* rgb, void* stream) {
  if (!seg.data || seg.height <= 0 || seg.width <= 0) detail::bad_arg("seg: empty");
  palette_t pal;
  for (int i = 0; i < 12; ++i) pal.v[i] = palette[i];
  colourise_kernel<<<grid_for(seg.width, seg.height, kBlock), kBlock, 0, as_stream(stream)>>>(
      seg_source{seg.data, seg.masks, seg.height, seg.width}, pal, rgb);
  CXRMT_CUDA(cudaGetLastError());
}

void overlay(const image_view& original, const frame& f, const seg_view& seg, const overlay_options& o, uint8_t* rgb,
             void* stream) {
  detail::check_image(original, "image");
  detail::check_frame(f);
  detail::check_overlay_options(o);
  detail::check_seg(seg, f, seg.masks ? "masks" : "labels");
  overlay_params p{f, detail::seg_grid(seg, f), o.alpha, o.thickness, o.filter == sampling::linear,
                   o.mode == overlay_mode::outline, {}};
  for (int i = 0; i < 12; ++i) p.pal.v[i] = o.palette[i];
  overlay_kernel<<<grid_for(f.width, f.height, kBlock), kBlock, 0, as_stream(stream)>>>(
      source_of(original, f), seg_source{seg.data, seg.masks, seg.height, seg.width}, p, rgb);
  CXRMT_CUDA(cudaGetLastError());
}

// ---- host-memory twins -------------------------------------------------------------------

namespace {

// A device copy of a host buffer (or an output buffer), tied to one stream.
struct buffer {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  cudaStream_t s;
  buffer(std::size_t n, cudaStream_t stream, const void* host = nullptr) : bytes(n), s(stream) {
    CXRMT_CUDA(cudaMallocAsync(&ptr, n ? n : 1, s));
    if (host && n) CXRMT_CUDA(cudaMemcpyAsync(ptr, host, n, cudaMemcpyHostToDevice, s));
  }
  void to_host(void* host) const { if (host && bytes) CXRMT_CUDA(cudaMemcpyAsync(host, ptr, bytes, cudaMemcpyDeviceToHost, s)); }
  ~buffer() { cudaFreeAsync(ptr, s); }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
};

struct private_stream {
  cudaStream_t s = nullptr;
  private_stream() { CXRMT_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~private_stream() { cudaStreamDestroy(s); }
  void sync() const { CXRMT_CUDA(cudaStreamSynchronize(s)); }
};

std::size_t image_bytes(const image_view& im) {
  return static_cast<std::size_t>(im.height) * im.row_stride * detail::dtype_size(im.type);
}

image_view on_device(const image_view& im, const buffer& b) {
  image_view v = im;
  v.data = b.ptr;
  return v;
}

}  // namespace

frame preprocess_host(const image_view& image, int size, const window_options& opts, layout order, float pad_value,
                      float* out) {
  detail::check_image(image, "image");
  detail::check_values(image, opts);
  window_options resolved = opts;
  if (opts.use_percentile) {  // the window needs the pixels: resolve it here, as the CPU does
    resolved.use_percentile = false;
    resolved.has_window = true;
    window_options measure = opts;
    if (measure.field && !measure.field_size) measure.field_size = size;  // as the CPU path
    resolve_window(image, measure, &resolved.lo, &resolved.hi);
  }
  private_stream ps;
  frame f;
  {
    buffer in(image_bytes(image), ps.s, image.data), dst(3 * static_cast<std::size_t>(size) * size * sizeof(float), ps.s);
    f = preprocess(on_device(image, in), size, resolved, order, pad_value, static_cast<float*>(dst.ptr), ps.s);
    dst.to_host(out);
  }
  ps.sync();
  f.invert = opts.invert;
  return f;
}

void decode_host(const output_view& output, const frame& f, const decode_options& opts, const image_view* original,
                 const float* model_input, layout input_order, const decode_targets& t) {
  detail::check_output(output, opts);
  detail::check_frame(f);
  detail::planes(output, 0, output.channels);  // the value check the device path skips
  private_stream ps;
  {
    const std::size_t full = static_cast<std::size_t>(f.height) * f.width, area = static_cast<std::size_t>(f.size) * f.size;
    buffer out_d(area * output.channels * detail::dtype_size(output.type), ps.s, output.data);
    output_view od = output;
    od.data = out_d.ptr;
    buffer orig_d(original ? image_bytes(*original) : 0, ps.s, original ? original->data : nullptr);
    image_view ov = original ? on_device(*original, orig_d) : image_view{};
    buffer in_d(model_input ? 3 * area * sizeof(float) : 0, ps.s, model_input);
    buffer masks_d(t.masks ? 3 * full : 0, ps.s), labels_d(t.labels ? full : 0, ps.s),
        bone_d(t.bone ? full * detail::dtype_size(opts.bone_type) : 0, ps.s);
    decode_targets td{t.masks ? static_cast<uint8_t*>(masks_d.ptr) : nullptr,
                      t.labels ? static_cast<uint8_t*>(labels_d.ptr) : nullptr, t.bone ? bone_d.ptr : nullptr};
    decode(od, f, opts, original ? &ov : nullptr, model_input ? static_cast<float*>(in_d.ptr) : nullptr, input_order, td, ps.s);
    masks_d.to_host(t.masks);
    labels_d.to_host(t.labels);
    bone_d.to_host(t.bone);
  }
  ps.sync();
}

void colourise_host(const seg_view& seg, const uint8_t* palette, uint8_t* rgb) {
  const std::size_t n = static_cast<std::size_t>(seg.height) * seg.width;
  private_stream ps;
  {
    buffer in(n * (seg.masks ? 3 : 1), ps.s, seg.data), out(3 * n, ps.s);
    seg_view sv = seg;
    sv.data = static_cast<const uint8_t*>(in.ptr);
    colourise(sv, palette, static_cast<uint8_t*>(out.ptr), ps.s);
    out.to_host(rgb);
  }
  ps.sync();
}

void overlay_host(const image_view& original, const frame& f, const seg_view& seg, const overlay_options& o, uint8_t* rgb) {
  detail::check_image(original, "image");
  detail::check_values(original, window_options{});
  private_stream ps;
  {
    const std::size_t n = static_cast<std::size_t>(seg.height) * seg.width;
    buffer img(image_bytes(original), ps.s, original.data), sd(n * (seg.masks ? 3 : 1), ps.s, seg.data),
        out(3 * static_cast<std::size_t>(f.height) * f.width, ps.s);
    seg_view sv = seg;
    sv.data = static_cast<const uint8_t*>(sd.ptr);
    overlay(on_device(original, img), f, sv, o, static_cast<uint8_t*>(out.ptr), ps.s);
    out.to_host(rgb);
  }
  ps.sync();
}

}  // namespace cuda
}  // namespace cxrmt
