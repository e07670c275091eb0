/*
 * The core of a self-attention layer over an image's pixels as one TensorFlow op, forward only, float32 NHWC:
 *   DdpmAttention(qkv [N, H, W, 3C]) -> a [N, H, W, C]
 * where qkv holds each pixel's query, key and value (channels [0, C), [C, 2C), [2C, 3C)), each split into `heads`
 * heads of d = C / heads channels, and for each sample and head
 *   a[t, head] = sum_u softmax_u(q[t] . k[u] / sqrt(d)) v[u]     (the softmax over the H*W pixels u, its maximum
 *                                                                  subtracted first).
 * TensorFlow ran the same as two transposes, two BatchMatMuls, a Mul and a Softmax, each a pass through memory; here a
 * thread takes a sample at a time and keeps its scores in the cache. The fp32-fast sampling graph's attention layers
 * use it (dev.ddpm4j.model.Attention), their projections by DdpmDirectConv; exported models never do, and it has no
 * gradient. Compiled with -ffast-math (build.sh) so that exp vectorises through libmvec: the sums may be reassociated,
 * but each output depends only on its own sample, so results depend neither on the thread count nor on the batch.
 */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET and pthread_attr_setaffinity_np in slices.h */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"
#include "slices.h"
#include "tf_c_api_subset.h"

typedef struct {
  int64_t p, c, heads; /* pixels per sample, channels (of a), heads */
  const float* qkv;    /* [n, p, 3c] */
  float* a;            /* [n, p, c] */
} Job;

/* kt [d, p] = the keys of a head transposed, so that a query's scores are a sum of rows of it. */
static inline __attribute__((always_inline)) void transpose_keys(const float* restrict k, int64_t stride, int64_t p,
    int64_t d, float* restrict kt) {
  for (int64_t u = 0; u < p; u++) {
    for (int64_t e = 0; e < d; e++) kt[e * p + u] = k[u * stride + e];
  }
}

/* s [p] := softmax(s), its maximum subtracted first. */
static inline __attribute__((always_inline)) void softmax(float* restrict s, int64_t p) {
  float mx = s[0];
  for (int64_t u = 1; u < p; u++) mx = s[u] > mx ? s[u] : mx;
  float sum = 0.f;
  for (int64_t u = 0; u < p; u++) {
    s[u] = expf(s[u] - mx);
    sum += s[u];
  }
  float inv = 1.f / sum;
  for (int64_t u = 0; u < p; u++) s[u] *= inv;
}

/*
 * One sample and head: kt [d, p] (the keys transposed, so a query's scores are a sum of rows), s [p] scratch. q, k, v
 * and out point at the head's first channel of pixel 0; rows are `stride` floats apart (3c; out: c).
 */
CLONES static void head(const float* restrict q, const float* restrict k, const float* restrict v, int64_t stride,
    float* restrict out, int64_t ostride, int64_t p, int64_t d, float scale, float* restrict kt, float* restrict s) {
  transpose_keys(k, stride, p, d, kt);
  for (int64_t t = 0; t < p; t++) {
    const float* qt = q + t * stride;
    for (int64_t u = 0; u < p; u++) s[u] = 0.f;
    for (int64_t e = 0; e < d; e++) {
      float qe = qt[e] * scale;
      const float* row = kt + e * p;
      for (int64_t u = 0; u < p; u++) s[u] += qe * row[u];
    }
    softmax(s, p);
    float* ot = out + t * ostride;
    for (int64_t e = 0; e < d; e++) ot[e] = 0.f;
    for (int64_t u = 0; u < p; u++) {
      float w = s[u];
      const float* vu = v + u * stride;
      for (int64_t e = 0; e < d; e++) ot[e] += w * vu[e];
    }
  }
}

