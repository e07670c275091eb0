package dev.ddpm4j.platform;

import com.sun.jna.Library;
import com.sun.jna.Native;
import dev.ddpm4j.sampler.CpuFeatures;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/**
 * What this machine offers TensorFlow: the CPU's model and flags, whether oneDNN runs, AMX and native bfloat16. Every
 * x86 entry point (the CLI under {@code mvn exec:java}, {@code bin/ddpm4j}, the tests) switches oneDNN on the same way,
 * with {@link #enableOneDnn()} before TensorFlow loads.
 */
public final class Platform {
  /** The flags that decide the fast paths (the rest of /proc/cpuinfo's list is not reported). */
  public static final List<String> KEY_FLAGS = List.of("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni",
      "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8");

  private Platform() {}

  private interface LibC extends Library {
    int setenv(String name, String value, int overwrite);

    String getenv(String name);
  }

  /** The process environment's value as native code sees it (Java's System.getenv is a snapshot from start-up). */
  public static String nativeEnv(String name) {
    if (!isLinux()) return System.getenv(name);
    try {
      return Native.load("c", LibC.class).getenv(name);
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return System.getenv(name);
    }
  }

  /** Sets a variable in the process environment that native code reads (Java's own view does not change). */
  public static void setNativeEnv(String name, String value) {
    if (!isLinux()) throw new UnsupportedOperationException("setting " + name + " needs Linux");
    Native.load("c", LibC.class).setenv(name, value, 1);
  }

  /**
   * Sets TF_ENABLE_ONEDNN_OPTS=1 (and TF_CPP_MIN_LOG_LEVEL=2) in this process's environment unless already set, so
   * the native library sees them when it loads: TensorFlow switches oneDNN on by itself only on CPUs with AVX512_VNNI,
   * AVX512_BF16, AVX_VNNI or AMX, and Java cannot change its own environment. Call before anything touches TensorFlow.
   *
   * @return what was done, for the log
   */
  public static String enableOneDnn() {
    if (!isLinux()) return "not Linux: environment unchanged";
    StringBuilder done = new StringBuilder();
    try {
      LibC c = Native.load("c", LibC.class);
      if (System.getenv("TF_ENABLE_ONEDNN_OPTS") == null) {
        c.setenv("TF_ENABLE_ONEDNN_OPTS", "1", 0);
        done.append("TF_ENABLE_ONEDNN_OPTS=1");
      } else {
        done.append("TF_ENABLE_ONEDNN_OPTS=").append(System.getenv("TF_ENABLE_ONEDNN_OPTS")).append(" (given)");
      }
      if (System.getenv("TF_CPP_MIN_LOG_LEVEL") == null) c.setenv("TF_CPP_MIN_LOG_LEVEL", "2", 0);
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      done.append("could not set TF_ENABLE_ONEDNN_OPTS (").append(e.getMessage()).append(")");
    }
    return done.toString();
  }

  public static boolean isLinux() {
    return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
  }

  /** /proc/cpuinfo's first "model name" (or the OS architecture elsewhere). */
  public static String cpuModel() {
    String m = CpuFeatures.field("model name");
    return m != null ? m : System.getProperty("os.arch");
  }

  /** The CPU's flags (empty off Linux). */
  public static Set<String> cpuFlags() {
    return CpuFeatures.flags();
  }

  /** Which of {@link #KEY_FLAGS} the CPU has. */
  public static List<String> keyFlags() {
    Set<String> all = cpuFlags();
    return KEY_FLAGS.stream().filter(all::contains).collect(Collectors.toList());
  }

  /** Native bfloat16 arithmetic: AVX512_BF16 or AMX-BF16. */
  public static boolean hasNativeBf16() {
    return CpuFeatures.nativeBf16();
  }

  /**
   * The x86-64-v3 level that ddpm4j's kernels pick their AVX2 code by: AVX2, FMA, BMI1, BMI2, F16C and MOVBE in the
   * CPU's flags. LZCNT (Linux's "abm") is not asked for: a Zen 5 VM's flags lacked it where its CPU ran the kernels'
   * AVX-512 code, which needs it too.
   */
  public static boolean hasAvx2Level() {
    return cpuFlags().containsAll(AVX2_LEVEL);
  }

  static final List<String> AVX2_LEVEL = List.of("avx2", "fma", "bmi1", "bmi2", "f16c", "movbe");

  public static boolean hasAmx() {
    return cpuFlags().contains("amx_tile");
  }

  /**
   * Whether TensorFlow runs oneDNN kernels in this process: a small Conv2D graph is traced once and its executed
   * ops are checked for oneDNN's {@code _Mkl} kernels.
   */
  public static boolean oneDnnActive() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      // a fed input, so that constant folding cannot compute the convolution before it runs
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, 8, 8, 4)));
      var w = tf.random.statelessRandomNormal(tf.constant(new long[] {3, 3, 4, 4}), tf.constant(new long[] {3, 4}));
      var y = tf.nn.relu(tf.nn.conv2d(x, w, List.of(1L, 1L, 1L, 1L), "SAME"));
      try (Session s = new Session(g); TFloat32 in = TFloat32.tensorOf(Shape.of(1, 8, 8, 4))) {
        RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
        try (Result r = s.runner().feed(x, in).fetch(y).setOptions(trace).runAndFetchMetadata()) {
          RunMetadata meta = r.getMetadata().orElseThrow();
          return meta.getStepStats().getDevStatsList().stream().flatMap(d -> d.getNodeStatsList().stream())
              .anyMatch(n -> n.getTimelineLabel().contains("_Mkl") || n.getNodeName().contains("_Mkl"));
        }
      }
    }
  }

  /** A JSON-ready description of the machine (what a run chose on it is added by the caller). */
  public static Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cpu_model", cpuModel());
    m.put("cpu_key_flags", keyFlags());
    m.put("cores", Runtime.getRuntime().availableProcessors());
    m.put("tensorflow", org.tensorflow.TensorFlow.version());
    m.put("tf_enable_onednn_opts", String.valueOf(nativeEnv("TF_ENABLE_ONEDNN_OPTS")));
    m.put("onednn_active", oneDnnActive());
    m.put("amx", hasAmx());
    m.put("native_bf16", hasNativeBf16());
    return m;
  }

}
