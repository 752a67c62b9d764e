/* Bad arguments to the C pipeline: each line "case=status|message". argv[1]: an .onnx model;
 * ONNX Runtime's library from $CXRMT_ONNXRUNTIME_LIBRARY. Last, THREADS concurrent runs on one
 * pipeline against a serial one. */
#include <cxrmt/cxrmt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define H 64
#define W 48

/* One run of a 64 x 48 image on a shared pipeline, from several threads at once. */
static uint16_t shared_pixels[H * W];

typedef struct {
  const cxrmt_pipeline* p;
  uint8_t labels[H * W];
  cxrmt_status status;
} job;

static void* run_job(void* arg) {
  job* j = (job*)arg;
  cxrmt_image img = {shared_pixels, CXRMT_U16, H, W, 0};
  cxrmt_outputs out;
  memset(&out, 0, sizeof out);
  out.labels = j->labels;
  out.labels_size = sizeof j->labels;
  j->status = cxrmt_pipeline_run(j->p, &img, NULL, &out);
  return NULL;
}

static void report(const char* name, cxrmt_status s) { printf("%s=%d|%s\n", name, (int)s, cxrmt_last_error()); }

int main(int argc, char** argv) {
  cxrmt_pipeline* p = NULL;
  uint8_t pixels[16 * 12] = {0};
  uint8_t small[10];
  cxrmt_image img = {pixels, CXRMT_U8, 16, 12, 0};
  cxrmt_outputs out = {0};
  cxrmt_output_sizes sizes;
  cxrmt_model_info info;
  cxrmt_run_options ro;
  cxrmt_pipeline_options po;
  int i;
  if (argc < 2) return 2;
  for (i = 0; i < 16 * 12; ++i) pixels[i] = (uint8_t)(i * 7);
  report("create_null_out", cxrmt_pipeline_create(argv[1], NULL, NULL));
  report("create_null_path", cxrmt_pipeline_create(NULL, NULL, &p));
  report("create_missing", cxrmt_pipeline_create("/nonexistent/m.onnx", NULL, &p));
  printf("create_missing_pipeline_null=%d\n", p == NULL);
  cxrmt_pipeline_options_init(&po);
  po.device = (cxrmt_device)7;
  report("create_bad_device", cxrmt_pipeline_create(argv[1], &po, &p));
  report("create", cxrmt_pipeline_create(argv[1], NULL, &p));
  report("info_null_pipeline", cxrmt_pipeline_info(NULL, &info));
  report("info_null_info", cxrmt_pipeline_info(p, NULL));
  report("sizes_null_image", cxrmt_outputs_size(p, NULL, NULL, &sizes));
  report("sizes_null_sizes", cxrmt_outputs_size(p, &img, NULL, NULL));
  report("sizes", cxrmt_outputs_size(p, &img, NULL, &sizes));
  printf("sizes_values=%zu %zu %zu %zu %zu %d\n", sizes.masks, sizes.labels, sizes.segmentation, sizes.overlay,
         sizes.bone, (int)sizes.bone_dtype);
  report("run_null_pipeline", cxrmt_pipeline_run(NULL, &img, NULL, &out));
  report("run_null_image", cxrmt_pipeline_run(p, NULL, NULL, &out));
  report("run_null_outputs", cxrmt_pipeline_run(p, &img, NULL, NULL));
  out.masks = small; out.masks_size = sizeof small;
  report("run_small_masks", cxrmt_pipeline_run(p, &img, NULL, &out));
  out.masks = NULL; out.masks_size = 0;
  img.dtype = (cxrmt_dtype)9;
  report("run_bad_dtype", cxrmt_pipeline_run(p, &img, NULL, &out));
  img.dtype = CXRMT_U8;
  img.data = NULL;
  report("run_null_pixels", cxrmt_pipeline_run(p, &img, NULL, &out));
  img.data = pixels;
  cxrmt_run_options_init(&ro);
  ro.window = (cxrmt_window_mode)11;
  report("run_bad_window", cxrmt_pipeline_run(p, &img, &ro, &out));
  cxrmt_run_options_init(&ro);
  ro.spacing_mm[0] = -1.0; ro.spacing_mm[1] = 0.2;
  report("run_bad_spacing", cxrmt_pipeline_run(p, &img, &ro, &out));
  out.labels = malloc(sizes.labels); out.labels_size = sizes.labels;
  report("run_ok", cxrmt_pipeline_run(p, &img, NULL, &out));
  printf("run_ok_total_ms_positive=%d\n", out.timings.total_ms > 0);
  free(out.labels);
  {
    static job jobs[THREADS + 1];
    pthread_t threads[THREADS];
    int same = 1;
    for (i = 0; i < H * W; ++i) shared_pixels[i] = (uint16_t)((i % W) * 1000 + (i / W) * 300);
    jobs[THREADS].p = p;
    run_job(&jobs[THREADS]); /* serial reference */
    for (i = 0; i < THREADS; ++i) {
      jobs[i].p = p;
      pthread_create(&threads[i], NULL, run_job, &jobs[i]);
    }
    for (i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    for (i = 0; i < THREADS; ++i)
      same = same && jobs[i].status == CXRMT_OK && !memcmp(jobs[i].labels, jobs[THREADS].labels, H * W);
    printf("threads_identical=%d\n", same && jobs[THREADS].status == CXRMT_OK);
  }
  cxrmt_pipeline_destroy(p);
  cxrmt_pipeline_destroy(NULL);
  return 0;
}
