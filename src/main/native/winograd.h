/*
 * What the Winograd F(4x4, 3x3) ops share (winograd.c: the transforms; winograd_conv.c: the fused forward
 * convolution): the 16-lane float vectors channels travel in, the transform matrices B^T, B, A^T and A, one tile's
 * input and output transforms, and the attributes every op has.
 */
#ifndef DDPM4J_WINOGRAD_H_
#define DDPM4J_WINOGRAD_H_

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "isa.h"
#include "tf_c_api_subset.h"


typedef float v16 __attribute__((vector_size(64)));

static inline v16 ld(const float* p) {
  v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void st(float* p, v16 v) { memcpy(p, &v, sizeof v); }

/* Pixel (y, x) of sample n of an NHWC image [., h, w, c] at base, or zeros where (y, x) is outside the image. */
static inline const float* image_pixel(const float* base, const float* zeros, int64_t h, int64_t w, int64_t c,
    int64_t n, int64_t y, int64_t x) {
  return y < 0 || y >= h || x < 0 || x >= w ? zeros : base + ((n * h + y) * w + x) * c;
}

/* B^T u for a 6-vector u (rows of the input transform). */
#define BT(u, o)                                               \
  do {                                                         \
    o[0] = 4.f * u[0] - 5.f * u[2] + u[4];                     \
    o[1] = -4.f * (u[1] + u[2]) + u[3] + u[4];                 \
    o[2] = 4.f * (u[1] - u[2]) - u[3] + u[4];                  \
    o[3] = 2.f * (u[3] - u[1]) - u[2] + u[4];                  \
    o[4] = 2.f * (u[1] - u[3]) - u[2] + u[4];                  \
    o[5] = 4.f * u[1] - 5.f * u[3] + u[5];                     \
  } while (0)

/* B u (its transpose: the input gradient). */
#define B(u, o)                                                \
  do {                                                         \
    o[0] = 4.f * u[0];                                         \
    o[1] = 4.f * (u[2] - u[1] + u[5]) + 2.f * (u[4] - u[3]);   \
    o[2] = -5.f * u[0] - 4.f * (u[1] + u[2]) - u[3] - u[4];    \
    o[3] = u[1] - u[2] + 2.f * (u[3] - u[4]) - 5.f * u[5];     \
    o[4] = u[0] + u[1] + u[2] + u[3] + u[4];                   \
    o[5] = u[5];                                               \
  } while (0)

/* A^T u for a 6-vector u: 4 outputs. */
#define AT(u, o)                                               \
  do {                                                         \
    v16 s12 = u[1] + u[2], d12 = u[1] - u[2];                  \
    v16 s34 = u[3] + u[4], d34 = u[3] - u[4];                  \
    o[0] = u[0] + s12 + s34;                                   \
    o[1] = d12 + 2.f * d34;                                    \
    o[2] = s12 + 4.f * s34;                                    \
    o[3] = d12 + 8.f * d34 + u[5];                             \
  } while (0)

/* A u for a 4-vector u: 6 outputs (the output gradient). */
#define A(u, o)                                                \
  do {                                                         \
    v16 e = u[0] + u[2], f = u[1] + u[3];                      \
    v16 g = u[0] + 4.f * u[2], h = 2.f * u[1] + 8.f * u[3];    \
    o[0] = u[0];                                               \
    o[1] = e + f;                                              \
    o[2] = e - f;                                              \
    o[3] = g + h;                                              \
    o[4] = g - h;                                              \
    o[5] = u[3];                                               \
  } while (0)

/*
 * B^T d B for one 6x6 input tile, 16 channels from k: p[a * 6 + b] its pixel at row a, column b (or zeros outside the
 * image), dst[r * 6 + s] where tile matrix r * 6 + s takes it.
 */
static inline __attribute__((always_inline)) void input_tile(const float* const* p, int64_t k, float* const* dst) {
  v16 tmp[6][6]; /* tmp[r][b] = (B^T d)[r][b] */
  for (int b = 0; b < 6; b++) {
    v16 u[6], o[6];
    for (int a = 0; a < 6; a++) u[a] = ld(p[a * 6 + b] + k);
    BT(u, o);
    for (int r = 0; r < 6; r++) tmp[r][b] = o[r];
  }
  for (int r = 0; r < 6; r++) {
    v16 o[6];
    BT(tmp[r], o);
    for (int s = 0; s < 6; s++) st(dst[r * 6 + s] + k, o[s]);
  }
}

/* A^T M A for one tile, 16 channels from k: m[a * 6 + b] where tile matrix a * 6 + b holds it; out[r][s] the output
 * pixel at row r, column s of the 4x4 tile. */
static inline __attribute__((always_inline)) void output_tile(const float* const* m, int64_t k, v16 out[4][4]) {
  v16 tmp[4][6]; /* tmp[r][b] = (A^T M)[r][b] */
  for (int b = 0; b < 6; b++) {
    v16 u[6], o[4];
    for (int a = 0; a < 6; a++) u[a] = ld(m[a * 6 + b] + k);
    AT(u, o);
    for (int r = 0; r < 4; r++) tmp[r][b] = o[r];
  }
  for (int r = 0; r < 4; r++) AT(tmp[r], out[r]);
}

/* The attributes every Winograd op has: its threads and its image's height and width (at most 2^24), into s. */
static inline void image_attrs(TF_OpKernelConstruction* ctx, const char* op, int64_t* threads, int64_t* height,
    int64_t* width, TF_Status* s) {
  TF_OpKernelConstruction_GetAttrInt64(ctx, "threads", threads, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "height", height, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "width", width, s);
  if (TF_GetCode(s) == TF_OK && (*height > (1 << 24) || *width > (1 << 24))) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: height and width must be at most 2^24", op);
    TF_SetStatus(s, TF_INVALID_ARGUMENT, msg);
  }
}

#endif
