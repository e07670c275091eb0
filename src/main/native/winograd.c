/*
 * The data transforms of a Winograd F(4x4, 3x3) convolution (Lavin and Gray 2016) as TensorFlow ops for float32
 * NHWC tensors on the CPU, each one pass through memory. A 3x3, stride-1, SAME convolution
 *   y = A^T [ (G w G^T) (.) (B^T d B) ] A   per 6x6 input tile d and 4x4 output tile,
 * becomes 36 matrix products: V[0..35] = DdpmWinogradInput(x), each [tiles, Cin]; U = G w G^T [36, Cin, Cout]
 * (TensorFlow ops, on the weights); M[k] = MatMul(V[k], U[k]) [tiles, Cout] (oneDNN); y = DdpmWinogradOutput(M[0..35])
 * [N, H, W, Cout]: 36 multiply-adds per 16 outputs and channel pair instead of 144. The 36 matrices travel as lists of
 * tensors, so no Pack or Unpack copies them. The transforms are linear, so each gradient is the adjoint transform:
 * DdpmWinogradInputGrad (dV[0..35] -> dx) and DdpmWinogradOutputGrad (dy -> dM[0..35]). Tiles cover the image from its
 * top-left corner: tile (i, j) of sample n has index (n * th + i) * tw + j, th = ceil(H / 4), tw = ceil(W / 4), and
 * reads the input rows 4i - 1 .. 4i + 4 (zero outside). Loaded by dev.ddpm4j.model.WinogradConv with the GroupNorm op
 * (one library); the training graph uses it, exported models never do.
 *
 * The channel count must be a multiple of 16: channels are the vector lanes (GCC vector extensions, so each
 * target_clones clone uses its widest registers). One thread owns a sample, so results do not depend on the thread
 * count.
 */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET and pthread_attr_setaffinity_np in slices.h */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slices.h"
#include "winograd.h"
#include "tf_c_api_subset.h"

enum { INPUT, INPUT_GRAD, OUTPUT, OUTPUT_GRAD };

typedef struct {
  int kind;
  int64_t n, h, w, c, th, tw, tiles; /* tiles: n * th * tw */
  const float* src;   /* the image read (INPUT, OUTPUT_GRAD) */
  float* dst;         /* the image written (INPUT_GRAD, OUTPUT) */
  float* part[36];    /* the 36 tile matrices [tiles, c], written or read */
  const float* zeros; /* c zeros: reads outside the image */
} Job;

/* Input row y (or -1 / H: outside) at column x of sample n, or the zeros. */
static inline const float* pixel(const Job* j, const float* base, int64_t n, int64_t y, int64_t x) {
  return image_pixel(base, j->zeros, j->h, j->w, j->c, n, y, x);
}

/* V[k][t] = (B^T d B)[k] for the tiles of samples [from, to). */
CLONES static void input_transform(const Job* j, int64_t from, int64_t to) {
  const int64_t c = j->c;
  for (int64_t n = from; n < to; n++) {
    for (int64_t ti = 0; ti < j->th; ti++) {
      for (int64_t tj = 0; tj < j->tw; tj++) {
        int64_t t = (n * j->th + ti) * j->tw + tj;
        const float* p[36];
        for (int a = 0; a < 6; a++) {
          for (int b = 0; b < 6; b++) p[a * 6 + b] = pixel(j, j->src, n, 4 * ti - 1 + a, 4 * tj - 1 + b);
        }
        float* dst[36];
        for (int q = 0; q < 36; q++) dst[q] = j->part[q] + t * c;
        for (int64_t k = 0; k < c; k += 16) input_tile(p, k, dst);
      }
    }
  }
}

/* dx = sum over tiles of (B dV B^T), accumulated into the pixels inside the image each tile read (dx zeroed first). */
CLONES static void input_gradient(const Job* j, int64_t from, int64_t to) {
  const int64_t c = j->c;
  memset(j->dst + from * j->h * j->w * c, 0, sizeof(float) * (size_t) ((to - from) * j->h * j->w * c));
  for (int64_t n = from; n < to; n++) {
    for (int64_t ti = 0; ti < j->th; ti++) {
      for (int64_t tj = 0; tj < j->tw; tj++) {
        int64_t t = (n * j->th + ti) * j->tw + tj;
        float* q[36];
        for (int a = 0; a < 6; a++) {
          for (int b = 0; b < 6; b++) {
            int64_t y = 4 * ti - 1 + a, x = 4 * tj - 1 + b;
            q[a * 6 + b] = y < 0 || y >= j->h || x < 0 || x >= j->w ? NULL
                : j->dst + ((n * j->h + y) * j->w + x) * c;
          }
        }
        for (int64_t k = 0; k < c; k += 16) {
          v16 tmp[6][6]; /* tmp[r][b] = (dV B^T)[r][b], then B tmp */
          for (int r = 0; r < 6; r++) {
            v16 u[6], o[6];
            for (int s = 0; s < 6; s++) u[s] = ld(j->part[r * 6 + s] + t * c + k);
            B(u, o);
            for (int b = 0; b < 6; b++) tmp[r][b] = o[b];
          }
          for (int b = 0; b < 6; b++) {
            v16 u[6], o[6];
            for (int r = 0; r < 6; r++) u[r] = tmp[r][b];
            B(u, o);
            for (int a = 0; a < 6; a++) {
              if (!q[a * 6 + b]) continue; /* padding: its gradient is dropped */
              float* d = q[a * 6 + b] + k;
              st(d, ld(d) + o[a]);
            }
          }
        }
      }
    }
  }
}

