// cxrmt-infer: `cxrmt infer` for one PNG without Python, over the C pipeline (cxrmt.hpp).
//
//   cxrmt-infer IMAGE.png OUT_PREFIX --model M.onnx [--library libonnxruntime.so.1]
//               [--window LO HI | --percentile P_LO P_HI | --full-range | --auto-window]
//               [--clean] [--alpha 0-255] [--threads N] [--labels]
//
// Reads an 8- or 16-bit grey PNG (libpng) and writes what `cxrmt infer` (same options) writes for it:
// OUT_PREFIX_bse.png (the input's bit depth), _seg.png, _overlay.png (RGB), with --labels
// _labels.png, and OUT_PREFIX.json (window, timings, organ areas and extents, cardiothoracic ratio).
#include <png.h>

#include <cxrmt/cxrmt.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <future>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct grey_image {
  int height = 0, width = 0, depth = 8;
  std::vector<uint8_t> bytes;  // rows of uint8 or native-endian uint16
};

struct file {
  explicit file(const std::string& path, const char* mode) : f(std::fopen(path.c_str(), mode)) {
    if (!f) throw std::runtime_error(path + ": cannot open");
  }
  ~file() { std::fclose(f); }
  FILE* f;
};

[[noreturn]] void png_fail(png_structp png, png_const_charp msg) {
  throw std::runtime_error(std::string(static_cast<const char*>(png_get_error_ptr(png))) + ": " + msg);
}

grey_image read_png(const std::string& path) {
  file in(path, "rb");
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, const_cast<char*>(path.c_str()), png_fail, nullptr);
  png_infop info = png_create_info_struct(png);
  grey_image im;
  try {
    png_init_io(png, in.f);
    png_read_info(png, info);
    const int type = png_get_color_type(png, info);
    im.depth = png_get_bit_depth(png, info) == 16 ? 16 : 8;
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && im.depth == 8) png_set_expand_gray_1_2_4_to_8(png);
    if (type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (type & PNG_COLOR_MASK_COLOR || type == PNG_COLOR_TYPE_PALETTE) png_set_rgb_to_gray_fixed(png, 1, -1, -1);
    if (im.depth == 16) png_set_swap(png);  // PNG is big-endian; cxrmt takes native uint16
    png_read_update_info(png, info);
    im.height = static_cast<int>(png_get_image_height(png, info));
    im.width = static_cast<int>(png_get_image_width(png, info));
    const std::size_t row = png_get_rowbytes(png, info);
    im.bytes.resize(row * im.height);
    std::vector<png_bytep> rows(im.height);
    for (int y = 0; y < im.height; ++y) rows[y] = im.bytes.data() + y * row;
    png_read_image(png, rows.data());
    if (png_get_rgb_to_gray_status(png))
      throw std::runtime_error(path + ": colour image; cxrmt-infer reads grey radiographs");
  } catch (...) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw;
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return im;
}

