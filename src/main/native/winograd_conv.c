/*
 * A whole Winograd F(4x4, 3x3) convolution as one TensorFlow op, forward only, for float32 NHWC tensors on the CPU:
 *   DdpmWinogradConv(x [N, H, W, Cin], u [36, Cin, Cout], b [Cout], e [N, Cout] or [0, Cout]) -> y [N, H, W, Cout]
 *   y = conv2d(x, w, stride 1, SAME) + b + e[n],  u = G w G^T (computed by TensorFlow ops, once per sampling run).
 * With the attribute upsample, the Cout channels are the four output phases of a 2x upsampling layer, channel
 * (2a + b) * Cout/4 + c of pixel (i, j) going to channel c of pixel (2i + a, 2j + b) of y [N, 2H, 2W, Cout/4]: what
 * DepthToSpace(2) of the plain output would be, without writing that output first (dev.ddpm4j.model.UNet.phaseKernel).
 * winograd.c splits the same convolution into two transform ops around 36 MatMuls, which the training graph needs for
 * its gradients; there the 36 tile matrices of every tile go through memory twice each way. Here a thread takes a
 * block of tiles small enough for its L2 cache (attribute cache_kib), transforms them (B^T d B), and for each chunk of
 * up to 64 output channels multiplies each of the 36 matrices by its u[k] with a register-blocked kernel and
 * transforms back (A^T M A) into the output with b and e added, so the tile matrices never leave the cache. The
 * inference graph of an export rebuilt for sampling (precision fp32-fast) uses it; exported models never do, and it
 * has no gradient.
 *
 * Channel counts must be multiples of 16 (the vector lanes; dev.ddpm4j.model.WinogradConv pads an output layer's).
 * One thread owns a sample, and each output sums over the input channels in order whatever block its tile falls in,
 * so results depend neither on the thread count, nor on the batch, nor on cache_kib.
 */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET and pthread_attr_setaffinity_np in slices.h */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "slices.h"
#include "tf_c_api_subset.h"
#include "winograd.h"

enum { BLOCK_ROWS = 12 }; /* a block's tiles are a multiple of both kernels' row blocks (6 and 4) */
enum { CHUNK = 64 };      /* output channels taken through the products and the output transform at a time */

typedef struct {
  int64_t n, h, w, cin, cout, th, tw;
  int64_t block;      /* tiles per block, a multiple of BLOCK_ROWS */
  int upsample;       /* y is [n, 2h, 2w, cout / 4]: the channels are four output phases */
  int64_t keep;       /* the output channels written, [0, keep) of cout (an output layer padded to 16): y's last dim */
  const float* x;     /* [n, h, w, cin] */
  const float* u;     /* [36, cin, cout] */
  const float* b;     /* [cout] */
  const float* e;     /* [n, cout], or NULL */
  float* y;           /* [n, h, w, cout], or [n, 2h, 2w, cout / 4] with upsample */
  const float* zeros; /* cin zeros: reads outside the image */
} Conv;

typedef float v8 __attribute__((vector_size(32)));

/* Rows [0, R) of c (row stride ldc) = a (row stride kd) times bm[kd, .] (row stride ldb), for the columns
 * [j0, j0 + L * V): V vectors T of L lanes (loaded and stored unaligned), R x V accumulators in registers. */
#define PRODUCT_BLOCK(T, L, R, V)                                                          \
  do {                                                                                     \
    T acc[R][V];                                                                           \
    for (int r = 0; r < R; r++)                                                            \
      for (int q = 0; q < V; q++) acc[r][q] = (T) {0};                                     \
    for (int64_t p = 0; p < kd; p++) {                                                     \
      T bv[V];                                                                             \
      for (int q = 0; q < V; q++) memcpy(&bv[q], bm + p * ldb + j0 + L * q, sizeof(T));    \
      for (int r = 0; r < R; r++) {                                                        \
        float sv = a[r * kd + p];                                                          \
        for (int q = 0; q < V; q++) acc[r][q] += sv * bv[q];                               \
      }                                                                                    \
    }                                                                                      \
    for (int r = 0; r < R; r++)                                                            \
      for (int q = 0; q < V; q++) memcpy(c + r * ldc + j0 + L * q, &acc[r][q], sizeof(T)); \
  } while (0)

