/* Minimal C client of the cxrmt C API: preprocess a synthetic 12-bit radiograph, decode a
 * model output, overlay the result, and show how errors are reported. Prints key=value lines.
 * Build: cc cxrmt_example.c -I<include> -L<lib> -lcxrmt -Wl,-rpath,<lib> */
#include <cxrmt/cxrmt.h>

#include <stdio.h>
#include <stdlib.h>

#define H 300
#define W 200
#define S 64

static int fail(const char* what) {
  fprintf(stderr, "%s failed: %s\n", what, cxrmt_last_error());
  return 1;
}

int main(void) {
  static uint16_t pixels[H * W];
  static float input[3 * S * S], output[S * S * 6];
  static uint8_t labels[H * W], bone[H * W], rgb[H * W * 3];
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) pixels[y * W + x] = (uint16_t)((y * 13 + x * 7) % 4096);

  cxrmt_image image = {pixels, CXRMT_U16, H, W, 0};
  cxrmt_preprocess_options pre;
  cxrmt_preprocess_options_init(&pre);
  pre.bits_stored = 12;
  cxrmt_frame frame;
  if (cxrmt_preprocess(&image, S, &pre, input, &frame) != CXRMT_OK) return fail("preprocess");

  double sum = 0.0;
  for (int i = 0; i < 3 * S * S; ++i) sum += input[i];
  printf("api_version=%d\nframe=%d %d %d %d %d %d %d\ninput_sum=%.6f\n", cxrmt_api_version(), frame.height,
         frame.width, frame.size, frame.pad_top, frame.pad_bottom, frame.pad_left, frame.pad_right, sum);

  /* A stand-in model: heart where the input is bright, unchanged bone-suppressed image. */
  for (int i = 0; i < S * S; ++i) {
    float v = input[3 * i];
    output[6 * i + 0] = v > 0.0f ? 1.0f : -1.0f;
    output[6 * i + 1] = output[6 * i + 2] = -1.0f;
    output[6 * i + 3] = output[6 * i + 4] = output[6 * i + 5] = v;
  }
  cxrmt_decode_options dec;
  cxrmt_decode_options_init(&dec);
  if (cxrmt_decode(output, &frame, &dec, &image, input, NULL, labels, bone) != CXRMT_OK) return fail("decode");
  long heart = 0, bone_sum = 0;
  for (int i = 0; i < H * W; ++i) { heart += labels[i] == 3; bone_sum += bone[i]; }
  printf("heart_pixels=%ld\nbone_sum=%ld\n", heart, bone_sum);

  cxrmt_overlay_options ov;
  cxrmt_overlay_options_init(&ov);
  if (cxrmt_overlay(&image, &frame, labels, 0, H, W, &ov, rgb) != CXRMT_OK) return fail("overlay");
  long red = 0;
  for (int i = 0; i < H * W; ++i) red += rgb[3 * i];
  printf("overlay_red_sum=%ld\n", red);

  /* Errors are status codes with a message. */
  cxrmt_status st = cxrmt_preprocess(&image, 0, &pre, input, &frame);
  printf("bad_size_status=%d\nbad_size_error=%s\n", (int)st, cxrmt_last_error());
  printf("cuda_available=%d\n", cxrmt_cuda_available());
  return st == CXRMT_ERROR_INVALID_ARGUMENT ? 0 : 1;
}
