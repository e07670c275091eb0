/*
 * GroupNorm followed by SiLU (or GroupNorm alone) as one TensorFlow op, forward and gradient, for float32 and
 * bfloat16 NHWC activations on the CPU. TensorFlow runs the same layer as 12-20 separate element-wise ops and
 * reductions, each a pass over the activation through memory; here one sample's activation is read a few times while
 * it sits in the core's cache and written once. Loaded by dev.ddpm4j.model.FusedGroupNorm; the training graph uses it,
 * exported models never do (they stay plain TensorFlow). DdpmGroupNormSiluConcat (forward, float32, no dropout) takes
 * x as two tensors, its channels split, and gathers a sample's two parts side by side in the thread's buffer: the
 * fp32-fast sampling graph's up-path blocks, whose concatenated input is then never written (the same bits as this op
 * on the concatenation).
 *
 * Forward, per sample n and group g over its M = H*W*C/G elements (two-pass variance, as UNet.groupNorm):
 *   mu = mean(x), var = mean((x - mu)^2), rstd = 1/sqrt(var + eps),
 *   z = (x - mu) * rstd * gamma[c] + beta[c],  y = silu ? z * sigmoid(z) : z.
 * Gradient, with xhat = (x - mu) * rstd and dz = dy * d y/d z (sigmoid(z) * (1 + z * (1 - sigmoid(z))) for SiLU):
 *   dbeta[c] = sum dz, dgamma[c] = sum dz * xhat (over n, h, w),
 *   dx = rstd * (gamma[c] dz - mean_g(gamma dz) - xhat * mean_g(gamma dz xhat)).
 * Per-channel sums are float32, the group and batch reductions over them double, for either input type; one thread
 * owns a sample, so results do not depend on the thread count (they may differ in the last bits between CPUs: each
 * vector width has its own clone and summation order). Sigmoid is computed as 1 / (1 + e) or e / (1 + e) with
 * e = exp(-|z|) <= 1, which cannot overflow: under -ffast-math gcc divides vectors through an approximate reciprocal,
 * and the reciprocal of an overflowed 1 + exp(-z) would give NaN where SiLU is -0.
 *
 * With rate > 0 (SiLU only) the op also applies dropout: y = SiLU(z) * mask, mask = 1/(1 - rate) or 0, and the gradient
 * multiplies by the same mask. The mask of element i (its index in the whole tensor) is a function of (key, i) only: a
 * 32-bit integer hash (two rounds of the "lowbias32" mixer) of i and the two 32-bit words drawn from the key, whose top
 * 24 bits u are kept when u >= round(rate * 2^24). So it needs no random-number op and no stored mask: the gradient
 * recomputes it, and the same (key, i) gives the same mask on any thread count.
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

static inline float bf16_to_f32(uint16_t v) {
  uint32_t u = (uint32_t) v << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Round to nearest even, as TensorFlow's float -> bfloat16 cast; a NaN stays a (quiet) NaN. */
static inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t) ((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t) (u >> 16);
}

/* sigmoid(z) without overflow for any z (see the top of the file). */
static inline float sigmoid(float z) {
  float e = expf(-fabsf(z));
  float r = 1.f / (1.f + e);
  return z >= 0.f ? r : e * r;
}

static inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

/* Dropout parameters: the two key words, the threshold on 24 bits and the kept values' scale. */
typedef struct {
  uint32_t s0, s1, threshold;
  float scale;
} Mask;

static inline float mask_at(const Mask* m, uint32_t i) {
  return (mix32(mix32(i ^ m->s0) + m->s1) >> 8) >= m->threshold ? m->scale : 0.f;
}

