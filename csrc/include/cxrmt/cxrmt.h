/* cxrmt C API: preprocessing, decoding, colourisation and overlays of chest X-ray model I/O.
 *
 * For scanner and PACS software that cannot embed Python. Every call returns a status code;
 * on failure cxrmt_last_error() returns the message (thread-local, valid until the next call
 * on the same thread). Buffers are caller-owned, row-major and densely packed unless a stride
 * is given. Functions named *_cuda take device pointers and a cudaStream_t (as void*, NULL =
 * default stream) and only queue the work. The ABI is versioned by CXRMT_API_VERSION. */
#ifndef CXRMT_CXRMT_H
#define CXRMT_CXRMT_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(CXRMT_BUILDING)
#    define CXRMT_EXPORT __declspec(dllexport)
#  else
#    define CXRMT_EXPORT __declspec(dllimport)
#  endif
#else
#  define CXRMT_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 2: cxrmt_decode_options.bone_window_lo/hi, CXRMT_PERCENTILE_FIELD; 3: the pipeline
 * (cxrmt_pipeline_*), version 2's calls unchanged */
#define CXRMT_API_VERSION 3

typedef enum {
  CXRMT_OK = 0,
  CXRMT_ERROR_INVALID_ARGUMENT = 1, /* bad shape, dtype, window, pointer... */
  CXRMT_ERROR_UNSUPPORTED = 2,      /* e.g. a CUDA call in a build without CUDA, or a model
                                       whose runtime this build lacks */
  CXRMT_ERROR_CUDA = 3,             /* a CUDA runtime error */
  CXRMT_ERROR_INTERNAL = 4
} cxrmt_status;

typedef enum { CXRMT_U8 = 0, CXRMT_U16 = 1, CXRMT_F32 = 2, CXRMT_F16 = 3 } cxrmt_dtype;
typedef enum { CXRMT_NHWC = 0, CXRMT_NCHW = 1 } cxrmt_layout;
typedef enum { CXRMT_TASK_MT = 0, CXRMT_TASK_SEG = 1, CXRMT_TASK_BSE = 2 } cxrmt_task;
typedef enum { CXRMT_BONE_RESIDUAL = 0, CXRMT_BONE_RESIZE = 1 } cxrmt_bone_mode;
typedef enum { CXRMT_RESAMPLE_BILINEAR = 0, CXRMT_RESAMPLE_AREA = 1 } cxrmt_resample;
typedef enum { CXRMT_FILTER_POINT = 0, CXRMT_FILTER_LINEAR = 1 } cxrmt_filter;
typedef enum { CXRMT_OVERLAY_FILL = 0, CXRMT_OVERLAY_OUTLINE = 1 } cxrmt_overlay_mode;

#define CXRMT_PERCENTILE_FIELD 2

/* A grey image; row_stride in elements (0 = width). */
typedef struct {
  const void* data;
  cxrmt_dtype dtype;
  int32_t height, width;
  int64_t row_stride;
} cxrmt_image;

typedef struct {
  int32_t bits_stored;     /* 0 = all bits of the dtype */
  int32_t invert;          /* raw polarity in (bone dark) -> display polarity */
  int32_t has_window;      /* use [window_lo, window_hi] */
  float window_lo, window_hi;
  int32_t use_percentile;  /* window from percentiles [p_lo, p_hi] of the image (1) or of its
                              field (CXRMT_PERCENTILE_FIELD: cxrmt/core.hpp's robust window) */
  float p_lo, p_hi;
  cxrmt_layout layout;     /* of the model input written */
  float pad_value;         /* value of the square padding, in [-1, 1] */
} cxrmt_preprocess_options;

/* Maps model space back to the original image; filled by cxrmt_preprocess. */
typedef struct {
  int32_t height, width, size;
  int32_t pad_top, pad_bottom, pad_left, pad_right;
  float window_lo, window_hi;
  int32_t invert;
} cxrmt_frame;

typedef struct {
  cxrmt_task task;
  cxrmt_bone_mode bone_mode;
  cxrmt_resample resample;
  cxrmt_dtype bone_dtype; /* CXRMT_U8 or CXRMT_U16 */
  cxrmt_layout output_layout, input_layout;
  cxrmt_dtype output_dtype; /* CXRMT_F32 or CXRMT_F16 */
  /* Residual mode: the window (raw units) the bone image is written in; pass the input's full
   * range to get it back on the input's own scale. lo == hi (the default): the frame's window. */
  float bone_window_lo, bone_window_hi;
} cxrmt_decode_options;

typedef struct {
  int32_t alpha; /* 0..255 */
  cxrmt_filter filter;
  cxrmt_overlay_mode mode;
  int32_t thickness;   /* outline half-width, pixels */
  uint8_t palette[12]; /* RGB of background, right lung, left lung, heart */
} cxrmt_overlay_options;

CXRMT_EXPORT int cxrmt_api_version(void);
CXRMT_EXPORT const char* cxrmt_version(void);
CXRMT_EXPORT const char* cxrmt_last_error(void);
/* JSON: compiler, CUDA build, architectures, usable devices. Pointer valid until next call. */
CXRMT_EXPORT const char* cxrmt_build_info(void);