/*
 * cm[rows, nc] (row stride CHUNK) = am[rows, kd] bm[kd, nc] (row stride ldb), rows a multiple of BLOCK_ROWS, nc of
 * 16. wide: AVX-512's 32 registers hold 6 x 2 vectors of 16; else AVX2's 16 hold 4 x 2 vectors of 8 (vectors of 16
 * there spilled through the stack: 10x slower). Both sum each output over kd in order with fused multiply-adds, so
 * they give the same bits (checked on an AVX-512 CPU, the AVX2 version forced); the version for CPUs without AVX2
 * rounds each product.
 */
static inline __attribute__((always_inline)) void product(const float* am, int64_t rows, int64_t kd,
    const float* bm, int64_t ldb, int64_t nc, float* cm, int wide) {
  const int64_t ldc = CHUNK;
  if (wide) {
    for (int64_t i0 = 0; i0 < rows; i0 += 6) {
      const float* a = am + i0 * kd;
      float* c = cm + i0 * ldc;
      int64_t j0 = 0;
      for (; j0 + 32 <= nc; j0 += 32) PRODUCT_BLOCK(v16, 16, 6, 2);
      if (j0 < nc) PRODUCT_BLOCK(v16, 16, 6, 1);
    }
  } else {
    for (int64_t i0 = 0; i0 < rows; i0 += 4) {
      const float* a = am + i0 * kd;
      float* c = cm + i0 * ldc;
      for (int64_t j0 = 0; j0 < nc; j0 += 16) PRODUCT_BLOCK(v8, 8, 4, 2);
    }
  }
}

/* Tile t's 36 input pixels, row by row of its 6x6 window: j->zeros where the window leaves the image. */
static inline __attribute__((always_inline)) void tile_pixels(const Conv* j, int64_t t, const float** p) {
  int64_t per = j->th * j->tw, n = t / per, ti = t % per / j->tw, tj = t % j->tw;
  for (int a = 0; a < 6; a++) {
    for (int b = 0; b < 6; b++) {
      p[a * 6 + b] = image_pixel(j->x, j->zeros, j->h, j->w, j->cin, n, 4 * ti - 1 + a, 4 * tj - 1 + b);
    }
  }
}

/* The tiles [t0, t0 + count) of the thread's samples, through the cache: v and m hold 36 x block x cin and CHUNK. */
static inline __attribute__((always_inline)) void conv_block(const Conv* j, int64_t t0, int64_t count, float* v,
    float* m, int wide) {
  const int64_t cin = j->cin, cout = j->cout, per = j->th * j->tw, rows = j->block;
  const float* pixels[2][36];
  tile_pixels(j, t0, pixels[0]);
  for (int64_t i = 0; i < count; i++) { /* V[k][i] = (B^T d B)[k] */
    const float** p = pixels[i & 1];
    if (i + 1 < count) {
      /* the next tile's pixels asked for in the cache while this one is transformed: the input is read once, tile by
       * tile across six image rows, and a profile showed the transform waiting on those loads. In a C driver of these
       * functions this took 10-16% off the 32x32 96 -> 32 layer and 6-7% off one of each of the default model's
       * layers (docs/BENCHMARKS.md, "Prefetching the next tile"). */
      const float** next = pixels[(i + 1) & 1];
      tile_pixels(j, t0 + i + 1, next);
      for (int q = 0; q < 36; q++) {
        if (next[q] == j->zeros) continue;
        for (int64_t k = 0; k < cin; k += 16) __builtin_prefetch(next[q] + k, 0, 3);
      }
    }
    float* dst[36];
    for (int q = 0; q < 36; q++) dst[q] = v + (q * rows + i) * cin;
    for (int64_t k = 0; k < cin; k += 16) input_tile(p, k, dst);
  }
  /* the products run over whole row blocks: the rows past count are zeros, multiplied but never read */
  int64_t used = (count + BLOCK_ROWS - 1) / BLOCK_ROWS * BLOCK_ROWS;
  for (int q = 0; q < 36 && used > count; q++) {
    memset(v + (q * rows + count) * cin, 0, sizeof(float) * (size_t) ((used - count) * cin));
  }
  for (int64_t c0 = 0; c0 < cout; c0 += CHUNK) { /* output channels [c0, c0 + nc) */
    int64_t nc = cout - c0 < CHUNK ? cout - c0 : CHUNK;
    for (int k = 0; k < 36; k++) {
      product(v + k * rows * cin, used, cin, j->u + k * cin * cout + c0, cout, nc, m + k * rows * CHUNK, wide);
    }
    for (int64_t i = 0; i < count; i++) { /* y = A^T M A + b + e[n], the pixels inside the image */
      int64_t t = t0 + i, n = t / per, ti = t % per / j->tw, tj = t % j->tw;
      const float* src[36];
      for (int q = 0; q < 36; q++) src[q] = m + (q * rows + i) * CHUNK;
      for (int64_t k = 0; k < nc && c0 + k < j->keep; k += 16) {
        v16 add = ld(j->b + c0 + k);
        if (j->e) add += ld(j->e + n * cout + c0 + k);
        v16 o[4][4];
        output_tile(src, k, o);
        /* pixel (y, x) at y0 + (y * w + x) * step: its channel in the image, or its phase's pixel upsampled */
        int64_t keep = j->keep, y0 = n * j->h * j->w * keep + c0 + k, ystep = j->w * keep, step = keep;
        int64_t lanes = keep - (c0 + k) < 16 ? keep - (c0 + k) : 16; /* fewer in the last vector of a kept layer */
        if (j->upsample) { /* 16 channels never straddle two phases: cout / 4 is a multiple of 16 */
          int64_t q = cout / 4, g = c0 + k, phase = g / q;
          y0 = ((n * 2 * j->h + phase / 2) * 2 * j->w + phase % 2) * q + g % q;
          ystep = 4 * j->w * q;
          step = 2 * q;
        }
        for (int r = 0; r < 4 && 4 * ti + r < j->h; r++) {
          for (int s = 0; s < 4; s++) {
            int64_t y = 4 * ti + r, x = 4 * tj + s;
            if (x >= j->w) continue;
            v16 v = o[r][s] + add;
            float* dst = j->y + y0 + y * ystep + x * step;
            if (lanes == 16) {
              st(dst, v);
            } else {
              memcpy(dst, &v, sizeof(float) * (size_t) lanes);
            }
          }
        }
      }
    }
  }
}