typedef struct {
  int64_t n, p, c, g; /* batch, pixels per sample, channels, groups */
  int bf16, silu, dropout;
  float eps;
  Mask mask;
  const void* x;
  const float* x2;    /* DdpmGroupNormSiluConcat: x's last c - c1 channels (x has c1), else NULL */
  int64_t c1;
  const void* dy;
  const float* gamma; /* as float32, c values */
  const float* beta;
  void* y;            /* forward: y; gradient: dx */
  float* mean;        /* [n, g] */
  float* rstd;        /* [n, g] */
  float* sum_dz;      /* gradient: [n, c] partial sums for dbeta */
  float* sum_dzxh;    /* gradient: [n, c] partial sums for dgamma */
} Job;

/* One sample's activation as float32: a copy for bfloat16 (0.5-4 MB for the models here: in L2 or L3). */
CLONES static void widen(const uint16_t* restrict src, int64_t len, float* restrict dst) {
  for (int64_t i = 0; i < len; i++) dst[i] = bf16_to_f32(src[i]);
}

CLONES static void narrow(const float* restrict src, int64_t len, uint16_t* restrict dst) {
  for (int64_t i = 0; i < len; i++) dst[i] = f32_to_bf16(src[i]);
}

static const float* sample_f32(const Job* j, const void* base, int64_t n, float* buf) {
  int64_t len = j->p * j->c;
  if (j->x2 && base == j->x) { /* the two inputs' pixels side by side, gathered while they pass through the cache */
    int64_t c1 = j->c1, c2 = j->c - c1;
    const float* a = (const float*) base + n * j->p * c1;
    const float* b = j->x2 + n * j->p * c2;
    for (int64_t i = 0; i < j->p; i++) {
      memcpy(buf + i * j->c, a + i * c1, sizeof(float) * (size_t) c1);
      memcpy(buf + i * j->c + c1, b + i * c2, sizeof(float) * (size_t) c2);
    }
    return buf;
  }
  if (!j->bf16) return (const float*) base + n * len;
  widen((const uint16_t*) base + n * len, len, buf);
  return buf;
}

/* Where sample n's float32 result is computed: the output itself for float32 (no copy), else work, which store
 * narrows into the output. */
static float* result_f32(const Job* j, int64_t n, float* work) {
  return j->bf16 ? work : (float*) j->y + n * j->p * j->c;
}

static void store(const Job* j, int64_t n, const float* v) {
  if (j->bf16) narrow(v, j->p * j->c, (uint16_t*) j->y + n * j->p * j->c);
}

/* Per-channel sums over the pixels of one sample: acc[c] = sum_p v[p, c]. */
CLONES static void channel_sums(const float* restrict v, int64_t p, int64_t c, float* restrict acc) {
  for (int64_t k = 0; k < c; k++) acc[k] = 0.f;
  for (int64_t i = 0; i < p; i++) {
    const float* row = v + i * c;
    for (int64_t k = 0; k < c; k++) acc[k] += row[k];
  }
}

CLONES static void channel_sq_dev(const float* restrict v, int64_t p, int64_t c, const float* restrict mu,
    float* restrict acc) {
  for (int64_t k = 0; k < c; k++) acc[k] = 0.f;
  for (int64_t i = 0; i < p; i++) {
    const float* row = v + i * c;
    for (int64_t k = 0; k < c; k++) {
      float d = row[k] - mu[k];
      acc[k] += d * d;
    }
  }
}

CLONES static void normalize(const float* restrict v, int64_t p, int64_t c, const float* restrict a,
    const float* restrict b, int silu, float* restrict out) {
  for (int64_t i = 0; i < p; i++) {
    const float* row = v + i * c;
    float* o = out + i * c;
    if (silu) {
      for (int64_t k = 0; k < c; k++) {
        float z = row[k] * a[k] + b[k];
        o[k] = z * sigmoid(z);
      }
    } else {
      for (int64_t k = 0; k < c; k++) o[k] = row[k] * a[k] + b[k];
    }
  }
}