CXRMT_EXPORT void cxrmt_preprocess_options_init(cxrmt_preprocess_options* options);
CXRMT_EXPORT void cxrmt_decode_options_init(cxrmt_decode_options* options);
CXRMT_EXPORT void cxrmt_overlay_options_init(cxrmt_overlay_options* options);

/* image -> out (3*size*size floats, layout from options). */
CXRMT_EXPORT cxrmt_status cxrmt_preprocess(const cxrmt_image* image, int32_t size,
                                           const cxrmt_preprocess_options* options, float* out,
                                           cxrmt_frame* frame);
/* output (size*size*channels) -> masks (3*H*W, 0/1: heart, left lung, right lung), labels
 * (H*W: 0 bg, 1 right lung, 2 left lung, 3 heart) and bone (H*W of bone_dtype). Any target may be
 * NULL. Residual bone decoding needs `original` and `model_input` (as cxrmt_preprocess wrote it). */
CXRMT_EXPORT cxrmt_status cxrmt_decode(const void* output, const cxrmt_frame* frame,
                                       const cxrmt_decode_options* options,
                                       const cxrmt_image* original, const float* model_input,
                                       uint8_t* masks, uint8_t* labels, void* bone);
/* labels (H*W) or masks (3*H*W, when is_masks) -> rgb (H*W*3). palette NULL = default. */
CXRMT_EXPORT cxrmt_status cxrmt_colourise(const uint8_t* seg, int32_t is_masks, int32_t height,
                                          int32_t width, const uint8_t* palette, uint8_t* rgb);
/* seg at model size (size x size) or original size, blended over the original -> rgb. */
CXRMT_EXPORT cxrmt_status cxrmt_overlay(const cxrmt_image* original, const cxrmt_frame* frame,
                                        const uint8_t* seg, int32_t is_masks, int32_t seg_height,
                                        int32_t seg_width, const cxrmt_overlay_options* options,
                                        uint8_t* rgb);
/* In place on masks (3*H*W): largest 8-connected component per organ, holes filled. */
CXRMT_EXPORT cxrmt_status cxrmt_cleanup(uint8_t* masks, int32_t height, int32_t width,
                                        int32_t keep_largest, int32_t fill_holes);

/* Device twins (pointers in device memory; percentile windows are not accepted). */
CXRMT_EXPORT int cxrmt_cuda_available(void);
CXRMT_EXPORT cxrmt_status cxrmt_preprocess_cuda(const cxrmt_image* image, int32_t size,
                                                const cxrmt_preprocess_options* options,
                                                float* out, cxrmt_frame* frame, void* stream);
CXRMT_EXPORT cxrmt_status cxrmt_decode_cuda(const void* output, const cxrmt_frame* frame,
                                            const cxrmt_decode_options* options,
                                            const cxrmt_image* original, const float* model_input,
                                            uint8_t* masks, uint8_t* labels, void* bone,
                                            void* stream);
CXRMT_EXPORT cxrmt_status cxrmt_overlay_cuda(const cxrmt_image* original, const cxrmt_frame* frame,
                                             const uint8_t* seg, int32_t is_masks,
                                             int32_t seg_height, int32_t seg_width,
                                             const cxrmt_overlay_options* options, uint8_t* rgb,
                                             void* stream);


/* -- The pipeline (API version 3) ------------------------------------------------------------
 * One radiograph in, every output of `cxrmt infer` out: window, preprocess, the network (ONNX
 * Runtime, or TensorRT where built: cxrmt_build_info() says which), decode, optional clean-up,
 * colours, overlay and measurements, as cxrmt.pipeline.Predictor computes them. The model's
 * cxrmt.* metadata (size, layout, task, palette, window) configures it.
 *
 * Thread-safety: cxrmt_pipeline_run may be called on one pipeline from several threads at once
 * (each call uses only its own buffers); ONNX Runtime runs them in parallel, a TensorRT engine
 * serialises them. create/destroy must not race with runs on the same pipeline.
 *
 * Buffers: the caller owns every output buffer and declares its capacity in bytes (the *_size
 * fields of cxrmt_outputs); cxrmt_outputs_size says what each needs for an image. NULL: not
 * wanted. A buffer too small, or one the model cannot fill, is CXRMT_ERROR_INVALID_ARGUMENT. */

typedef struct cxrmt_pipeline cxrmt_pipeline;

typedef enum { CXRMT_DEVICE_AUTO = 0, CXRMT_DEVICE_CPU = 1, CXRMT_DEVICE_CUDA = 2 } cxrmt_device;

typedef struct {
  cxrmt_device device;   /* AUTO: CUDA when the runtime has it, else CPU; CUDA: CUDA or an error */
  int32_t device_index;
  int32_t threads;       /* ONNX Runtime intra-op threads; 0 = its default (one per core) */
  const char* library;   /* ONNX Runtime shared library to load; NULL = $CXRMT_ONNXRUNTIME_LIBRARY,
                            else the build's or libonnxruntime.so.1 from the loader's path */
} cxrmt_pipeline_options;