typedef float v16 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) v16 ld(const float* p) {
  v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline __attribute__((always_inline)) void st(float* p, v16 v) { memcpy(p, &v, sizeof v); }

/*
 * head() for p and d multiples of 16 with AVX-512: four queries at a time, their scores and then their outputs summed
 * in registers (4 x 4 vectors of 16) rather than through memory, as the products of winograd_conv.c. s holds 4 x p.
 */
V4_TARGET static void head_v4(const float* restrict q, const float* restrict k,
    const float* restrict v, int64_t stride, float* restrict out, int64_t ostride, int64_t p, int64_t d, float scale,
    float* restrict kt, float* restrict s) {
  transpose_keys(k, stride, p, d, kt);
  for (int64_t t0 = 0; t0 < p; t0 += 4) { /* p is a multiple of 16: always four queries */
    const float* qr[4];
    for (int r = 0; r < 4; r++) qr[r] = q + (t0 + r) * stride;
    for (int64_t u0 = 0; u0 < p; u0 += 64) { /* scores: 4 queries x up to 64 keys */
      int nv = p - u0 < 64 ? (int) ((p - u0) / 16) : 4;
      v16 acc[4][4];
      for (int r = 0; r < 4; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = (v16) {0};
      for (int64_t e = 0; e < d; e++) {
        const float* row = kt + e * p + u0;
        v16 kv[4];
        for (int i = 0; i < 4; i++) kv[i] = i < nv ? ld(row + 16 * i) : (v16) {0};
        for (int r = 0; r < 4; r++) {
          float qe = qr[r][e] * scale;
          for (int i = 0; i < 4; i++) acc[r][i] += qe * kv[i];
        }
      }
      for (int r = 0; r < 4; r++)
        for (int i = 0; i < nv; i++) st(s + r * p + u0 + 16 * i, acc[r][i]);
    }
    for (int r = 0; r < 4; r++) softmax(s + r * p, p);
    for (int64_t e0 = 0; e0 < d; e0 += 64) { /* outputs: 4 queries x up to 64 channels */
      int nv = d - e0 < 64 ? (int) ((d - e0) / 16) : 4;
      v16 acc[4][4];
      for (int r = 0; r < 4; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = (v16) {0};
      for (int64_t u = 0; u < p; u++) {
        const float* vu = v + u * stride + e0;
        v16 vv[4];
        for (int i = 0; i < 4; i++) vv[i] = i < nv ? ld(vu + 16 * i) : (v16) {0};
        for (int r = 0; r < 4; r++) {
          float w = s[r * p + u];
          for (int i = 0; i < 4; i++) acc[r][i] += w * vv[i];
        }
      }
      for (int r = 0; r < 4; r++)
        for (int i = 0; i < nv; i++) st(out + (t0 + r) * ostride + e0 + 16 * i, acc[r][i]);
    }
  }
}

static void* run_slice(void* arg) {
  Slice* sl = (Slice*) arg;
  const Job* j = (const Job*) sl->job;
  int64_t p = j->p, c = j->c, d = c / j->heads;
  float* kt = malloc(sizeof(float) * (size_t) (d * p));
  float* s = malloc(sizeof(float) * (size_t) (4 * p));
  int wide = p % 16 == 0 && d % 16 == 0 && use_v4();
  if (!kt || !s) {
    sl->failed = 1;
  } else {
    float scale = (float) (1.0 / sqrt((double) d));
    for (int64_t n = sl->from; n < sl->to; n++) {
      const float* base = j->qkv + n * p * 3 * c;
      for (int64_t h = 0; h < j->heads; h++) {
        (wide ? head_v4 : head)(base + h * d, base + c + h * d, base + 2 * c + h * d, 3 * c, j->a + n * p * c + h * d, c,
            p, d, scale, kt, s);
      }
    }
  }
  free(kt);
  free(s);
  return NULL;
}

typedef struct {
  int64_t heads, threads;
} Attrs;

static void* create(TF_OpKernelConstruction* ctx) {
  Attrs* a = new_attrs(ctx, sizeof(Attrs), "DdpmAttention");
  if (!a) return NULL;
  TF_Status* s = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrInt64(ctx, "heads", &a->heads, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "threads", &a->threads, s);
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return a;
}

static void destroy(void* a) { free(a); }

static void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs* at = (const Attrs*) kernel;
  TF_Status* s = TF_NewStatus();
  TF_Tensor* in = NULL;
  TF_Tensor* out = NULL;
  TF_GetInput(ctx, 0, &in, s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  if (TF_NumDims(in) != 4 || TF_Dim(in, 3) % (3 * at->heads) != 0 || TF_Dim(in, 3) < 3
      || TF_Dim(in, 1) * TF_Dim(in, 2) < 1) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmAttention: qkv must be NHWC with 3 * heads * d channels");
    goto done;
  }
  Job j = {.p = TF_Dim(in, 1) * TF_Dim(in, 2), .c = TF_Dim(in, 3) / 3, .heads = at->heads};
  int64_t n = TF_Dim(in, 0);
  int64_t dims[4] = {n, TF_Dim(in, 1), TF_Dim(in, 2), j.c};
  out = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, 4, sizeof(float) * (size_t) (n * j.p * j.c), s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  j.qkv = (const float*) TF_TensorData(in);
  j.a = (float*) TF_TensorData(out);
  if (n > 0 && run_slices(&j, n, (int) at->threads, run_slice) != 0) {
    fail(ctx, TF_INTERNAL, "DdpmAttention: out of memory");
  }
done:
  if (in) TF_DeleteTensor(in);
  if (out) TF_DeleteTensor(out);
  TF_DeleteStatus(s);
}

__attribute__((constructor)) static void register_attention(void) {
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder("DdpmAttention");
  TF_OpDefinitionBuilderAddInput(b, "qkv: float");
  TF_OpDefinitionBuilderAddOutput(b, "a: float");
  TF_OpDefinitionBuilderAddAttr(b, "heads: int >= 1 = 1");
  TF_OpDefinitionBuilderAddAttr(b, "threads: int = 1");
  register_float_op(b, "DdpmAttention", create, compute, destroy);
}