/* SiLU then dropout; base is the sample's first element index in the tensor. */
CLONES static void normalize_dropout(const float* restrict v, int64_t p, int64_t c, const float* restrict a,
    const float* restrict b, Mask m, uint32_t base, float* restrict out) {
  for (int64_t i = 0; i < p; i++) {
    const float* row = v + i * c;
    float* o = out + i * c;
    uint32_t first = base + (uint32_t) (i * c);
    for (int64_t k = 0; k < c; k++) {
      float z = row[k] * a[k] + b[k];
      o[k] = z * sigmoid(z) * mask_at(&m, first + (uint32_t) k);
    }
  }
}

/* dz = dy * dy/dz into out, with per-channel sums of dz and dz * xhat. */
CLONES static void grad_pass1(const float* restrict v, const float* restrict dy, int64_t p, int64_t c,
    const float* restrict mu, const float* restrict rs, const float* restrict gm, const float* restrict bt, int silu,
    int dropout, Mask m, uint32_t base, float* restrict out, float* restrict sdz, float* restrict sdzx) {
  for (int64_t k = 0; k < c; k++) sdz[k] = sdzx[k] = 0.f;
  for (int64_t i = 0; i < p; i++) {
    const float* restrict row = v + i * c;
    const float* restrict drow = dy + i * c;
    float* restrict o = out + i * c;
    if (dropout) {
      uint32_t first = base + (uint32_t) (i * c);
      for (int64_t k = 0; k < c; k++) {
        float xh = (row[k] - mu[k]) * rs[k];
        float z = xh * gm[k] + bt[k];
        float s = sigmoid(z);
        float dz = drow[k] * mask_at(&m, first + (uint32_t) k) * s * (1.f + z * (1.f - s));
        o[k] = dz;
        sdz[k] += dz;
        sdzx[k] += dz * xh;
      }
    } else if (silu) {
      for (int64_t k = 0; k < c; k++) {
        float xh = (row[k] - mu[k]) * rs[k];
        float z = xh * gm[k] + bt[k];
        float s = sigmoid(z);
        float dz = drow[k] * s * (1.f + z * (1.f - s));
        o[k] = dz;
        sdz[k] += dz;
        sdzx[k] += dz * xh;
      }
    } else {
      for (int64_t k = 0; k < c; k++) {
        float xh = (row[k] - mu[k]) * rs[k];
        float dz = drow[k];
        o[k] = dz;
        sdz[k] += dz;
        sdzx[k] += dz * xh;
      }
    }
  }
}

CLONES static void grad_pass2(const float* restrict v, float* restrict dz, int64_t p, int64_t c,
    const float* restrict mu, const float* restrict rs, const float* restrict gm, const float* restrict m1,
    const float* restrict m2) {
  for (int64_t i = 0; i < p; i++) {
    const float* row = v + i * c;
    float* d = dz + i * c;
    for (int64_t k = 0; k < c; k++) {
      float xh = (row[k] - mu[k]) * rs[k];
      d[k] = rs[k] * (gm[k] * d[k] - m1[k] - xh * m2[k]);
    }
  }
}