typedef struct {
  int32_t size, batch;   /* model input S x S; its static batch (filled with copies) */
  cxrmt_layout layout;
  cxrmt_task task;
  uint8_t palette[12];   /* RGB by label: the model's metadata's, else the paper's colours */
  char precision[16];    /* "fp32", "fp16", "int8" */
  char backend[32];      /* "onnxruntime-cpu", "onnxruntime-cuda", "tensorrt" */
  char window[16];       /* the network window the model was trained with: "auto" or "full" */
} cxrmt_model_info;

typedef enum {
  CXRMT_WINDOW_MODEL = 0,      /* the model's own (cxrmt_model_info.window) */
  CXRMT_WINDOW_AUTO = 1,       /* field percentiles 1-99 (the robust window) */
  CXRMT_WINDOW_FULL = 2,       /* [0, white], or the dtype's / bits_stored's range */
  CXRMT_WINDOW_EXPLICIT = 3,   /* [window_lo, window_hi] in the image's values */
  CXRMT_WINDOW_PERCENTILE = 4  /* percentiles [p_lo, p_hi] of the whole image */
} cxrmt_window_mode;

typedef struct {
  cxrmt_window_mode window;
  float window_lo, window_hi;
  float p_lo, p_hi;
  int32_t bits_stored;     /* 0 = all bits of the dtype */
  int32_t invert;          /* raw polarity in (bone dark) -> display polarity */
  float white;             /* the input's full-scale value (4095 for 12-bit JSRT); 0 = the dtype's
                              or bits_stored's maximum. The bone image is written on this scale */
  double spacing_mm[2];    /* row, column pixel spacing; {0, 0} = unknown (no mm measures) */
  int32_t clean;           /* largest component per organ, holes filled, labels follow */
  cxrmt_overlay_options overlay;
  int32_t model_palette;   /* 1 (default): colours from the model; 0: overlay.palette */
  cxrmt_bone_mode bone_mode;
  cxrmt_resample resample;
} cxrmt_run_options;

/* Bytes each output of one image needs (0: the model does not give it) and the bone's dtype:
 * uint8 for 8-bit inputs, uint16 on the input's own scale otherwise (as `cxrmt infer` writes). */
typedef struct {
  int32_t height, width;
  size_t masks, labels, segmentation, overlay, bone, output;
  cxrmt_dtype bone_dtype;
} cxrmt_output_sizes;

typedef struct {
  int64_t area_px;
  int32_t height_px, width_px;            /* inclusive extents; 0 when absent */
  double area_mm2, height_mm, width_mm;   /* 0 without spacing */
} cxrmt_organ_measures;

typedef struct {
  cxrmt_organ_measures organs[3];  /* heart, left lung, right lung */
  double cardiothoracic_ratio;     /* valid when has_ctr */
  int32_t has_ctr, has_spacing;
} cxrmt_measurements;

typedef struct {
  double read_ms, preprocess_ms, inference_ms, decode_ms, total_ms;  /* read: 0 (the caller's) */
} cxrmt_timings;

typedef struct {
  uint8_t* masks; size_t masks_size;                /* 3 x H x W, 0/1: heart, left lung, right lung */
  uint8_t* labels; size_t labels_size;              /* H x W: 0 bg, 1 right lung, 2 left lung, 3 heart */
  uint8_t* segmentation; size_t segmentation_size;  /* H x W x 3 RGB of the labels */
  uint8_t* overlay; size_t overlay_size;            /* H x W x 3 RGB, labels over the radiograph */
  void* bone; size_t bone_size;                     /* H x W of cxrmt_output_sizes.bone_dtype */
  float* output; size_t output_size;                /* the raw network output (model layout) */
  /* Written by cxrmt_pipeline_run: */
  cxrmt_timings timings;
  cxrmt_measurements measurements;  /* when the model segments */
  cxrmt_frame frame;                /* window_lo/hi: the window that fed the network */
} cxrmt_outputs;

CXRMT_EXPORT void cxrmt_pipeline_options_init(cxrmt_pipeline_options* options);
CXRMT_EXPORT void cxrmt_run_options_init(cxrmt_run_options* options);
/* options NULL = defaults. On failure *pipeline is NULL. */
CXRMT_EXPORT cxrmt_status cxrmt_pipeline_create(const char* model_path, const cxrmt_pipeline_options* options,
                                                cxrmt_pipeline** pipeline);
CXRMT_EXPORT cxrmt_status cxrmt_pipeline_info(const cxrmt_pipeline* pipeline, cxrmt_model_info* info);
/* options NULL = defaults. */
CXRMT_EXPORT cxrmt_status cxrmt_outputs_size(const cxrmt_pipeline* pipeline, const cxrmt_image* image,
                                             const cxrmt_run_options* options, cxrmt_output_sizes* sizes);
CXRMT_EXPORT cxrmt_status cxrmt_pipeline_run(const cxrmt_pipeline* pipeline, const cxrmt_image* image,
                                             const cxrmt_run_options* options, cxrmt_outputs* outputs);
CXRMT_EXPORT void cxrmt_pipeline_destroy(cxrmt_pipeline* pipeline);  /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#endif /* CXRMT_CXRMT_H */