/* The product kernel by instruction set: a version of the whole block each, so the transforms use its vectors too. */
V4_TARGET static void conv_block_v4(const Conv* j, int64_t t0, int64_t count,
    float* v, float* m) {
  conv_block(j, t0, count, v, m, 1);
}

__attribute__((target("arch=x86-64-v3"))) static void conv_block_v3(const Conv* j, int64_t t0, int64_t count,
    float* v, float* m) {
  conv_block(j, t0, count, v, m, 0);
}

static void conv_block_base(const Conv* j, int64_t t0, int64_t count, float* v, float* m) {
  conv_block(j, t0, count, v, m, 0);
}

static void* run_slice(void* arg) {
  Slice* s = (Slice*) arg;
  const Conv* j = (const Conv*) s->job;
  size_t vbytes = sizeof(float) * (size_t) (36 * j->block * j->cin);
  size_t mbytes = sizeof(float) * (size_t) (36 * j->block * CHUNK);
  float* v = aligned_alloc(64, vbytes);
  float* m = aligned_alloc(64, mbytes);
  if (!v || !m) {
    s->failed = 1;
  } else {
    int64_t per = j->th * j->tw, end = s->to * per;
    void (*block)(const Conv*, int64_t, int64_t, float*, float*) = use_v4()
        ? conv_block_v4 : __builtin_cpu_supports("x86-64-v3") ? conv_block_v3 : conv_block_base;
    for (int64_t t = s->from * per; t < end; t += j->block) {
      block(j, t, end - t < j->block ? end - t : j->block, v, m);
    }
  }
  free(v);
  free(m);
  return NULL;
}

typedef struct {
  int64_t height, width, threads, cache;
  TF_Bool upsample;
  int64_t keep;
} Attrs;

