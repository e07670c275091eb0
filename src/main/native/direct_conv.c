/*
 * A direct k x k convolution (k 1 or 3; stride 1 or 2; TensorFlow's SAME padding) of float32 NHWC tensors as one
 * TensorFlow op, forward only, with a bias and a residual term added as the output is written:
 *   DdpmDirectConv(x [N, H, W, C1], x2 [N, H, W, C2] or [0], w [k, k, Cin, Cout], b [Cout],
 *                  r [N, Ho, Wo, Cout] or [0, Cout])
 *     -> y [N, Ho, Wo, Cout] = conv2d(concat(x, x2), w, stride, SAME) + b + r,   Cin = C1 + C2,
 *        Ho = ceil(H / stride), Wo = ceil(W / stride).
 * x2, where given, holds the input's last C2 channels, so an up-path block's shortcut reads its two inputs where they
 * are and their concatenation is never written (the block's GroupNorm reads them the same way: group_norm_silu.c).
 * The layers of an fp32-fast sampling graph that are not Winograd's and have 16 input channels or more use it: the
 * downsampling convolutions (3x3, stride 2), the residual blocks' 1x1 shortcuts with the block's other branch as r (so
 * no Add follows them), and the attention layers' q, k and v (as one) and projections. oneDNN ran those at 70-140
 * GFLOP/s on an AMD Zen 5 (docs/BENCHMARKS.md, "The layers that are not Winograd's as one op of ours"); the input layer
 * (one or three channels) was slower as this op and stays oneDNN's.
 *
 * A thread owns whole samples. For each block of 6 output pixels (4 without AVX-512) and 32 output channels (16) it
 * keeps the sums in registers and runs over the taps, then the input channels, in order, with fused multiply-adds: an
 * output depends neither on the thread count nor on the batch. Cout must be a multiple of 16 (the vector lanes); Cin
 * may be anything. Reads outside the image read zeros. The inference graph of an export rebuilt for sampling uses it
 * (dev.ddpm4j.model.DirectConv); exported models never do, and it has no gradient.
 */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET and pthread_attr_setaffinity_np in slices.h */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "slices.h"
#include "tf_c_api_subset.h"

enum { MAX_ROWS = 6, MAX_SEGMENTS = 18 };

typedef struct {
  int64_t h, w, cin, cout, k, stride, ho, wo, pad_y, pad_x;
  int64_t c1;         /* x's channels; x2 has cin - c1 */
  int segments;       /* taps x inputs: the runs of input channels an output pixel sums over, in order */
  int64_t seg_len[MAX_SEGMENTS], seg_w[MAX_SEGMENTS]; /* a run's channels, and where its weights start in wt */
  const float* x;     /* [n, h, w, c1] */
  const float* x2;    /* [n, h, w, cin - c1], or NULL */
  const float* wt;    /* [k, k, cin, cout] */
  const float* b;     /* [cout] */
  const float* r;     /* [n, ho, wo, cout], or NULL */
  float* y;           /* [n, ho, wo, cout] */
  const float* zeros; /* cin zeros: reads outside the image, and the rows past a sample's last pixel */
} Conv;

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));

/*
 * Output pixels [p0, p0 + rows) of sample n (rows <= R; the others read zeros and are not written), the output
 * channels [j0, j0 + L * V): V vectors T of L lanes per pixel, R x V sums in registers. a[r * segs + s] is where
 * run s (a tap's channels of x, then of x2) of pixel p0 + r starts.
 */