static void* run_slice(void* arg) {
  Slice* s = (Slice*) arg;
  const Job* j = (const Job*) s->job;
  int64_t c = j->c, g = j->g, cg = c / g, len = j->p * c;
  double m = (double) (j->p * cg);
  /* float32 reads the tensor in place, unless it is two */
  float* xbuf = j->bf16 || j->x2 ? malloc(sizeof(float) * (size_t) len) : NULL;
  float* dybuf = j->bf16 && j->dy ? malloc(sizeof(float) * (size_t) len) : NULL;
  float* work = j->bf16 ? malloc(sizeof(float) * (size_t) len) : NULL; /* float32 writes the output in place */
  float* ch = malloc(sizeof(float) * (size_t) (7 * c));
  if (!ch || (j->bf16 && (!xbuf || !work)) || (j->x2 && !xbuf) || (j->bf16 && j->dy && !dybuf)) {
    s->failed = 1;
  } else {
    float *acc = ch, *mu = ch + c, *rs = ch + 2 * c, *a = ch + 3 * c, *b = ch + 4 * c, *m1 = ch + 5 * c,
          *m2 = ch + 6 * c;
    for (int64_t n = s->from; n < s->to; n++) {
      const float* x = sample_f32(j, j->x, n, xbuf);
      if (!j->dy) { /* forward */
        channel_sums(x, j->p, c, acc);
        for (int64_t q = 0; q < g; q++) {
          double t = 0;
          for (int64_t k = q * cg; k < (q + 1) * cg; k++) t += acc[k];
          float mq = (float) (t / m);
          j->mean[n * g + q] = mq;
          for (int64_t k = q * cg; k < (q + 1) * cg; k++) mu[k] = mq;
        }
        channel_sq_dev(x, j->p, c, mu, acc);
        for (int64_t q = 0; q < g; q++) {
          double t = 0;
          for (int64_t k = q * cg; k < (q + 1) * cg; k++) t += acc[k];
          float r = (float) (1.0 / sqrt(t / m + (double) j->eps));
          j->rstd[n * g + q] = r;
          for (int64_t k = q * cg; k < (q + 1) * cg; k++) {
            a[k] = j->gamma[k] * r;
            b[k] = j->beta[k] - mu[k] * a[k];
          }
        }
        float* out = result_f32(j, n, work);
        if (j->dropout) {
          normalize_dropout(x, j->p, c, a, b, j->mask, (uint32_t) (n * len), out);
        } else {
          normalize(x, j->p, c, a, b, j->silu, out);
        }
        store(j, n, out);
      } else { /* gradient */
        const float* dy = sample_f32(j, j->dy, n, dybuf);
        for (int64_t k = 0; k < c; k++) {
          mu[k] = j->mean[n * g + k / cg];
          rs[k] = j->rstd[n * g + k / cg];
        }
        float* sdz = j->sum_dz + n * c;
        float* sdzx = j->sum_dzxh + n * c;
        float* dz = result_f32(j, n, work); /* dz, then dx in place */
        grad_pass1(x, dy, j->p, c, mu, rs, j->gamma, j->beta, j->silu, j->dropout, j->mask, (uint32_t) (n * len),
            dz, sdz, sdzx);
        for (int64_t q = 0; q < g; q++) {
          double t1 = 0, t2 = 0;
          for (int64_t k = q * cg; k < (q + 1) * cg; k++) {
            t1 += (double) j->gamma[k] * sdz[k];
            t2 += (double) j->gamma[k] * sdzx[k];
          }
          for (int64_t k = q * cg; k < (q + 1) * cg; k++) {
            m1[k] = (float) (t1 / m);
            m2[k] = (float) (t2 / m);
          }
        }
        grad_pass2(x, dz, j->p, c, mu, rs, j->gamma, m1, m2);
        store(j, n, dz);
      }
    }
  }
  free(xbuf);
  free(work);
  free(dybuf);
  free(ch);
  return NULL;
}

typedef struct {
  int64_t groups, threads;
  float eps, rate;
  int silu;
} Attrs;

static void* create(TF_OpKernelConstruction* ctx) {
  Attrs* a = new_attrs(ctx, sizeof(Attrs), "DdpmGroupNormSilu");
  if (!a) return NULL;
  TF_Status* st = TF_NewStatus();
  TF_Bool silu = 1;
  TF_OpKernelConstruction_GetAttrInt64(ctx, "groups", &a->groups, st);
  if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "threads", &a->threads, st);
  if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(ctx, "eps", &a->eps, st);
  if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrBool(ctx, "silu", &silu, st);
  if (TF_GetCode(st) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(ctx, "rate", &a->rate, st);
  a->silu = silu != 0;
  if (TF_GetCode(st) == TF_OK && (a->rate < 0.f || a->rate >= 1.f || (a->rate > 0.f && !a->silu))) {
    TF_SetStatus(st, TF_INVALID_ARGUMENT, "DdpmGroupNormSilu: rate must be in [0, 1), and dropout needs silu");
  }
  if (TF_GetCode(st) != TF_OK) TF_OpKernelConstruction_Failure(ctx, st);
  TF_DeleteStatus(st);
  return a;
}

