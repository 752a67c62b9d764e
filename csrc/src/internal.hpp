// Host-side helpers shared by the CPU kernels, the CUDA launchers and the bindings.
#pragma once
#include <cxrmt/core.hpp>
#include <cxrmt/pixel.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// Hot loops get a clone per instruction set, picked at load time (AVX-512, AVX2, baseline). The
// build turns FMA contraction off, so every clone rounds each product as the baseline does.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CXRMT_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CXRMT_CLONES
#endif

namespace cxrmt {
namespace detail {

[[noreturn]] inline void bad_arg(const std::string& msg) { throw std::invalid_argument(msg); }

std::size_t dtype_size(dtype t);
const char* dtype_name(dtype t);

// Checks shared by CPU and CUDA paths; each throws std::invalid_argument naming the argument.
void check_image(const image_view& image, const char* name);
void check_size(int size);
void check_window_options(const image_view& image, const window_options& opts);
void check_output(const output_view& output, const decode_options& opts);
void check_frame(const frame& f);

// The frame whose window the bone image is written in (decode_options::bone_lo/hi, else f's),
// and the factor that turns network units into that window's signed units.
frame bone_frame(const frame& f, const decode_options& opts, float* scale);
void check_seg(const seg_view& seg, const frame& f, const char* name);
void check_overlay_options(const overlay_options& opts);

// Window that needs no pixel data: explicit, or the full range of the dtype / bits_stored.
void static_window(const image_view& image, const window_options& opts, float* lo, float* hi);

// Value scan: NaN/inf in float images and values above bits_stored are errors.
void check_values(const image_view& image, const window_options& opts);

// Separable resampling weights: destination i reads sources idx[start[i] .. start[i+1]) with
// weights w. Source indices are in the source's own coordinates; -1 marks padding.
struct taps {
  std::vector<int> start, idx;
  std::vector<float> w;
  int max_taps() const;
};

// Area-overlap weights from a padded axis (n_pad = n + pad_before + pad_after) to n_dst.
taps area_taps(int n_src, int pad_before, int n_pad, int n_dst);
// Destination pixels 0..n_dst-1 of an unpadded axis that sits at offset pad_before inside a
// padded axis of n_pad pixels, sampled from an n_src grid that covers the padded axis.
taps bilinear_taps(int n_src, int n_pad, int pad_before, int n_dst);
taps area_taps_to_original(int n_src, int n_pad, int pad_before, int n_dst);
// Nearest source for each destination pixel (same geometry as bilinear_taps).
std::vector<int> nearest_map(int n_src, int n_pad, int pad_before, int n_dst);

// Geometry of a segmentation grid relative to the original image: a model-size grid covers
// the padded square; an original-size grid maps 1:1.
struct grid_map {
  int n_pad_y, pad_y, n_pad_x, pad_x;
};
grid_map seg_grid(const seg_view& seg, const frame& f);

// Runs fn(begin, end) over [0, n) on up to hardware_concurrency threads when n * cost is large.
void parallel_for(int n, long long work_per_item, const std::function<void(int, int)>& fn);

// Frame of an image: centred square padding and the resolved window.
frame make_frame(const image_view& image, int size, const window_options& opts);

// One image row in the frame's window, as model-range values in [-1, 1] (dst has width floats).
void signed_row(const image_view& im, const frame& f, int y, float* dst);

// Copies dst row y from dst row y - 1 when both map to the same source row, else fills it with
// fill(y): upscaling repeats rows, so most rows are copies.
template <typename T, typename F>
void expand_rows(const std::vector<int>& src_row, int w, T* dst, int b, int e, F fill) {
  for (int y = b; y < e; ++y) {
    T* row = dst + static_cast<std::size_t>(y) * w;
    if (y > b && src_row[y] == src_row[y - 1]) std::copy(row - w, row, row);
    else fill(y, row);
  }
}

// Planar float copy of model output channels [c0, c0 + n): n x S x S.
std::vector<float> planes(const output_view& output, int c0, int n);

}  // namespace detail
}  // namespace cxrmt