#define DIRECT_BLOCK(T, L, R, V)                                                                  \
  do {                                                                                            \
    T acc[R][V];                                                                                  \
    for (int r = 0; r < R; r++)                                                                   \
      for (int q = 0; q < V; q++) acc[r][q] = (T) {0};                                            \
    for (int s = 0; s < segs; s++) {                                                              \
      const float* row[R];                                                                        \
      for (int r = 0; r < R; r++) row[r] = a[r * segs + s];                                       \
      const float* wt = j->wt + j->seg_w[s] + j0;                                                 \
      const int64_t len = j->seg_len[s];                                                          \
      for (int64_t p = 0; p < len; p++) {                                                         \
        T bv[V];                                                                                  \
        for (int q = 0; q < V; q++) memcpy(&bv[q], wt + p * cout + L * q, sizeof(T));             \
        for (int r = 0; r < R; r++) {                                                             \
          float sv = row[r][p];                                                                   \
          for (int q = 0; q < V; q++) acc[r][q] += sv * bv[q];                                    \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
    for (int r = 0; r < rows; r++) {                                                              \
      int64_t at = (n * per + p0 + r) * cout + j0;                                                \
      for (int q = 0; q < V; q++) {                                                               \
        T bias, res = (T) {0};                                                                    \
        memcpy(&bias, j->b + j0 + L * q, sizeof(T));                                              \
        if (j->r) memcpy(&res, j->r + at + L * q, sizeof(T));                                     \
        T o = acc[r][q] + bias + res;                                                             \
        memcpy(j->y + at + L * q, &o, sizeof(T));                                                 \
      }                                                                                           \
    }                                                                                             \
  } while (0)

/* The samples [from, to): wide, AVX-512's 32 registers hold 6 x 2 vectors of 16; else 4 x 2 vectors of 8. */
static inline __attribute__((always_inline)) void conv_samples(const Conv* j, int64_t from, int64_t to, int wide) {
  const int64_t cout = j->cout, per = j->ho * j->wo, k = j->k, c2 = j->cin - j->c1;
  const int taps = (int) (k * k), inputs = j->x2 ? 2 : 1, segs = j->segments;
  const int R = wide ? 6 : 4;
  for (int64_t n = from; n < to; n++) {
    for (int64_t p0 = 0; p0 < per; p0 += R) {
      int rows = per - p0 < R ? (int) (per - p0) : R;
      const float* a[MAX_ROWS * MAX_SEGMENTS];
      for (int r = 0; r < R; r++) {
        int64_t oy = (p0 + r) / j->wo, ox = (p0 + r) % j->wo;
        for (int t = 0; t < taps; t++) {
          int64_t iy = oy * j->stride - j->pad_y + t / k, ix = ox * j->stride - j->pad_x + t % k;
          int outside = r >= rows || iy < 0 || iy >= j->h || ix < 0 || ix >= j->w;
          int64_t pixel = (n * j->h + iy) * j->w + ix;
          a[r * segs + t * inputs] = outside ? j->zeros : j->x + pixel * j->c1;
          if (inputs == 2) a[r * segs + t * 2 + 1] = outside ? j->zeros : j->x2 + pixel * c2;
        }
      }
      if (wide) {
        int64_t j0 = 0;
        for (; j0 + 32 <= cout; j0 += 32) DIRECT_BLOCK(v16, 16, 6, 2);
        if (j0 < cout) DIRECT_BLOCK(v16, 16, 6, 1);
      } else {
        for (int64_t j0 = 0; j0 < cout; j0 += 16) DIRECT_BLOCK(v8, 8, 4, 2);
      }
    }
  }
}

/* By instruction set, as winograd_conv.c: the AVX-512 and AVX2 versions give the same bits (FMAs in the same order; the
 * version for CPUs without AVX2 rounds each product, so its last bits differ). */
V4_TARGET static void conv_v4(const Conv* j, int64_t from, int64_t to) {
  conv_samples(j, from, to, 1);
}

__attribute__((target("arch=x86-64-v3"))) static void conv_v3(const Conv* j, int64_t from, int64_t to) {
  conv_samples(j, from, to, 0);
}

static void conv_base(const Conv* j, int64_t from, int64_t to) { conv_samples(j, from, to, 0); }

static void* run_slice(void* arg) {
  Slice* s = (Slice*) arg;
  const Conv* j = (const Conv*) s->job;
  void (*run)(const Conv*, int64_t, int64_t) = use_v4() ? conv_v4
      : __builtin_cpu_supports("x86-64-v3") ? conv_v3 : conv_base;
  run(j, s->from, s->to);
  return NULL;
}

typedef struct {
  int64_t height, width, threads, kernel, stride;
} Attrs;

static void* create(TF_OpKernelConstruction* ctx) {
  Attrs* a = new_attrs(ctx, sizeof(Attrs), "DdpmDirectConv");
  if (!a) return NULL;
  TF_Status* s = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrInt64(ctx, "threads", &a->threads, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "height", &a->height, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "width", &a->width, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "kernel", &a->kernel, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "stride", &a->stride, s);
  if (TF_GetCode(s) == TF_OK && (a->height > (1 << 24) || a->width > (1 << 24))) {
    TF_SetStatus(s, TF_INVALID_ARGUMENT, "DdpmDirectConv: height and width must be at most 2^24");
  }
  if (TF_GetCode(s) == TF_OK && ((a->kernel != 1 && a->kernel != 3) || (a->stride != 1 && a->stride != 2))) {
    TF_SetStatus(s, TF_INVALID_ARGUMENT, "DdpmDirectConv: kernel must be 1 or 3 and stride 1 or 2");
  }
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return a;
}

static void destroy(void* a) { free(a); }

/* TensorFlow's SAME padding before the first pixel: half the total, rounded down. */
static int64_t pad_before(int64_t in, int64_t out, int64_t k, int64_t stride) {
  int64_t total = (out - 1) * stride + k - in;
  return total > 0 ? total / 2 : 0;
}

static void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs* at = (const Attrs*) kernel;
  TF_Status* s = TF_NewStatus();
  TF_Tensor* in[5] = {0}; /* x, x2, w, b, r */
  TF_Tensor* out = NULL;
  for (int i = 0; i < 5 && TF_GetCode(s) == TF_OK; i++) TF_GetInput(ctx, i, &in[i], s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  Conv j = {.h = at->height, .w = at->width, .k = at->kernel, .stride = at->stride};
  if (TF_NumDims(in[0]) != 4 || TF_Dim(in[0], 1) != j.h || TF_Dim(in[0], 2) != j.w) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmDirectConv: x must be NHWC with the height and width attributes");
    goto done;
  }
  int64_t n = TF_Dim(in[0], 0);
  j.c1 = TF_Dim(in[0], 3);
  int two = TF_NumDims(in[1]) == 4 && TF_Dim(in[1], 0) == n && TF_Dim(in[1], 1) == j.h && TF_Dim(in[1], 2) == j.w
      && TF_Dim(in[1], 3) > 0;
  if (!two && !(TF_NumDims(in[1]) == 1 && TF_Dim(in[1], 0) == 0)) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmDirectConv: x2 must be [N, H, W, C2] (x's batch and image), or [0] for none");
    goto done;
  }
  j.cin = j.c1 + (two ? TF_Dim(in[1], 3) : 0);
  if (TF_NumDims(in[2]) != 4 || TF_Dim(in[2], 0) != j.k || TF_Dim(in[2], 1) != j.k || TF_Dim(in[2], 2) != j.cin
      || j.c1 < 1) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmDirectConv: w must be [kernel, kernel, Cin, Cout], Cin that of x (and x2)");
    goto done;
  }
  j.cout = TF_Dim(in[2], 3);
  if (j.cout % 16 != 0 || j.cout < 16) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmDirectConv: Cout must be a positive multiple of 16");
    goto done;
  }
  if (TF_NumDims(in[3]) != 1 || TF_Dim(in[3], 0) != j.cout) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmDirectConv: b must be [Cout]");
    goto done;
  }
  j.ho = (j.h + j.stride - 1) / j.stride;
  j.wo = (j.w + j.stride - 1) / j.stride;
  int residual = TF_NumDims(in[4]) == 4 && TF_Dim(in[4], 0) == n && TF_Dim(in[4], 1) == j.ho
      && TF_Dim(in[4], 2) == j.wo && TF_Dim(in[4], 3) == j.cout;
  int none = TF_NumDims(in[4]) == 2 && TF_Dim(in[4], 0) == 0 && TF_Dim(in[4], 1) == j.cout;
  if (!residual && !none) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmDirectConv: r must be [N, Ho, Wo, Cout] (the output's shape), or [0, Cout]"
        " for none");
    goto done;
  }
  j.pad_y = pad_before(j.h, j.ho, j.k, j.stride);
  j.pad_x = pad_before(j.w, j.wo, j.k, j.stride);
  j.x = (const float*) TF_TensorData(in[0]);
  j.x2 = two ? (const float*) TF_TensorData(in[1]) : NULL;
  j.wt = (const float*) TF_TensorData(in[2]);
  j.b = (const float*) TF_TensorData(in[3]);
  j.r = residual ? (const float*) TF_TensorData(in[4]) : NULL;
  j.segments = 0;
  for (int64_t t = 0; t < j.k * j.k; t++) { /* tap t's channels of x, then of x2: their weights are rows of w[t] */
    j.seg_len[j.segments] = j.c1;
    j.seg_w[j.segments++] = t * j.cin * j.cout;
    if (two) {
      j.seg_len[j.segments] = j.cin - j.c1;
      j.seg_w[j.segments++] = (t * j.cin + j.c1) * j.cout;
    }
  }
  int64_t dims[4] = {n, j.ho, j.wo, j.cout};
  out = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, 4, sizeof(float) * (size_t) (n * j.ho * j.wo * j.cout), s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  j.y = (float*) TF_TensorData(out);
  run_with_zeros(ctx, "DdpmDirectConv", &j.zeros, j.cin, &j, n, (int) at->threads, run_slice);
done:
  for (int i = 0; i < 5; i++) {
    if (in[i]) TF_DeleteTensor(in[i]);
  }
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(s);
}

__attribute__((constructor)) static void register_direct_conv(void) {
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder("DdpmDirectConv");
  TF_OpDefinitionBuilderAddInput(b, "x: float");
  TF_OpDefinitionBuilderAddInput(b, "x2: float");
  TF_OpDefinitionBuilderAddInput(b, "w: float");
  TF_OpDefinitionBuilderAddInput(b, "b: float");
  TF_OpDefinitionBuilderAddInput(b, "r: float");
  TF_OpDefinitionBuilderAddOutput(b, "y: float");
  TF_OpDefinitionBuilderAddAttr(b, "threads: int = 1");
  TF_OpDefinitionBuilderAddAttr(b, "height: int >= 1");
  TF_OpDefinitionBuilderAddAttr(b, "width: int >= 1");
  TF_OpDefinitionBuilderAddAttr(b, "kernel: int = 3");
  TF_OpDefinitionBuilderAddAttr(b, "stride: int = 1");
  register_float_op(b, "DdpmDirectConv", create, compute, destroy);
}