static void destroy(void* a) { free(a); }

/* gamma or beta (c values of x's type) as float32 into out; 0 if the shape is wrong. */
static int param_f32(const TF_Tensor* t, int bf16, int64_t c, float* out) {
  if (TF_NumDims(t) != 1 || TF_Dim(t, 0) != c) return 0;
  for (int64_t k = 0; k < c; k++) {
    out[k] = bf16 ? bf16_to_f32(((const uint16_t*) TF_TensorData(t))[k]) : ((const float*) TF_TensorData(t))[k];
  }
  return 1;
}

static TF_Tensor* output(TF_OpKernelContext* ctx, int i, TF_DataType type, const int64_t* dims, int rank,
    TF_Status* st) {
  size_t bytes = type == TF_BFLOAT16 ? 2 : 4;
  for (int r = 0; r < rank; r++) bytes *= (size_t) dims[r];
  return TF_AllocateOutput(ctx, i, type, dims, rank, bytes, st);
}

/*
 * Shared by the three kernels. Inputs: forward (x, gamma, beta, key), gradient (dy, x, gamma, beta, mean, rstd, key),
 * concat (x, x2, gamma, beta: GroupNorm of their concatenation along the channels, float32, no dropout). Outputs:
 * forward and concat (y, mean, rstd), gradient (dx, dgamma, dbeta).
 */
