// PNG row filters reversed (PNG specification, 2nd edition, section 9), for cxrmt.io.png's
// reader: the inflate runs in Python (ISA-L), the per-byte reconstruction here, where it is a
// tight loop. 16-bit samples leave in host byte order.
#include "internal.hpp"

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

namespace cxrmt {
namespace {

using detail::bad_arg;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr bool little_endian = false;   // PNG's order is the host's
#else
constexpr bool little_endian = true;
#endif

inline std::uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<std::uint8_t>(a);
  return static_cast<std::uint8_t>(pb <= pc ? b : c);
}

// One row: `cur` = reconstruction of filtered bytes `f` (filter type `type`) given the
// reconstructed row above, `prev` (zeros above the first row).
void unfilter_row(int type, const std::uint8_t* f, const std::uint8_t* prev, std::uint8_t* cur,
                  std::size_t n, std::size_t bpp) {
  const std::size_t head = bpp < n ? bpp : n;   // bytes with no left neighbour
  switch (type) {
    case 0:
      std::memcpy(cur, f, n);
      return;
    case 1:
      std::memcpy(cur, f, head);
      for (std::size_t i = bpp; i < n; ++i) cur[i] = static_cast<std::uint8_t>(f[i] + cur[i - bpp]);
      return;
    case 2:
      for (std::size_t i = 0; i < n; ++i) cur[i] = static_cast<std::uint8_t>(f[i] + prev[i]);
      return;
    case 3:
      for (std::size_t i = 0; i < head; ++i) cur[i] = static_cast<std::uint8_t>(f[i] + (prev[i] >> 1));
      for (std::size_t i = bpp; i < n; ++i)
        cur[i] = static_cast<std::uint8_t>(f[i] + ((cur[i - bpp] + prev[i]) >> 1));
      return;
    case 4:
      for (std::size_t i = 0; i < head; ++i) cur[i] = static_cast<std::uint8_t>(f[i] + prev[i]);
      for (std::size_t i = bpp; i < n; ++i)
        cur[i] = static_cast<std::uint8_t>(f[i] + paeth(cur[i - bpp], prev[i], prev[i - bpp]));
      return;
    default:
      bad_arg("unknown filter type " + std::to_string(type));
  }
}

}  // namespace

void png_unfilter(const std::uint8_t* filtered, int height, std::size_t row_bytes, int bpp,
                  int sample_bytes, std::uint8_t* out) {
  if (!filtered || !out) bad_arg("png_unfilter: null pointer");
  if (height <= 0 || row_bytes == 0 || bpp <= 0 || (sample_bytes != 1 && sample_bytes != 2) ||
      row_bytes % static_cast<std::size_t>(sample_bytes) != 0)
    bad_arg("png_unfilter: bad geometry (" + std::to_string(height) + " rows of " +
            std::to_string(row_bytes) + " bytes, " + std::to_string(bpp) + " bytes per pixel, " +
            std::to_string(sample_bytes) + "-byte samples)");
  // Rows are rebuilt in PNG's own byte order (the next row's filters refer to it), then copied
  // out, swapped for 16-bit samples.
  std::vector<std::uint8_t> a(row_bytes, 0), b(row_bytes, 0);
  std::uint8_t *prev = a.data(), *cur = b.data();
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = filtered + static_cast<std::size_t>(y) * (row_bytes + 1);
    try {
      unfilter_row(row[0], row + 1, prev, cur, row_bytes, static_cast<std::size_t>(bpp));
    } catch (const std::invalid_argument& e) {
      bad_arg("row " + std::to_string(y) + ": " + e.what());
    }
    std::uint8_t* dst = out + static_cast<std::size_t>(y) * row_bytes;
    if (sample_bytes == 1 || !little_endian) {
      std::memcpy(dst, cur, row_bytes);
    } else {
      for (std::size_t i = 0; i < row_bytes; i += 2) {
        dst[i] = cur[i + 1];
        dst[i + 1] = cur[i];
      }
    }
    std::swap(prev, cur);
  }
}

}  // namespace cxrmt
