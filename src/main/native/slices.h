/*
 * What ddpm4j's ops share: a job over samples [0, n) split into contiguous slices, one per thread (the caller's thread
 * takes the first; one a thread could not be started for runs on the caller's thread too), and failing an op with a
 * message. Static: each op's file includes its own copy.
 */
#ifndef DDPM4J_SLICES_H_
#define DDPM4J_SLICES_H_

#ifndef _GNU_SOURCE
#error "define _GNU_SOURCE before any include: slices.h needs sched_getcpu and pthread_attr_setaffinity_np"
#endif

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "tf_c_api_subset.h"

typedef struct {
  const void* job;
  int64_t from, to;
  int failed; /* set by the slice's function: out of memory */
  void* (*run)(void*);
  int unpin;         /* the thread started on another CPU than its caller's: it then allows itself all of these */
  cpu_set_t allowed; /* the caller's CPUs */
} Slice;

/* A started slice: back to all of the caller's CPUs (it began on one the caller was not on), then its work. */
static void* slice_thread(void* arg) {
  Slice* s = (Slice*) arg;
  if (s->unpin) sched_setaffinity(0, sizeof s->allowed, &s->allowed);
  return s->run(s);
}

/* Runs run(slice) over n samples on up to threads threads (at most 64, at most n); -1 if a slice failed. */
static int run_slices(const void* job, int64_t n, int threads, void* (*run)(void*)) {
  if (threads < 1) threads = 1;
  if (threads > n) threads = (int) (n > 0 ? n : 1);
  if (threads > 64) threads = 64;
  Slice slices[64];
  pthread_t ids[64];
  int started[64] = {0};
  /*
   * A thread started here began on the caller's CPU and waited there behind the caller's own slice while the other CPU
   * stayed idle: on a 2-core host the kernel moved it within 1-3 ms, and a 1.5 ms convolution took 3.3 ms. So each
   * starts on one of the caller's other CPUs and then allows itself all of them again (docs/BENCHMARKS.md, "Where a
   * started thread begins").
   */
  cpu_set_t allowed, others;
  int here = threads > 1 && sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? sched_getcpu() : -1;
  int spread = here >= 0 && here < CPU_SETSIZE && CPU_ISSET(here, &allowed) && CPU_COUNT(&allowed) > 1;
  pthread_attr_t attr;
  if (spread) {
    others = allowed;
    CPU_CLR(here, &others);
    spread = pthread_attr_init(&attr) == 0;
    if (spread && pthread_attr_setaffinity_np(&attr, sizeof others, &others) != 0) {
      pthread_attr_destroy(&attr);
      spread = 0;
    }
  }
  for (int i = 0; i < threads; i++) {
    slices[i] = (Slice) {.job = job, .from = n * i / threads, .to = n * (i + 1) / threads, .run = run,
        .unpin = spread};
    if (spread) slices[i].allowed = allowed;
  }
  for (int i = 1; i < threads; i++) {
    started[i] = (spread && pthread_create(&ids[i], &attr, slice_thread, &slices[i]) == 0)
        || pthread_create(&ids[i], NULL, slice_thread, &slices[i]) == 0;
  }
  if (spread) pthread_attr_destroy(&attr);
  for (int i = 1; i < threads; i++) {
    if (!started[i]) run(&slices[i]); /* no thread: do it here */
  }
  run(&slices[0]);
  int failed = slices[0].failed;
  for (int i = 1; i < threads; i++) {
    if (started[i]) pthread_join(ids[i], NULL);
    failed |= slices[i].failed;
  }
  return failed ? -1 : 0;
}

/* An op's output shapes left unknown: the Java side reshapes each output to its static shape. */
static inline void shape_unknown(TF_ShapeInferenceContext* ctx, TF_Status* s) {
  TF_ShapeInferenceContextSetUnknownShape(ctx, s);
}

/*
 * Registers the op that b defines (taking b), its output shapes unknown, and its float32 CPU kernel "<name>_cpu_float";
 * a failure is said on stderr, since a library's constructor has no caller to tell.
 */
static inline void register_float_op(TF_OpDefinitionBuilder* b, const char* name,
    void* (*create)(TF_OpKernelConstruction*), void (*compute)(void*, TF_OpKernelContext*), void (*destroy)(void*)) {
  TF_Status* s = TF_NewStatus();
  TF_OpDefinitionBuilderSetShapeInferenceFunction(b, shape_unknown);
  TF_RegisterOpDefinition(b, s);
  if (TF_GetCode(s) == TF_OK) {
    TF_KernelBuilder* kb = TF_NewKernelBuilder(name, "CPU", create, compute, destroy);
    char kernel[96];
    snprintf(kernel, sizeof kernel, "%s_cpu_float", name);
    TF_RegisterKernelBuilder(kernel, kb, s);
  }
  if (TF_GetCode(s) != TF_OK) fprintf(stderr, "ddpm4j: registering %s failed (code %d)\n", name, (int) TF_GetCode(s));
  TF_DeleteStatus(s);
}

/* A kernel's attributes, size bytes zeroed; NULL, the kernel's construction failed with "<op>: out of memory", where
 * they could not be allocated. */
static inline void* new_attrs(TF_OpKernelConstruction* ctx, size_t size, const char* op) {
  void* a = calloc(1, size);
  if (!a) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: out of memory", op);
    TF_Status* s = TF_NewStatus();
    TF_SetStatus(s, TF_INTERNAL, msg);
    TF_OpKernelConstruction_Failure(ctx, s);
    TF_DeleteStatus(s);
  }
  return a;
}

static void fail(TF_OpKernelContext* ctx, TF_Code code, const char* msg) {
  TF_Status* s = TF_NewStatus();
  TF_SetStatus(s, code, msg);
  TF_OpKernelContext_Failure(ctx, s);
  TF_DeleteStatus(s);
}

/*
 * c zeros for a job's reads outside its image, and the job run over n samples; the op failed with "<op>: out of
 * memory" where either could not allocate. Frees the zeros.
 */
static inline void run_with_zeros(TF_OpKernelContext* ctx, const char* op, const float** zeros, int64_t c,
    const void* job, int64_t n, int threads, void* (*run)(void*)) {
  float* z = calloc((size_t) c, sizeof(float));
  *zeros = z;
  if (!z || (n > 0 && run_slices(job, n, threads, run) != 0)) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: out of memory", op);
    fail(ctx, TF_INTERNAL, msg);
  }
  free(z);
  *zeros = NULL;
}

#endif