static void compute(void* kernel, TF_OpKernelContext* ctx, int grad, int concat) {
  const Attrs* at = (const Attrs*) kernel;
  TF_Status* st = TF_NewStatus();
  TF_Tensor* in[7] = {0};
  TF_Tensor* out[3] = {0};
  float* gb = NULL;
  float* partial = NULL;
  int inputs = grad ? 7 : 4; /* the key is the last (concat: none) */
  for (int i = 0; i < inputs && TF_GetCode(st) == TF_OK; i++) TF_GetInput(ctx, i, &in[i], st);
  if (TF_GetCode(st) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, st);
    goto done;
  }
  const TF_Tensor* x = in[grad ? 1 : 0];
  const TF_Tensor* x2 = concat ? in[1] : NULL;
  TF_DataType type = TF_TensorType(x);
  int bf16 = type == TF_BFLOAT16;
  if (TF_NumDims(x) != 4) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSilu: x must be NHWC, rank 4");
    goto done;
  }
  if (x2 && (TF_NumDims(x2) != 4 || TF_Dim(x2, 0) != TF_Dim(x, 0) || TF_Dim(x2, 1) != TF_Dim(x, 1)
      || TF_Dim(x2, 2) != TF_Dim(x, 2))) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSiluConcat: x2 must be NHWC with x's batch, height and width");
    goto done;
  }
  if (x2 && at->rate > 0.f) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSiluConcat: no dropout (rate must be 0)");
    goto done;
  }
  int64_t n = TF_Dim(x, 0), p = TF_Dim(x, 1) * TF_Dim(x, 2), c = TF_Dim(x, 3) + (x2 ? TF_Dim(x2, 3) : 0);
  int64_t g = at->groups;
  if (g < 1 || c % g != 0) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSilu: the channel count must be a multiple of groups");
    goto done;
  }
  gb = malloc(sizeof(float) * (size_t) (2 * c));
  int pi = grad || concat ? 2 : 1; /* gamma's input; beta follows */
  if (!gb || !param_f32(in[pi], bf16, c, gb) || !param_f32(in[pi + 1], bf16, c, gb + c)) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSilu: gamma and beta must be vectors of x's channel count");
    goto done;
  }
  Job j = {.n = n, .p = p, .c = c, .g = g, .bf16 = bf16, .silu = at->silu, .eps = at->eps, .x = TF_TensorData(x),
      .gamma = gb, .beta = gb + c};
  if (x2) {
    j.x2 = (const float*) TF_TensorData(x2);
    j.c1 = TF_Dim(x, 3);
  }
  if (at->rate > 0.f) {
    const TF_Tensor* key = in[inputs - 1];
    if (TF_NumDims(key) != 1 || TF_Dim(key, 0) != 2) {
      fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSilu: key must be an int64 vector of 2");
      goto done;
    }
    const int64_t* k = (const int64_t*) TF_TensorData(key);
    uint64_t k0 = (uint64_t) k[0], k1 = (uint64_t) k[1];
    j.dropout = 1;
    j.mask.s0 = mix32((uint32_t) k0 ^ mix32((uint32_t) (k0 >> 32) + 0x9e3779b9u));
    j.mask.s1 = mix32((uint32_t) k1 ^ mix32((uint32_t) (k1 >> 32) + 0x85ebca6bu) ^ j.mask.s0);
    /* an element is dropped with probability threshold / 2^24 (within 2^-25 of rate); the scale is its exact inverse */
    j.mask.threshold = (uint32_t) lrint((double) at->rate * 16777216.0);
    j.mask.scale = (float) (16777216.0 / (16777216.0 - (double) j.mask.threshold));
    if (n * p * c > 4294967296LL) {
      fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSilu: dropout indexes at most 2^32 elements");
      goto done;
    }
  }
  int64_t xdims[4] = {TF_Dim(x, 0), TF_Dim(x, 1), TF_Dim(x, 2), c};
  int64_t sdims[2] = {n, g};
  out[0] = output(ctx, 0, type, xdims, 4, st);
  if (TF_GetCode(st) != TF_OK) goto alloc_failed;
  j.y = TF_TensorData(out[0]);
  if (!grad) {
    out[1] = output(ctx, 1, TF_FLOAT, sdims, 2, st);
    if (TF_GetCode(st) == TF_OK) out[2] = output(ctx, 2, TF_FLOAT, sdims, 2, st);
    if (TF_GetCode(st) != TF_OK) goto alloc_failed;
    j.mean = (float*) TF_TensorData(out[1]);
    j.rstd = (float*) TF_TensorData(out[2]);
  } else {
    if (TF_NumDims(in[0]) != 4 || TF_Dim(in[0], 0) != n || TF_Dim(in[0], 1) != TF_Dim(x, 1)
        || TF_Dim(in[0], 2) != TF_Dim(x, 2) || TF_Dim(in[0], 3) != c || TF_TensorType(in[0]) != type) {
      fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSiluGrad: dy must have x's shape and type");
      goto done;
    }
    for (int i = 4; i < 6; i++) {
      if (TF_NumDims(in[i]) != 2 || TF_Dim(in[i], 0) != n || TF_Dim(in[i], 1) != g || TF_TensorType(in[i]) != TF_FLOAT) {
        fail(ctx, TF_INVALID_ARGUMENT, "DdpmGroupNormSiluGrad: mean and rstd must be float32 [batch, groups]");
        goto done;
      }
    }
    j.dy = TF_TensorData(in[0]);
    j.mean = (float*) TF_TensorData(in[4]);
    j.rstd = (float*) TF_TensorData(in[5]);
    partial = malloc(sizeof(float) * (size_t) (2 * n * c + 1));
    if (!partial) {
      fail(ctx, TF_INTERNAL, "DdpmGroupNormSiluGrad: out of memory");
      goto done;
    }
    j.sum_dz = partial;
    j.sum_dzxh = partial + n * c;
    int64_t cdims[1] = {c};
    out[1] = output(ctx, 1, type, cdims, 1, st);
    if (TF_GetCode(st) == TF_OK) out[2] = output(ctx, 2, type, cdims, 1, st);
    if (TF_GetCode(st) != TF_OK) goto alloc_failed;
  }
  if (run_slices(&j, j.n, (int) at->threads, run_slice) != 0) {
    fail(ctx, TF_INTERNAL, "DdpmGroupNormSilu: out of memory");
    goto done;
  }
  if (grad) { /* dgamma, dbeta: sums over the batch in sample order */
    for (int64_t k = 0; k < c; k++) {
      double dg = 0, db = 0;
      for (int64_t i = 0; i < n; i++) {
        dg += j.sum_dzxh[i * c + k];
        db += j.sum_dz[i * c + k];
      }
      if (bf16) {
        ((uint16_t*) TF_TensorData(out[1]))[k] = f32_to_bf16((float) dg);
        ((uint16_t*) TF_TensorData(out[2]))[k] = f32_to_bf16((float) db);
      } else {
        ((float*) TF_TensorData(out[1]))[k] = (float) dg;
        ((float*) TF_TensorData(out[2]))[k] = (float) db;
      }
    }
  }
  goto done;