/* y = A^T M A per tile, the pixels inside the image written. */
CLONES static void output_transform(const Job* j, int64_t from, int64_t to, float* scratch) {
  const int64_t c = j->c;
  for (int64_t n = from; n < to; n++) {
    for (int64_t ti = 0; ti < j->th; ti++) {
      for (int64_t tj = 0; tj < j->tw; tj++) {
        int64_t t = (n * j->th + ti) * j->tw + tj;
        float* q[16];
        for (int a = 0; a < 4; a++) {
          for (int b = 0; b < 4; b++) {
            int64_t y = 4 * ti + a, x = 4 * tj + b;
            q[a * 4 + b] = y >= j->h || x >= j->w ? scratch : j->dst + ((n * j->h + y) * j->w + x) * c;
          }
        }
        const float* src[36];
        for (int q = 0; q < 36; q++) src[q] = j->part[q] + t * c;
        for (int64_t k = 0; k < c; k += 16) {
          v16 o[4][4];
          output_tile(src, k, o);
          for (int r = 0; r < 4; r++) {
            for (int s = 0; s < 4; s++) st(q[r * 4 + s] + k, o[r][s]);
          }
        }
      }
    }
  }
}

/* dM = A dY A^T per tile, dY zero outside the image. */
CLONES static void output_gradient(const Job* j, int64_t from, int64_t to) {
  const int64_t c = j->c;
  for (int64_t n = from; n < to; n++) {
    for (int64_t ti = 0; ti < j->th; ti++) {
      for (int64_t tj = 0; tj < j->tw; tj++) {
        int64_t t = (n * j->th + ti) * j->tw + tj;
        const float* p[16];
        for (int a = 0; a < 4; a++) {
          for (int b = 0; b < 4; b++) p[a * 4 + b] = pixel(j, j->src, n, 4 * ti + a, 4 * tj + b);
        }
        for (int64_t k = 0; k < c; k += 16) {
          v16 tmp[4][6]; /* tmp[r][s] = (dY A^T)[r][s] */
          for (int r = 0; r < 4; r++) {
            v16 u[4], o[6];
            for (int b = 0; b < 4; b++) u[b] = ld(p[r * 4 + b] + k);
            A(u, o);
            for (int s = 0; s < 6; s++) tmp[r][s] = o[s];
          }
          for (int s = 0; s < 6; s++) {
            v16 u[4], o[6];
            for (int r = 0; r < 4; r++) u[r] = tmp[r][s];
            A(u, o);
            for (int a = 0; a < 6; a++) st(j->part[a * 6 + s] + t * c + k, o[a]);
          }
        }
      }
    }
  }
}

static void* run_slice(void* arg) {
  Slice* s = (Slice*) arg;
  const Job* j = (const Job*) s->job;
  float* scratch = NULL;
  if (j->kind == OUTPUT) { /* where the outputs of partial tiles outside the image go */
    scratch = aligned_alloc(64, sizeof(float) * (size_t) j->c);
    if (!scratch) {
      s->failed = 1;
      return NULL;
    }
  }
  switch (j->kind) {
    case INPUT: input_transform(j, s->from, s->to); break;
    case INPUT_GRAD: input_gradient(j, s->from, s->to); break;
    case OUTPUT: output_transform(j, s->from, s->to, scratch); break;
    default: output_gradient(j, s->from, s->to); break;
  }
  free(scratch);
  return NULL;
}

typedef struct {
  int kind;
  int64_t height, width, threads;
} Attrs;

static void* create(TF_OpKernelConstruction* ctx, int kind) {
  Attrs* a = new_attrs(ctx, sizeof(Attrs), "DdpmWinograd");
  if (!a) return NULL;
  TF_Status* s = TF_NewStatus();
  a->kind = kind;
  int64_t parts = 0;
  image_attrs(ctx, "DdpmWinograd", &a->threads, &a->height, &a->width, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "N", &parts, s);
  if (TF_GetCode(s) == TF_OK && parts != 36) {
    TF_SetStatus(s, TF_INVALID_ARGUMENT, "DdpmWinograd: F(4x4, 3x3) has 36 tile matrices (N = 36)");
  }
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return a;
}

static void* create_input(TF_OpKernelConstruction* ctx) { return create(ctx, INPUT); }
static void* create_input_grad(TF_OpKernelConstruction* ctx) { return create(ctx, INPUT_GRAD); }
static void* create_output(TF_OpKernelConstruction* ctx) { return create(ctx, OUTPUT); }
static void* create_output_grad(TF_OpKernelConstruction* ctx) { return create(ctx, OUTPUT_GRAD); }

