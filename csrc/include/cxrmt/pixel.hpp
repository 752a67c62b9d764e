// Per-pixel maths shared by the CPU loops and the CUDA kernels: written once, compiled twice.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define CXRMT_HD __host__ __device__ __forceinline__
#else
#define CXRMT_HD inline
#endif

namespace cxrmt {
namespace px {

CXRMT_HD float clamp(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Window [lo, hi] -> [0, 1] (clipped), inverted on request: display polarity, bone bright.
CXRMT_HD float unit(float v, float lo, float inv_range, bool invert) {
  float t = clamp((v - lo) * inv_range, 0.0f, 1.0f);
  return invert ? 1.0f - t : t;
}

// [0, 1] -> model range [-1, 1].
CXRMT_HD float to_signed(float t) { return 2.0f * t - 1.0f; }

// [-1, 1] -> integer grey level in [0, max_value], rounded half up (a signed conversion, which
// vectorises; the value is never negative).
CXRMT_HD int quantise(float s, float max_value) {
  float t = (clamp(s, -1.0f, 1.0f) + 1.0f) * 0.5f;
  return static_cast<int>(t * max_value + 0.5f);
}

// IEEE 754 binary16 -> binary32 (exact; handles subnormals, inf and NaN).
CXRMT_HD float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise the mantissa
      int e = -1;
      do { ++e; man <<= 1; } while ((man & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 112u) << 23) | (man << 13);
  }
  union { uint32_t u; float f; } cvt;
  cvt.u = bits;
  return cvt.f;
}

// Organ bit flags, in model channel order: heart, left lung, right lung.
constexpr uint8_t kHeart = 1, kLeftLung = 2, kRightLung = 4;

// Multi-label decision: an organ is present where its channel is > 0.
CXRMT_HD uint8_t organ_flags(float heart, float left, float right) {
  return static_cast<uint8_t>((heart > 0.0f ? kHeart : 0) | (left > 0.0f ? kLeftLung : 0) |
                              (right > 0.0f ? kRightLung : 0));
}

// Single-label map: 0 background, 1 right lung, 2 left lung, 3 heart. The largest positive
// channel wins; ties go to the lower channel index (heart, then left lung), like numpy argmax.
CXRMT_HD uint8_t label_of(float heart, float left, float right) {
  float best = heart;
  uint8_t label = 3;
  if (left > best) { best = left; label = 2; }
  if (right > best) { best = right; label = 1; }
  return best > 0.0f ? label : 0;
}

// Label -> organ flag (0 for background or unknown labels).
CXRMT_HD uint8_t flag_of_label(uint8_t label) {
  return label == 3 ? kHeart : label == 2 ? kLeftLung : label == 1 ? kRightLung : 0;
}

// Colour of a set of organs: per-component maximum of their palette colours
// (palette is 4x3 in label order: background, right lung, left lung, heart).
CXRMT_HD void flags_colour(uint8_t flags, const uint8_t* palette, uint8_t* rgb) {
  for (int c = 0; c < 3; ++c) {
    uint8_t v = flags ? 0 : palette[c];
    if ((flags & kHeart) && palette[9 + c] > v) v = palette[9 + c];
    if ((flags & kLeftLung) && palette[6 + c] > v) v = palette[6 + c];
    if ((flags & kRightLung) && palette[3 + c] > v) v = palette[3 + c];
    rgb[c] = v;
  }
}

// Source position of destination pixel `dst` for pixel-centre aligned scaling
// (scale = source size / destination size), as OpenCV's INTER_LINEAR.
CXRMT_HD float centre_source(int dst, float scale) { return (static_cast<float>(dst) + 0.5f) * scale - 0.5f; }

// Bilinear source of destination pixel `dst` (an index in the padded axis of n_pad pixels) on
// an n_src grid: left neighbour s0 and weight f of s0 + 1, clamped at the borders as OpenCV does.
CXRMT_HD void bilinear_source(int dst, int n_src, int n_pad, int* s0, float* f) {
  float s = centre_source(dst, static_cast<float>(static_cast<double>(n_src) / n_pad));
  int i = static_cast<int>(s >= 0.0f ? s : s - 1.0f);  // floor for the s > -1 that occur here
  *f = s - static_cast<float>(i);
  if (i < 0) { i = 0; *f = 0.0f; }
  if (i >= n_src - 1) { i = n_src - 1; *f = 0.0f; }
  *s0 = i;
}

// Nearest source index under pixel-centre alignment, floor((dst + 0.5) * n_src / n_dst), in
// exact integer arithmetic so that ties do not depend on floating-point rounding.
CXRMT_HD int nearest_source(int dst, int n_src, int n_dst) {
  long long s = ((2LL * dst + 1) * n_src) / (2LL * n_dst);
  return s < n_src ? static_cast<int>(s) : n_src - 1;
}

// Blend of the organs `flags` over grey g: out = g * keep + add[c] (add includes the rounding 0.5).
CXRMT_HD void blend_coeffs(uint8_t flags, const uint8_t* palette, int alpha, float* keep, float* add) {
  uint8_t c[3];
  flags_colour(flags, palette, c);
  float a = flags ? static_cast<float>(alpha) : 0.0f;
  *keep = (255.0f - a) * (1.0f / 255.0f);
  for (int k = 0; k < 3; ++k) add[k] = a * c[k] * (1.0f / 255.0f) + 0.5f;
}

CXRMT_HD uint8_t apply_blend(float grey, float keep, float add) {
  return static_cast<uint8_t>(clamp(grey * keep + add, 0.0f, 255.0f));
}

// Alpha blend of a premultiplied colour (0..255*255 scale) of coverage `a` (0..255) over grey.
CXRMT_HD uint8_t blend(float grey, float premult, float a) {
  float v = (grey * (255.0f - a) + premult) * (1.0f / 255.0f);
  return static_cast<uint8_t>(clamp(v, 0.0f, 255.0f) + 0.5f);
}

}  // namespace px
}  // namespace cxrmt