// channels 1 (grey, 8 or 16 bits) or 3 (RGB, 8 bits).
void write_png(const std::string& path, const uint8_t* data, int height, int width, int channels, int depth) {
  file out(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, const_cast<char*>(path.c_str()), png_fail, nullptr);
  png_infop info = png_create_info_struct(png);
  try {
    png_init_io(png, out.f);
    png_set_IHDR(png, info, width, height, depth, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    // zlib level 1 and the Up filter on every row, as cxrmt.io.png: libpng's default adaptive
    // choice among five filters costs more than it saves on radiographs.
    png_set_compression_level(png, 1);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
    png_write_info(png, info);
    if (depth == 16) png_set_swap(png);
    const std::size_t row = static_cast<std::size_t>(width) * channels * (depth / 8);
    for (int y = 0; y < height; ++y) png_write_row(png, const_cast<uint8_t*>(data) + y * row);
    png_write_end(png, nullptr);
  } catch (...) {
    png_destroy_write_struct(&png, &info);
    throw;
  }
  png_destroy_write_struct(&png, &info);
}

bool number(const char* text, float* v) {
  char* end = nullptr;
  *v = std::strtof(text, &end);
  return end != text && *end == '\0';
}

std::string json_text(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void write_json(const std::string& path, const std::string& image, const grey_image& im, const std::string& model,
                const cxrmt_model_info& info, const cxrmt::Result& r, double read_ms, double write_ms,
                const std::string& prefix, bool labels) {
  static const char* const organs[] = {"heart", "left_lung", "right_lung"};
  file out(path, "w");
  FILE* f = out.f;
  const cxrmt_timings& t = r.timings;
  std::fprintf(f, "{\n  \"cxrmt\": \"%s\",\n", cxrmt_version());
  std::fprintf(f, "  \"input\": {\"path\": %s, \"height\": %d, \"width\": %d, \"dtype\": \"%s\", "
               "\"spacing_mm\": null},\n",
               json_text(image).c_str(), im.height, im.width, im.depth == 16 ? "uint16" : "uint8");
  std::fprintf(f, "  \"model\": {\"path\": %s, \"size\": %d, \"task\": \"%s\", \"precision\": \"%s\", "
               "\"backend\": \"%s\", \"window\": \"%s\"},\n", json_text(model).c_str(), info.size,
               info.task == CXRMT_TASK_MT ? "mt" : info.task == CXRMT_TASK_SEG ? "seg" : "bse", info.precision,
               info.backend, info.window);
  std::fprintf(f, "  \"window\": {\"lo\": %.9g, \"hi\": %.9g},\n", r.frame.window_lo, r.frame.window_hi);
  std::fprintf(f, "  \"timings_ms\": {\"read\": %.2f, \"preprocess\": %.2f, \"inference\": %.2f, \"decode\": %.2f, "
               "\"write\": %.2f, \"total\": %.2f},\n", read_ms, t.preprocess_ms, t.inference_ms, t.decode_ms,
               write_ms, read_ms + t.total_ms + write_ms);
  const std::string base = prefix.substr(prefix.find_last_of('/') + 1);
  std::fprintf(f, "  \"outputs\": {\"bse\": \"%s_bse.png\", \"seg\": \"%s_seg.png\", "
               "\"overlay\": \"%s_overlay.png\"%s, "
               "\"json\": \"%s.json\"}", base.c_str(), base.c_str(), base.c_str(),
               labels ? (", \"labels\": \"" + base + "_labels.png\"").c_str() : "", base.c_str());
  if (info.task != CXRMT_TASK_BSE) {
    std::fprintf(f, ",\n  \"organs\": {");
    for (int i = 0; i < 3; ++i) {
      const cxrmt_organ_measures& o = r.measurements.organs[i];
      std::fprintf(f, "%s\"%s\": {\"area_px\": %lld, \"height_px\": %d, \"width_px\": %d}", i ? ", " : "", organs[i],
                   static_cast<long long>(o.area_px), o.height_px, o.width_px);
    }
    std::fprintf(f, "},\n  \"cardiothoracic_ratio\": ");
    if (r.measurements.has_ctr) std::fprintf(f, "%.4f", r.measurements.cardiothoracic_ratio);
    else std::fprintf(f, "null");
  }
  std::fprintf(f, "\n}\n");
}

int usage() {
  std::cerr << "usage: cxrmt-infer IMAGE.png OUT_PREFIX --model M.onnx [--library LIBORT] "
               "[--window LO HI | --percentile P_LO P_HI | --full-range | --auto-window] [--clean] [--alpha 0-255] "
               "[--threads N] [--labels]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string image = argv[1], prefix = argv[2];
  std::string model = std::getenv("CXRMT_MODEL") ? std::getenv("CXRMT_MODEL") : "";
  std::string library;
  cxrmt_pipeline_options po = cxrmt::pipeline_options();
  cxrmt_run_options ro = cxrmt::run_options();
  bool labels = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--model" && has_value) model = argv[++i];
    else if (a == "--library" && has_value) library = argv[++i];
    else if (a == "--threads" && has_value) po.threads = std::atoi(argv[++i]);
    else if (a == "--clean") ro.clean = 1;
    else if (a == "--labels") labels = true;
    else if (a == "--alpha" && has_value) ro.overlay.alpha = std::atoi(argv[++i]);
    else if (a == "--full-range") ro.window = CXRMT_WINDOW_FULL;
    else if (a == "--auto-window") ro.window = CXRMT_WINDOW_AUTO;
    else if ((a == "--window" || a == "--percentile") && i + 2 < argc) {
      const bool fixed = a == "--window";
      float* lo = fixed ? &ro.window_lo : &ro.p_lo;
      float* hi = fixed ? &ro.window_hi : &ro.p_hi;
      if (!number(argv[i + 1], lo) || !number(argv[i + 2], hi)) return usage();
      ro.window = fixed ? CXRMT_WINDOW_EXPLICIT : CXRMT_WINDOW_PERCENTILE;
      i += 2;
    } else return usage();
  }
  if (model.empty()) {
    std::cerr << "cxrmt-infer: give --model (or set CXRMT_MODEL)\n";
    return 2;
  }
  if (!library.empty()) po.library = library.c_str();
  try {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    const grey_image im = read_png(image);
    const double read_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    ro.white = im.depth == 16 ? 65535.0f : 255.0f;  // cxrmt.io's raster white
    cxrmt::Pipeline pipeline(model, po);
    const cxrmt_model_info info = pipeline.info();
    const cxrmt_image view{im.bytes.data(), im.depth == 16 ? CXRMT_U16 : CXRMT_U8, im.height, im.width, 0};
    cxrmt::Wanted want;
    want.masks = false;
    const cxrmt::Result r = pipeline.run(view, ro, want);
    t0 = clock::now();
    // One thread per file: deflate is nearly all of the write time.
    std::vector<std::future<void>> writes;
    auto write = [&](std::string suffix, const uint8_t* data, int channels, int depth) {
      writes.push_back(std::async(std::launch::async, write_png, prefix + suffix, data, r.height, r.width,
                                  channels, depth));
    };
    if (!r.bone.empty()) write("_bse.png", r.bone.data(), 1, r.bone_dtype == CXRMT_U16 ? 16 : 8);
    if (!r.segmentation.empty()) write("_seg.png", r.segmentation.data(), 3, 8);
    if (!r.overlay.empty()) write("_overlay.png", r.overlay.data(), 3, 8);
    if (labels && !r.labels.empty()) write("_labels.png", r.labels.data(), 1, 8);
    for (auto& w : writes) w.wait();
    for (auto& w : writes) w.get();   // the first failure, after every thread has finished
    const double write_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    write_json(prefix + ".json", image, im, model, info, r, read_ms, write_ms, prefix, labels);
  } catch (const std::exception& e) {
    std::cerr << "cxrmt-infer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
