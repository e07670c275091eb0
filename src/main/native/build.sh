#!/bin/sh
# Builds ddpm4j's op library (group_norm_silu.c: fused GroupNorm + SiLU; winograd.c: Winograd transforms;
# winograd_conv.c: a whole forward Winograd convolution; direct_conv.c: a direct 1x1 or 3x3 convolution; attention.c:
# the core of a self-attention layer) against TF
# Java's native framework library.
# Usage: build.sh <folder holding libtensorflow_framework.so.2> <output .so>. Maven runs it in the compile phase
# (pom.xml). Without a C compiler, or where it fails, it says so and builds nothing; training then uses TensorFlow's
# own ops (FusedGroupNormTest fails where gcc is on the PATH but the library did not load).
# -Wno-psabi: winograd.c passes 64-byte vectors between inline functions, which gcc warns about for the non-AVX-512
# clones (an ABI note for exported functions; these are static).
# -ffast-math on the compile step only: it lets gcc vectorise expf through glibc's libmvec. On the link step it would
# add crtfastmath.o, which switches on flush-to-zero for the whole JVM when the library loads.
set -eu
dir="$1"
out="$2"
src="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "ddpm4j: no C compiler ($cc) found: the op library is not built, training uses TensorFlow's ops"
  exit 0
fi
framework="$(find "$dir" -name libtensorflow_framework.so.2 2>/dev/null | head -n 1)"
if [ -z "$framework" ]; then
  echo "ddpm4j: no libtensorflow_framework.so.2 under $dir: the op library is not built"
  exit 0
fi
# A library built with DDPM4J_OPS_CFLAGS has them in $out.cflags beside it; up to date means built with today's.
extra="${DDPM4J_OPS_CFLAGS:-}"
if [ -f "$out" ] && [ "$(cat "$out.cflags" 2>/dev/null || true)" = "$extra" ] \
    && [ -z "$(find "$src" "$framework" -newer "$out" -type f 2>/dev/null)" ]; then
  exit 0 # up to date
fi
mkdir -p "$(dirname "$out")"
# linked beside the target and renamed over it: a JVM that has the old library loaded keeps its mapping intact
# DDPM4J_OPS_CFLAGS: more flags (the tests pass -DDDPM4J_NO_AVX512 to build the AVX2-only library: isa.h)
flags="-std=gnu11 -O3 -fPIC -Wall -Wextra -Wno-unused-parameter $extra"
if ! "$cc" $flags -ffast-math -c "$src/group_norm_silu.c" -o "$out.gn.o" \
    || ! "$cc" $flags -Wno-psabi -c "$src/winograd.c" -o "$out.wino.o" \
    || ! "$cc" $flags -Wno-psabi -c "$src/winograd_conv.c" -o "$out.wconv.o" \
    || ! "$cc" $flags -Wno-psabi -c "$src/direct_conv.c" -o "$out.dconv.o" \
    || ! "$cc" $flags -Wno-psabi -ffast-math -c "$src/attention.c" -o "$out.attn.o" \
    || ! "$cc" -shared -o "$out.tmp" "$out.gn.o" "$out.wino.o" "$out.wconv.o" "$out.dconv.o" "$out.attn.o" \
      "$framework" -lm -lpthread; then
  rm -f "$out.gn.o" "$out.wino.o" "$out.wconv.o" "$out.dconv.o" "$out.attn.o" "$out.tmp" "$out" # no stale library with only some of the ops
  echo "ddpm4j: $cc could not build the op library (see above): training uses TensorFlow's ops"
  exit 0
fi
rm -f "$out.gn.o" "$out.wino.o" "$out.wconv.o" "$out.dconv.o" "$out.attn.o"
mv -f "$out.tmp" "$out"
if [ -n "$extra" ]; then printf '%s' "$extra" > "$out.cflags"; else rm -f "$out.cflags"; fi