static void* create(TF_OpKernelConstruction* ctx) {
  Attrs* a = new_attrs(ctx, sizeof(Attrs), "DdpmWinogradConv");
  if (!a) return NULL;
  TF_Status* s = TF_NewStatus();
  image_attrs(ctx, "DdpmWinogradConv", &a->threads, &a->height, &a->width, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "cache_kib", &a->cache, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrBool(ctx, "upsample", &a->upsample, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "keep", &a->keep, s);
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return a;
}

static void destroy(void* a) { free(a); }

static void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs* at = (const Attrs*) kernel;
  TF_Status* s = TF_NewStatus();
  TF_Tensor* in[4] = {0};
  TF_Tensor* out = NULL;
  for (int i = 0; i < 4 && TF_GetCode(s) == TF_OK; i++) TF_GetInput(ctx, i, &in[i], s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  Conv j = {.h = at->height, .w = at->width, .upsample = at->upsample != 0};
  if (TF_NumDims(in[0]) != 4 || TF_Dim(in[0], 1) != j.h || TF_Dim(in[0], 2) != j.w) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: x must be NHWC with the height and width attributes");
    goto done;
  }
  j.n = TF_Dim(in[0], 0);
  j.cin = TF_Dim(in[0], 3);
  if (TF_NumDims(in[1]) != 3 || TF_Dim(in[1], 0) != 36 || TF_Dim(in[1], 1) != j.cin) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: u must be [36, Cin, Cout], Cin that of x");
    goto done;
  }
  j.cout = TF_Dim(in[1], 2);
  if (j.cin % 16 != 0 || j.cin < 16 || j.cout % 16 != 0 || j.cout < 16) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: the channel counts must be positive multiples of 16");
    goto done;
  }
  j.keep = at->keep > 0 ? at->keep : j.cout;
  if (j.keep > j.cout || (j.upsample && j.keep != j.cout)) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: keep must be at most Cout, and Cout with upsample");
    goto done;
  }
  if (j.upsample && j.cout % 64 != 0) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: upsample needs Cout a multiple of 64 (four phases of 16)");
    goto done;
  }
  if (TF_NumDims(in[2]) != 1 || TF_Dim(in[2], 0) != j.cout) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: b must be [Cout]");
    goto done;
  }
  if (TF_NumDims(in[3]) != 2 || TF_Dim(in[3], 1) != j.cout || (TF_Dim(in[3], 0) != j.n && TF_Dim(in[3], 0) != 0)) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinogradConv: e must be [N, Cout], or [0, Cout] for none");
    goto done;
  }
  j.th = (j.h + 3) / 4;
  j.tw = (j.w + 3) / 4;
  /* a block's 36 tile matrices in and out within the cache budget, at least one register block of tiles */
  int64_t chunk = j.cout < CHUNK ? j.cout : CHUNK;
  int64_t fit = at->cache * 1024 / (int64_t) (36 * sizeof(float) * (size_t) (j.cin + chunk));
  j.block = fit < BLOCK_ROWS ? BLOCK_ROWS : fit / BLOCK_ROWS * BLOCK_ROWS;
  j.x = (const float*) TF_TensorData(in[0]);
  j.u = (const float*) TF_TensorData(in[1]);
  j.b = (const float*) TF_TensorData(in[2]);
  j.e = TF_Dim(in[3], 0) > 0 ? (const float*) TF_TensorData(in[3]) : NULL;
  int64_t dims[4] = {j.n, j.h, j.w, j.keep};
  if (j.upsample) {
    dims[1] = 2 * j.h;
    dims[2] = 2 * j.w;
    dims[3] = j.cout / 4;
  }
  out = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, 4, sizeof(float) * (size_t) (j.n * j.h * j.w * j.keep), s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  j.y = (float*) TF_TensorData(out);
  run_with_zeros(ctx, "DdpmWinogradConv", &j.zeros, j.cin, &j, j.n, (int) at->threads, run_slice);
done:
  for (int i = 0; i < 4; i++) {
    if (in[i]) TF_DeleteTensor(in[i]);
  }
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(s);
}

__attribute__((constructor)) static void register_winograd_conv(void) {
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder("DdpmWinogradConv");
  TF_OpDefinitionBuilderAddInput(b, "x: float");
  TF_OpDefinitionBuilderAddInput(b, "u: float");
  TF_OpDefinitionBuilderAddInput(b, "b: float");
  TF_OpDefinitionBuilderAddInput(b, "e: float");
  TF_OpDefinitionBuilderAddOutput(b, "y: float");
  TF_OpDefinitionBuilderAddAttr(b, "threads: int = 1");
  TF_OpDefinitionBuilderAddAttr(b, "height: int >= 1");
  TF_OpDefinitionBuilderAddAttr(b, "width: int >= 1");
  /* V and M of a block of tiles within this many KiB (1 MiB L2 caches: 384 was as fast as 96-768 on an AMD Zen 5) */
  TF_OpDefinitionBuilderAddAttr(b, "cache_kib: int >= 1 = 384");
  /* the output channels are a 2x upsampling's four phases, written upsampled: y [N, 2H, 2W, Cout / 4] */
  TF_OpDefinitionBuilderAddAttr(b, "upsample: bool = false");
  /* only the first keep output channels written (0: all): an output layer's channels padded to 16, never sliced */
  TF_OpDefinitionBuilderAddAttr(b, "keep: int >= 0 = 0");
  register_float_op(b, "DdpmWinogradConv", create, compute, destroy);
}