alloc_failed:
  TF_OpKernelContext_Failure(ctx, st);
done:
  for (int i = 0; i < 7; i++) {
    if (in[i]) TF_DeleteTensor(in[i]);
  }
  for (int i = 0; i < 3; i++) {
    if (out[i]) TF_DeleteTensor(out[i]);
  }
  free(gb);
  free(partial);
  TF_DeleteStatus(st);
}

static void compute_forward(void* k, TF_OpKernelContext* ctx) { compute(k, ctx, 0, 0); }

static void compute_grad(void* k, TF_OpKernelContext* ctx) { compute(k, ctx, 1, 0); }

static void compute_concat(void* k, TF_OpKernelContext* ctx) { compute(k, ctx, 0, 1); }

static void shape_forward(TF_ShapeInferenceContext* ctx, TF_Status* st) {
  TF_ShapeHandle* h = TF_NewShapeHandle();
  TF_ShapeInferenceContextSetUnknownShape(ctx, st);
  if (TF_GetCode(st) == TF_OK) TF_ShapeInferenceContextGetInput(ctx, 0, h, st);
  if (TF_GetCode(st) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, h, st);
  TF_DeleteShapeHandle(h);
}

static void shape_grad(TF_ShapeInferenceContext* ctx, TF_Status* st) {
  TF_ShapeInferenceContextSetUnknownShape(ctx, st);
  for (int i = 0; i < 3 && TF_GetCode(st) == TF_OK; i++) { /* dx ~ x, dgamma ~ gamma, dbeta ~ beta */
    TF_ShapeHandle* h = TF_NewShapeHandle();
    TF_ShapeInferenceContextGetInput(ctx, i + 1, h, st);
    if (TF_GetCode(st) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, i, h, st);
    TF_DeleteShapeHandle(h);
  }
}

static void add_attrs(TF_OpDefinitionBuilder* b, int typed) {
  if (typed) TF_OpDefinitionBuilderAddAttr(b, "T: {float, bfloat16}");
  TF_OpDefinitionBuilderAddAttr(b, "groups: int >= 1");
  TF_OpDefinitionBuilderAddAttr(b, "eps: float = 1e-5");
  TF_OpDefinitionBuilderAddAttr(b, "silu: bool = true");
  TF_OpDefinitionBuilderAddAttr(b, "threads: int = 1");
  TF_OpDefinitionBuilderAddAttr(b, "rate: float = 0");
}

static void register_kernels(const char* op, void (*fn)(void*, TF_OpKernelContext*), TF_Status* st) {
  TF_DataType types[2] = {TF_FLOAT, TF_BFLOAT16};
  for (int i = 0; i < 2 && TF_GetCode(st) == TF_OK; i++) {
    TF_KernelBuilder* kb = TF_NewKernelBuilder(op, "CPU", create, fn, destroy);
    TF_KernelBuilder_TypeConstraint(kb, "T", types[i], st);
    char name[96];
    snprintf(name, sizeof name, "%s_cpu_%s", op, i == 0 ? "float" : "bfloat16");
    if (TF_GetCode(st) == TF_OK) {
      TF_RegisterKernelBuilder(name, kb, st);
    } else {
      TF_DeleteKernelBuilder(kb);
    }
  }
}

