package dev.ddpm4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ddpm4j.model.FusedGroupNorm;
import dev.ddpm4j.platform.Platform;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerSpec;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AVX2 code of ddpm4j's ops, which CPUs without AVX-512 run (and where sampling precision auto means fp32-fast),
 * checked on any CPU: the op library is built a second time without its AVX-512 code ({@code -DDDPM4J_NO_AVX512},
 * {@code src/main/native/isa.h}), a second JVM loads that build ({@link FusedGroupNorm#LIBRARY_PROPERTY}) and rebuilds
 * the shipped default model in fp32-fast, and its noise predictions and pictures are compared with this JVM's (the
 * AVX-512 code where the CPU has it) and with the export's own fp32 ones.
 */
class NativeAvx2Test {
  static final Path MODEL = Path.of("savedmodels/default");
  static final SamplerSpec DDIM = SamplerSpec.of("ddim", 10);
  /** gcc's name suffix for a function's AVX-512 clone, and the names of the functions written for AVX-512 alone. */
  static final List<String> AVX512_NAMES = List.of("arch_x86_64_v4", "conv_block_v4", "conv_v4", "head_v4");

  @TempDir Path tmp;

  /** A noise prediction and a few pictures of one sampler. */
  record Probe(float[] eps, byte[] pixels) {
    static final float[] X = noise();
    static final int[] T = {0, 250, 500, 999};

    static float[] noise() {
      SplittableRandom r = new SplittableRandom(3);
      float[] x = new float[4 * 32 * 32];
      for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
      return x;
    }

    static Probe of(DiffusionSampler s) {
      return new Probe(s.denoise(X, T).eps(), s.sample(8, 0, DDIM).pixels());
    }

    void write(Path file) throws IOException {
      try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
        out.writeInt(eps.length);
        for (float v : eps) out.writeFloat(v);
        out.writeInt(pixels.length);
        out.write(pixels);
      }
    }

    static Probe read(Path file) throws IOException {
      try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
        float[] eps = new float[in.readInt()];
        for (int i = 0; i < eps.length; i++) eps[i] = in.readFloat();
        byte[] pixels = new byte[in.readInt()];
        in.readFully(pixels);
        return new Probe(eps, pixels);
      }
    }
  }

  /** The second JVM: the default model in fp32-fast with the library {@code ddpm4j.ops.library} names. */
  public static void main(String[] args) throws IOException {
    try (DiffusionSampler s = FastSampling.load(MODEL, 2, InferenceGraph.Samplers.of(DDIM))) {
      String lib = System.getProperty(FusedGroupNorm.LIBRARY_PROPERTY);
      if (lib == null || !Files.readString(Path.of("/proc/self/maps")).contains(lib)) {
        throw new IllegalStateException("this process did not map " + lib);
      }
      Probe.of(s).write(Path.of(args[0]));
    }
  }

  @Test
  void theAvx2CodeDrawsThePicturesOfTheWidestCode() throws Exception {
    assumeTrue(FastSampling.whyNot() == null, () -> "our kernels cannot run here: " + FastSampling.whyNot());
    assumeTrue(Platform.hasAvx2Level(),
        "a CPU without the x86-64-v3 level (AVX2, FMA, BMI1/2, F16C, MOVBE) runs neither build's AVX2 code");
    Path lib = tmp.resolve("libddpm4j_ops_avx2.so");
    Path log = tmp.resolve("build.txt");
    ProcessBuilder build = new ProcessBuilder("sh", "src/main/native/build.sh", "target/tensorflow-native",
        lib.toString()).redirectErrorStream(true).redirectOutput(log.toFile());
    build.environment().put("DDPM4J_OPS_CFLAGS", "-DDDPM4J_NO_AVX512");
    finish(build.start(), 180, "the build", log);
    assertTrue(Files.isRegularFile(lib), "the AVX2 library was built: " + Files.readString(log));
    // the AVX2 build has no AVX-512 function; the regular one has them all, so the names mean what they say
    Path regular = Path.of(FusedGroupNorm.class.getClassLoader().getResource("native/libddpm4j_ops.so").toURI());
    byte[] regularBytes = Files.readAllBytes(regular);
    byte[] avx2Bytes = Files.readAllBytes(lib);
    for (String name : AVX512_NAMES) {
      assertTrue(contains(regularBytes, name), "the regular library has " + name);
      assertFalse(contains(avx2Bytes, name), "the AVX2 library has no AVX-512 code, but " + name);
    }

    Path out = tmp.resolve("avx2.bin");
    Path childLog = tmp.resolve("child.txt");
    finish(new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-D" + FusedGroupNorm.LIBRARY_PROPERTY + "=" + lib, "-cp", System.getProperty("java.class.path"),
        NativeAvx2Test.class.getName(), out.toString()))
        .redirectErrorStream(true).redirectOutput(childLog.toFile()).start(), 300, "the second JVM", childLog);
    assertTrue(Files.isRegularFile(out), Files.readString(childLog));
    Probe avx2 = Probe.read(out);

    Probe widest;
    try (DiffusionSampler s = FastSampling.load(MODEL, 2, InferenceGraph.Samplers.of(DDIM))) {
      widest = Probe.of(s);
    }
    Probe fp32;
    try (DiffusionSampler s = DiffusionSampler.load(MODEL, "fp32")) {
      fp32 = Probe.of(s);
    }
    if (!Platform.cpuFlags().contains("avx512f")) {
      // both JVMs ran the same AVX2 code
      assertArrayEquals(widest.eps(), avx2.eps());
      assertArrayEquals(widest.pixels(), avx2.pixels());
    }
    double toWidest = FastSampling.relativeL2(avx2.eps(), widest.eps());
    assertTrue(toWidest < 1e-5, "the AVX2 code's noise prediction against the widest code's: " + toWidest);
    double toFp32 = FastSampling.relativeL2(avx2.eps(), fp32.eps());
    assertTrue(toFp32 < 1e-4, "the AVX2 code's noise prediction against the export's fp32: " + toFp32);
    assertTrue(maxDifference(avx2.pixels(), widest.pixels()) <= 2, "pictures against the widest code's");
    assertTrue(maxDifference(avx2.pixels(), fp32.pixels()) <= 2, "pictures against fp32's");
  }

  /** Waits for p, killed when it outlives the limit; fails, with its output, unless it exited with 0. */
  static void finish(Process p, int seconds, String what, Path output) throws InterruptedException, IOException {
    try {
      boolean done = p.waitFor(seconds, TimeUnit.SECONDS);
      assertTrue(done, what + " did not finish within " + seconds + " s: " + Files.readString(output));
      assertEquals(0, p.exitValue(), what + " failed: " + Files.readString(output));
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
  }

  static int maxDifference(byte[] a, byte[] b) {
    assertEquals(a.length, b.length);
    int max = 0;
    for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] & 0xff) - (b[i] & 0xff)));
    return max;
  }

  static boolean contains(byte[] haystack, String needle) {
    byte[] n = needle.getBytes(StandardCharsets.US_ASCII);
    outer:
    for (int i = 0; i + n.length <= haystack.length; i++) {
      for (int j = 0; j < n.length; j++) {
        if (haystack[i + j] != n[j]) continue outer;
      }
      return true;
    }
    return false;
  }
}
