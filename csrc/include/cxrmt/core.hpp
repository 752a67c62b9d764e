// C++ API of the cxrmt kernels. Errors are exceptions: std::invalid_argument for bad input
// (the message names the argument), std::runtime_error for everything else.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include <cxrmt/pixel.hpp>

// libcxrmt is built with hidden visibility: only the C API and these declarations are exported.
#if defined(_WIN32)
#  define CXRMT_CPP_API
#else
#  define CXRMT_CPP_API __attribute__((visibility("default")))
#endif

namespace cxrmt {

enum class dtype { u8, u16, f32, f16 };
enum class layout { nhwc, nchw };
enum class task { mt, seg, bse };              // 6 channels, first 3, last 3
enum class bone_mode { residual, resize };     // how the bone image returns to full size
enum class resample { bilinear, area };
enum class sampling { point, linear };         // overlay filtering, as segNet
enum class overlay_mode { fill, outline };

// A read-only 2-D grey image; row_stride in elements.
struct image_view {
  const void* data = nullptr;
  dtype type = dtype::u8;
  int height = 0, width = 0;
  std::ptrdiff_t row_stride = 0;
};

// How raw values become [0, 1]. Default window: the full range of the dtype (or of bits_stored);
// [0, 1] for float32. A percentile window replaces it when use_percentile is set; with `field`
// the percentiles are taken over the radiograph's field only (see resolve_window).
struct window_options {
  int bits_stored = 0;  // 0: all bits of the dtype
  bool invert = false;
  bool has_window = false;
  float lo = 0.0f, hi = 0.0f;
  bool use_percentile = false;
  float p_lo = 0.5f, p_hi = 99.5f;
  bool field = false;
  int field_size = 0;  // field window measured on the image area-reduced to this S x S grid
                       // (preprocess sets it to the model size); 0: at the image's resolution
};

// The field of a radiograph for the robust window: the image without a margin of this fraction
// of its height and width on every side (collimation edges, burnt-in labels, detector borders).
constexpr float kFieldMargin = 0.05f;

// Everything needed to map model space back to the original image.
struct frame {
  int height = 0, width = 0, size = 0;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  float window_lo = 0.0f, window_hi = 1.0f;
  bool invert = false;
  CXRMT_HD int side() const { return height > width ? height : width; }  // padded square side
};

// The model's output tensor (1 x S x S x C or 1 x C x S x S), float32 or float16.
struct output_view {
  const void* data = nullptr;
  dtype type = dtype::f32;
  int size = 0, channels = 0;
  layout order = layout::nhwc;
};

struct decode_options {
  task kind = task::mt;
  bone_mode mode = bone_mode::residual;
  resample filter = resample::bilinear;
  dtype bone_type = dtype::u8;  // u8 or u16
  // Residual mode: the window (raw units) the bone image is written in, so that it keeps the
  // input's own scale whatever window fed the network (pass the full range). lo == hi: the
  // frame's window.
  float bone_lo = 0.0f, bone_hi = 0.0f;
};

struct decode_targets {
  std::uint8_t* masks = nullptr;   // 3 x H x W, 0/1, channel order heart, left lung, right lung
  std::uint8_t* labels = nullptr;  // H x W, 0 bg, 1 right lung, 2 left lung, 3 heart
  void* bone = nullptr;            // H x W, uint8 or uint16 (bone_type)
};

// Segmentation to draw: a label map (H x W) or masks (3 x H x W), at model or original size.
struct seg_view {
  const std::uint8_t* data = nullptr;
  bool masks = false;
  int height = 0, width = 0;
};

struct overlay_options {
  int alpha = 128;
  sampling filter = sampling::point;
  overlay_mode mode = overlay_mode::fill;
  int thickness = 1;  // outline half-width in output pixels
  std::uint8_t palette[12] = {0, 0, 0, 0, 0, 255, 0, 255, 0, 255, 0, 0};  // label order, RGB
};

// Resolve the intensity window of an image (explicit, percentile or default range). A field
// percentile window ignores the margin (kFieldMargin) and every pixel equal to the field's
// minimum or maximum (padding, saturated borders, burnt-in white text), unless those are all
// there is. With field_size S it is measured on the image area-reduced to the model's S x S grid
// (the cells fully inside the image), as training measures it on its S x S images.
CXRMT_CPP_API void resolve_window(const image_view& image, const window_options& opts, float* lo, float* hi);

// Image -> S x S x 3 in [-1, 1]; returns the frame that maps results back.
CXRMT_CPP_API frame preprocess(const image_view& image, int size, const window_options& opts, layout order,
                 float pad_value, float* out);

// Model output -> masks, labels and bone-suppressed image at the original size.
// Residual bone mode needs the original image and the model input (as preprocess wrote it).
CXRMT_CPP_API void decode(const output_view& output, const frame& f, const decode_options& opts,
            const image_view* original, const float* model_input, layout input_order,
            const decode_targets& targets);

// Label map or masks -> RGB (H x W x 3).
CXRMT_CPP_API void colourise(const seg_view& seg, const std::uint8_t* palette, std::uint8_t* rgb);

// Segmentation alpha-blended over the original radiograph (in the frame's window) -> RGB.
CXRMT_CPP_API void overlay(const image_view& original, const frame& f, const seg_view& seg,
             const overlay_options& opts, std::uint8_t* rgb);

// Per organ: keep the largest 8-connected component, fill holes (4-connected background).
CXRMT_CPP_API void cleanup(std::uint8_t* masks, int height, int width, bool keep_largest, bool fill_holes);

// -- PNG ----------------------------------------------------------------------------------------

// The raw rows of an inflated PNG image (`height` rows, each a filter-type byte and `row_bytes`
// filtered bytes; `bpp` bytes per complete pixel, at least 1) into `out` (height * row_bytes),
// 2-byte samples in host order. std::invalid_argument names the row of an unknown filter type.
CXRMT_CPP_API void png_unfilter(const std::uint8_t* filtered, int height, std::size_t row_bytes,
                                int bpp, int sample_bytes, std::uint8_t* out);

// -- Post-processing shared by the C pipeline and the Python Predictor --------------------------

// Labels made consistent with cleaned masks (after cleanup): a pixel whose organ was removed
// turns background; a background pixel inside a (hole-filled) mask takes that organ's label,
// right lung first, then left lung, then heart.
CXRMT_CPP_API void relabel(std::uint8_t* labels, const std::uint8_t* masks, int height, int width);

// The full-range uint16 bone image (decode with bone_lo/hi = the input's full range) at the
// input's own bit depth: uint8 for 8-bit inputs (round(v / 257)); for uint16 inputs whose full
// scale `white` is below 65535 (e.g. 4095 for 12 bits), round(v * white / 65535) as uint16;
// otherwise a copy. `out` holds height * width elements of the returned dtype.
CXRMT_CPP_API dtype bone_depth(dtype input, float white);
CXRMT_CPP_API void bone_to_input_depth(const std::uint16_t* bone16, int height, int width,
                                       dtype input, float white, void* out);

// Area and extents of one organ mask (px; mm when a spacing is given), and the cardiothoracic
// ratio: the heart's horizontal extent over the lungs' (outer edge to outer edge). Extents are
// inclusive (a one-column organ is 1 px wide); 0 when the organ is absent.
struct organ_measures {
  long long area_px = 0;
  int height_px = 0, width_px = 0;
  double area_mm2 = 0.0, height_mm = 0.0, width_mm = 0.0;  // 0 without spacing
};
struct measures {
  organ_measures organs[3];   // channel order: heart, left lung, right lung
  double ctr = 0.0;           // valid when has_ctr
  bool has_ctr = false;       // false when the heart or both lungs are missing
  bool has_spacing = false;
};
// masks: 3 x H x W (0/non-0) in channel order; spacing_mm: {row, column} or null.
CXRMT_CPP_API measures measure(const std::uint8_t* masks, int height, int width,
                               const double* spacing_mm);

// Compiler, CUDA build, architectures, and whether a CUDA device is usable now (never throws).
CXRMT_CPP_API std::string build_info_json();

namespace cuda {
CXRMT_CPP_API bool available();  // a driver and at least one device
CXRMT_CPP_API std::string runtime_json();  // runtime/driver versions, devices, why unusable (never throws)
// Device-pointer API: every pointer lives in device memory; work is queued on `stream`
// (a cudaStream_t, 0 = default stream) and is complete only after the stream synchronises.
CXRMT_CPP_API frame preprocess(const image_view& image, int size, const window_options& opts, layout order,
                 float pad_value, float* out, void* stream);
CXRMT_CPP_API void decode(const output_view& output, const frame& f, const decode_options& opts,
            const image_view* original, const float* model_input, layout input_order,
            const decode_targets& targets, void* stream);
CXRMT_CPP_API void colourise(const seg_view& seg, const std::uint8_t* palette, std::uint8_t* rgb, void* stream);
CXRMT_CPP_API void overlay(const image_view& original, const frame& f, const seg_view& seg,
             const overlay_options& opts, std::uint8_t* rgb, void* stream);
}  // namespace cuda

}  // namespace cxrmt

namespace cxrmt {
namespace cuda {
// Host-memory twins of the CPU functions (same arguments): copy in, run on a private stream,
// copy out, synchronise. For tests and simple callers; pipelines should keep data on the device.
CXRMT_CPP_API frame preprocess_host(const image_view& image, int size, const window_options& opts, layout order,
                      float pad_value, float* out);
CXRMT_CPP_API void decode_host(const output_view& output, const frame& f, const decode_options& opts,
                 const image_view* original, const float* model_input, layout input_order,
                 const decode_targets& targets);
CXRMT_CPP_API void colourise_host(const seg_view& seg, const std::uint8_t* palette, std::uint8_t* rgb);
CXRMT_CPP_API void overlay_host(const image_view& original, const frame& f, const seg_view& seg,
                  const overlay_options& opts, std::uint8_t* rgb);
}  // namespace cuda
}  // namespace cxrmt
