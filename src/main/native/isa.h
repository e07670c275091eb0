/*
 * Which instruction sets ddpm4j's ops are compiled for and pick at run time: AVX-512 (x86-64-v4) where the CPU has it,
 * else AVX2 with FMA (x86-64-v3), else plain x86-64. Built with -DDDPM4J_NO_AVX512 the library leaves out its AVX-512
 * code and runs the AVX2 code where the CPU has AVX-512 too: the tests build it so to check that code on every CPU
 * (NativeAvx2Test; build.sh takes the flag in DDPM4J_OPS_CFLAGS).
 */
#ifndef DDPM4J_ISA_H_
#define DDPM4J_ISA_H_

#ifdef DDPM4J_NO_AVX512
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
static inline int use_v4(void) { return 0; }
#else
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static inline int use_v4(void) { return __builtin_cpu_supports("x86-64-v4"); }
#endif

/* a function written for AVX-512 registers, called where use_v4() says so (unused in the AVX2 build) */
#define V4_TARGET __attribute__((target("arch=x86-64-v4"), unused))

#endif