static void destroy(void* a) { free(a); }

/*
 * The image is [N, H, W, C]; the tiles are 36 matrices [T, C], T = N * ceil(H / 4) * ceil(W / 4). INPUT: image in, 36
 * tile matrices out; INPUT_GRAD: 36 in, image out; OUTPUT: 36 in, image out; OUTPUT_GRAD: image in, 36 out. The
 * height and width attributes give H and W, checked against the image where it is the input.
 */
static void compute(void* kernel, TF_OpKernelContext* ctx) {
  const Attrs* at = (const Attrs*) kernel;
  TF_Status* s = TF_NewStatus();
  TF_Tensor* in[36] = {0};
  TF_Tensor* out[36] = {0};
  int image_in = at->kind == INPUT || at->kind == OUTPUT_GRAD;
  int inputs = image_in ? 1 : 36;
  for (int i = 0; i < inputs && TF_GetCode(s) == TF_OK; i++) TF_GetInput(ctx, i, &in[i], s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  Job j = {.kind = at->kind, .h = at->height, .w = at->width};
  int64_t per = ((j.h + 3) / 4) * ((j.w + 3) / 4);
  if (image_in) {
    if (TF_NumDims(in[0]) != 4 || TF_Dim(in[0], 1) != j.h || TF_Dim(in[0], 2) != j.w) {
      fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinograd: the image must be NHWC with the height and width attributes");
      goto done;
    }
    j.n = TF_Dim(in[0], 0);
    j.c = TF_Dim(in[0], 3);
  } else {
    for (int i = 0; i < 36; i++) {
      if (TF_NumDims(in[i]) != 2 || TF_Dim(in[i], 0) != TF_Dim(in[0], 0) || TF_Dim(in[i], 1) != TF_Dim(in[0], 1)
          || TF_Dim(in[0], 0) % per != 0) {
        fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinograd: the 36 tile matrices must be [tiles, channels] alike, tiles a"
            " multiple of the tiles per image");
        goto done;
      }
      j.part[i] = (float*) TF_TensorData(in[i]); /* read only */
    }
    j.n = TF_Dim(in[0], 0) / per;
    j.c = TF_Dim(in[0], 1);
  }
  if (j.c % 16 != 0 || j.c < 16) {
    fail(ctx, TF_INVALID_ARGUMENT, "DdpmWinograd: the channel count must be a positive multiple of 16");
    goto done;
  }
  j.th = (j.h + 3) / 4;
  j.tw = (j.w + 3) / 4;
  j.tiles = j.n * j.th * j.tw;
  if (image_in) {
    int64_t dims[2] = {j.tiles, j.c};
    size_t bytes = sizeof(float) * (size_t) (j.tiles * j.c);
    for (int i = 0; i < 36 && TF_GetCode(s) == TF_OK; i++) {
      out[i] = TF_AllocateOutput(ctx, i, TF_FLOAT, dims, 2, bytes, s);
      if (TF_GetCode(s) == TF_OK) j.part[i] = (float*) TF_TensorData(out[i]);
    }
    j.src = (const float*) TF_TensorData(in[0]);
  } else {
    int64_t dims[4] = {j.n, j.h, j.w, j.c};
    out[0] = TF_AllocateOutput(ctx, 0, TF_FLOAT, dims, 4, sizeof(float) * (size_t) (j.n * j.h * j.w * j.c), s);
    if (TF_GetCode(s) == TF_OK) j.dst = (float*) TF_TensorData(out[0]);
  }
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelContext_Failure(ctx, s);
    goto done;
  }
  run_with_zeros(ctx, "DdpmWinograd", &j.zeros, j.c, &j, j.n, (int) at->threads, run_slice);
done:
  for (int i = 0; i < 36; i++) {
    if (in[i]) TF_DeleteTensor(in[i]);
    if (out[i]) TF_DeleteTensor(out[i]);
  }
  TF_DeleteStatus(s);
}

static void register_op(const char* name, const char* input, const char* output,
    void* (*create_fn)(TF_OpKernelConstruction*)) {
  TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder(name);
  TF_OpDefinitionBuilderAddInput(b, input);
  TF_OpDefinitionBuilderAddOutput(b, output);
  TF_OpDefinitionBuilderAddAttr(b, "N: int = 36");
  TF_OpDefinitionBuilderAddAttr(b, "threads: int = 1");
  TF_OpDefinitionBuilderAddAttr(b, "height: int >= 1");
  TF_OpDefinitionBuilderAddAttr(b, "width: int >= 1");
  register_float_op(b, name, create_fn, compute, destroy);
}

__attribute__((constructor)) static void register_winograd_ops(void) {
  register_op("DdpmWinogradInput", "x: float", "v: N * float", create_input);
  register_op("DdpmWinogradInputGrad", "dv: N * float", "dx: float", create_input_grad);
  register_op("DdpmWinogradOutput", "m: N * float", "y: float", create_output);
  register_op("DdpmWinogradOutputGrad", "dy: float", "dm: N * float", create_output_grad);
}