__attribute__((constructor)) static void register_ops(void) {
  TF_Status* st = TF_NewStatus();
  TF_OpDefinitionBuilder* f = TF_NewOpDefinitionBuilder("DdpmGroupNormSilu");
  TF_OpDefinitionBuilderAddInput(f, "x: T");
  TF_OpDefinitionBuilderAddInput(f, "gamma: T");
  TF_OpDefinitionBuilderAddInput(f, "beta: T");
  TF_OpDefinitionBuilderAddInput(f, "key: int64");
  TF_OpDefinitionBuilderAddOutput(f, "y: T");
  TF_OpDefinitionBuilderAddOutput(f, "mean: float");
  TF_OpDefinitionBuilderAddOutput(f, "rstd: float");
  add_attrs(f, 1);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(f, shape_forward);
  TF_RegisterOpDefinition(f, st);

  TF_OpDefinitionBuilder* gr = TF_NewOpDefinitionBuilder("DdpmGroupNormSiluGrad");
  TF_OpDefinitionBuilderAddInput(gr, "dy: T");
  TF_OpDefinitionBuilderAddInput(gr, "x: T");
  TF_OpDefinitionBuilderAddInput(gr, "gamma: T");
  TF_OpDefinitionBuilderAddInput(gr, "beta: T");
  TF_OpDefinitionBuilderAddInput(gr, "mean: float");
  TF_OpDefinitionBuilderAddInput(gr, "rstd: float");
  TF_OpDefinitionBuilderAddInput(gr, "key: int64");
  TF_OpDefinitionBuilderAddOutput(gr, "dx: T");
  TF_OpDefinitionBuilderAddOutput(gr, "dgamma: T");
  TF_OpDefinitionBuilderAddOutput(gr, "dbeta: T");
  add_attrs(gr, 1);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(gr, shape_grad);
  if (TF_GetCode(st) == TF_OK) {
    TF_RegisterOpDefinition(gr, st);
  } else {
    TF_DeleteOpDefinitionBuilder(gr);
  }

  if (TF_GetCode(st) == TF_OK) register_kernels("DdpmGroupNormSilu", compute_forward, st);
  if (TF_GetCode(st) == TF_OK) register_kernels("DdpmGroupNormSiluGrad", compute_grad, st);
  if (TF_GetCode(st) != TF_OK) fprintf(stderr, "ddpm4j: registering DdpmGroupNormSilu failed (code %d)\n",
      (int) TF_GetCode(st));
  TF_DeleteStatus(st);

  /* GroupNorm of concat(x, x2) along the channels without the concatenation written first: forward only, float32 (the
   * fp32-fast sampling graph's up-path blocks; dev.ddpm4j.model.FusedGroupNorm#applyConcat) */
  TF_OpDefinitionBuilder* cc = TF_NewOpDefinitionBuilder("DdpmGroupNormSiluConcat");
  TF_OpDefinitionBuilderAddInput(cc, "x: float");
  TF_OpDefinitionBuilderAddInput(cc, "x2: float");
  TF_OpDefinitionBuilderAddInput(cc, "gamma: float");
  TF_OpDefinitionBuilderAddInput(cc, "beta: float");
  TF_OpDefinitionBuilderAddOutput(cc, "y: float");
  TF_OpDefinitionBuilderAddOutput(cc, "mean: float");
  TF_OpDefinitionBuilderAddOutput(cc, "rstd: float");
  add_attrs(cc, 0);
  register_float_op(cc, "DdpmGroupNormSiluConcat", create, compute_concat, destroy);
}
