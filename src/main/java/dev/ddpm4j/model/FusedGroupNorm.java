package dev.ddpm4j.model;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.platform.Platform;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.LocalDevices;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.TensorFlow;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * GroupNorm followed by SiLU (or GroupNorm alone) as one op of our own, {@code DdpmGroupNormSilu}, with its gradient
 * op {@code DdpmGroupNormSiluGrad}: C kernels for float32 and bfloat16 on the CPU ({@code src/main/native}, built by
 * Maven into {@code native/libddpm4j_ops.so}). TensorFlow computes the same layer as a dozen element-wise ops and
 * reductions, each a pass over the activation through memory, which bound the training step on CPUs
 * (docs/BENCHMARKS.md); the fused op reads one sample's activation while it is in cache and writes it once.
 *
 * <p>Only the training graph uses it: exported samplers stay plain TensorFlow, loadable without this library. Its
 * values equal {@link UNet#groupNorm} followed by SiLU up to float rounding ({@code FusedGroupNormTest}). Under bf16
 * training it is on the mixed-precision rewrite's allow list, so it runs in bfloat16 without casts.
 */
public final class FusedGroupNorm {
  public static final String OP = "DdpmGroupNormSilu";
  public static final String GRAD_OP = "DdpmGroupNormSiluGrad";
  static final String CONCAT_OP = "DdpmGroupNormSiluConcat";
  static final String LIBRARY = "native/libddpm4j_ops.so";
  /**
   * A system property naming another build of the op library to load instead of {@link #LIBRARY}: the tests load the
   * one built without AVX-512 code in a second JVM this way (NativeAvx2Test).
   */
  public static final String LIBRARY_PROPERTY = "ddpm4j.ops.library";
  static final String AMP_ALLOW = "TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_ALLOWLIST_ADD";

  private static String unavailable; // null once loaded
  private static boolean tried;
  private static Boolean concat; // whether the loaded library has CONCAT_OP; null until asked

  private FusedGroupNorm() {}

  /** Whether the op library is loaded in this process (loading it on the first call). */
  public static synchronized boolean available() {
    if (!tried) {
      tried = true;
      unavailable = load();
    }
    return unavailable == null;
  }

  /** Why the op is not available, or null when it is. */
  public static synchronized String whyUnavailable() {
    available();
    return unavailable;
  }

  private static String load() {
    if (!Platform.isLinux() || !System.getProperty("os.arch", "").matches("amd64|x86_64")) {
      return "the fused op is built for linux-x86_64 only";
    }
    String other = System.getProperty(LIBRARY_PROPERTY);
    URL url;
    try {
      url = other != null ? Path.of(other).toUri().toURL() : FusedGroupNorm.class.getClassLoader().getResource(LIBRARY);
    } catch (IOException | RuntimeException e) {
      return LIBRARY_PROPERTY + " = " + other + " is not a path: " + e.getMessage();
    }
    if (other != null && !Files.isRegularFile(Path.of(other))) {
      return LIBRARY_PROPERTY + " names " + other + ", which is not a file";
    }
    if (url == null) return LIBRARY + " is not on the class path (no C compiler when Maven built ddpm4j?)";
    try {
      Path lib;
      if (url.getProtocol().equals("file")) {
        lib = Path.of(url.toURI());
      } else { // inside a jar: TensorFlow loads libraries from files
        lib = Files.createTempFile("libddpm4j_ops", ".so");
        lib.toFile().deleteOnExit();
        try (InputStream in = url.openStream()) {
          Files.copy(in, lib, StandardCopyOption.REPLACE_EXISTING);
        }
      }
      allowInBf16();
      TensorFlow.loadLibrary(lib.toAbsolutePath().toString());
      if (!TensorFlow.registerCustomGradient(OP, FusedGroupNorm::gradient)) {
        return OP + " already has a gradient registered";
      }
      return null;
    } catch (IOException | URISyntaxException | RuntimeException | UnsatisfiedLinkError e) {
      return "loading " + url + " failed: " + e.getMessage();
    }
  }

  /**
   * What train.fused_group_norm means for a training graph here: the kernel's thread count (train.intra_op_threads, or
   * the available processors for 0) and a description for the log, or 0 threads and why not.
   *
   * @throws IllegalArgumentException naming the key when it is {@code fused} and the op cannot run
   */
  public static Choice choose(ExperimentConfig.Train tc, boolean distributed) {
    String setting = tc.fusedGroupNorm();
    if (setting.equals("tensorflow")) return new Choice(0, "TensorFlow ops (train.fused_group_norm: tensorflow)");
    String why = distributed ? DISTRIBUTED
        : gpuVisible() ? "a GPU is visible and the fused op has CPU kernels only" : whyUnavailable();
    if (why != null) {
      if (setting.equals("fused")) throw new IllegalArgumentException("train.fused_group_norm: fused, but " + why);
      return new Choice(0, "TensorFlow ops (" + why + ")");
    }
    int threads = threads(tc);
    return new Choice(threads, "fused op, " + threads + " thread" + (threads == 1 ? "" : "s"));
  }

  /** Why distributed training keeps TensorFlow's ops, for every op of the library. */
  static final String DISTRIBUTED = "distributed training keeps TensorFlow's ops (the workers load no op library)";

  /** The threads an op of the library splits its batch over: train.intra_op_threads, or every core when 0. */
  static int threads(ExperimentConfig.Train tc) {
    return tc.intraOpThreads() > 0 ? tc.intraOpThreads() : Runtime.getRuntime().availableProcessors();
  }

  /** @param threads 0: TensorFlow's ops */
  public record Choice(int threads, String description) {
    public UNet apply(UNet unet) {
      return threads > 0 ? unet.withFusedGroupNorm(threads) : unet;
    }
  }

  private static Boolean gpu;

  static synchronized boolean gpuVisible() {
    if (gpu == null) gpu = LocalDevices.list().stream().anyMatch(d -> d.type().equals("GPU"));
    return gpu;
  }

  /** Puts both ops on the bf16 rewrite's allow list (read from the environment each time grappler runs). */
  private static void allowInBf16() {
    String given = Platform.nativeEnv(AMP_ALLOW);
    String ops = OP + "," + GRAD_OP;
    if (given == null || given.isBlank()) {
      Platform.setNativeEnv(AMP_ALLOW, ops);
    } else if (!given.contains(OP)) {
      Platform.setNativeEnv(AMP_ALLOW, given + "," + ops);
    }
  }

  /**
   * silu ? SiLU(GroupNorm(x)) : GroupNorm(x) for NHWC x with per-channel gamma and beta, eps = 1e-5.
   *
   * @param threads threads the kernel splits the batch over (each sample on one thread, so the values do not depend on
   *     it)
   */
  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, Operand<T> gamma, Operand<T> beta,
      int groups, boolean silu, int threads) {
    return apply(tf, x, gamma, beta, groups, silu, threads, null);
  }

  /**
   * As {@link #apply(Ops, Operand, Operand, Operand, int, boolean, int)}, then dropout (SiLU only) with masks that are
   * a function of the dropout's key and each element's index in x (group_norm_silu.c says how): no random-number op
   * and no stored mask, the gradient recomputes it.
   *
   * @param dropout null: none
   */
  public static <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, Operand<T> gamma, Operand<T> beta,
      int groups, boolean silu, int threads, UNet.KeyedDropout dropout) {
    if (!available()) throw new IllegalStateException("the fused GroupNorm op is not available: " + unavailable);
    if (dropout != null && !silu) throw new IllegalArgumentException("the fused dropout follows SiLU only");
    if (dropout != null && !(dropout.rate() >= 0 && dropout.rate() < 1)) {
      throw new IllegalArgumentException("dropout rate must be in [0, 1), got " + dropout.rate());
    }
    Operand<TInt64> key = dropout != null ? dropout.key() : tf.constant(new long[] {0, 0});
    Operation op = tf.scope().opBuilder(OP, silu ? "GroupNormSilu" : "GroupNorm")
        .addInput(x.asOutput())
        .addInput(gamma.asOutput())
        .addInput(beta.asOutput())
        .addInput(key.asOutput())
        .setAttr("groups", (long) groups)
        .setAttr("eps", 1e-5f)
        .setAttr("silu", silu)
        .setAttr("threads", (long) Math.max(1, threads))
        .setAttr("rate", dropout != null ? (float) dropout.rate() : 0f)
        .build();
    @SuppressWarnings("unchecked")
    Output<T> y = (Output<T>) (Output<?>) op.output(0);
    return y;
  }

  /** Whether {@link #applyConcat} can run here: the library loaded and holding its op (a library built before it). */
  public static synchronized boolean concatAvailable() {
    if (concat == null) concat = whyNoOp(CONCAT_OP, 4, "groups") == null;
    return concat;
  }

  /**
   * Why an op of this library cannot be built here, or null when it can: the library did not load, or it holds no such
   * op (a library built before it). The op is built in a scratch graph over {@code inputs} float32 placeholders, the
   * int attributes named set to 1.
   */
  static String whyNoOp(String op, int inputs, String... intAttrs) {
    if (!available()) return whyUnavailable();
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> p = tf.placeholder(TFloat32.class);
      var b = tf.scope().opBuilder(op, "probe");
      for (int i = 0; i < inputs; i++) b.addInput(p.asOutput());
      for (String a : intAttrs) b.setAttr(a, 1L);
      b.build();
      return null;
    } catch (RuntimeException e) {
      return "the op library holds no " + op + " (a library built before it?)";
    }
  }

  /**
   * silu ? SiLU(GroupNorm(concat(x, x2))) : GroupNorm(concat(x, x2)), the concatenation along the channels never
   * written: each thread gathers a sample's two inputs side by side in its cache and normalizes from there. Float32,
   * forward only, no dropout: the fp32-fast sampling graph's up-path residual blocks.
   *
   * @param gamma [channels of x + channels of x2], as beta
   */
  public static Operand<TFloat32> applyConcat(Ops tf, Operand<TFloat32> x, Operand<TFloat32> x2,
      Operand<TFloat32> gamma, Operand<TFloat32> beta, int groups, boolean silu, int threads) {
    if (!concatAvailable()) throw new IllegalStateException("the fused GroupNorm of two inputs is not available");
    Operation op = tf.scope().opBuilder(CONCAT_OP, silu ? "GroupNormSiluConcat" : "GroupNormConcat")
        .addInput(x.asOutput())
        .addInput(x2.asOutput())
        .addInput(gamma.asOutput())
        .addInput(beta.asOutput())
        .setAttr("groups", (long) groups)
        .setAttr("eps", 1e-5f)
        .setAttr("silu", silu)
        .setAttr("threads", (long) Math.max(1, threads))
        .build();
    @SuppressWarnings("unchecked")
    Output<TFloat32> y = (Output<TFloat32>) (Output<?>) op.output(0);
    // the op's shape function knows nothing; the static H, W and channels let a Winograd convolution follow
    org.tensorflow.ndarray.Shape a = x.shape();
    org.tensorflow.ndarray.Shape b = x2.shape();
    if (a.numDimensions() != 4 || b.numDimensions() != 4 || a.size(1) < 1 || a.size(2) < 1 || a.size(3) < 1
        || b.size(3) < 1) {
      return y;
    }
    return tf.reshape(y, tf.constant(new long[] {-1, a.size(1), a.size(2), a.size(3) + b.size(3)}));
  }

  /**
   * d(x, gamma, beta) from dy, by the gradient op, which reads the forward op's inputs and its saved statistics. TF
   * calls this only when some output has a gradient and fills the others with zeros; gradients reaching mean and rstd
   * (which only the gradient op reads) are ignored.
   */
  private static List<Operand<?>> gradient(Ops tf, GraphOperation op, List<Output<?>> upstream) {
    Operand<?> noKey = tf.zerosLike(op.input(3)); // the int64 key has no gradient
    var attrs = op.attributes();
    Operation g = tf.scope().opBuilder(GRAD_OP, "GroupNormSiluGrad")
        .addInput(upstream.get(0))
        .addInput(op.input(0))
        .addInput(op.input(1))
        .addInput(op.input(2))
        .addInput(op.output(1))
        .addInput(op.output(2))
        .addInput(op.input(3))
        .setAttr("groups", attrs.getAttrInt("groups"))
        .setAttr("eps", attrs.getAttrFloat("eps"))
        .setAttr("silu", attrs.getAttrBool("silu"))
        .setAttr("threads", attrs.getAttrInt("threads"))
        .setAttr("rate", attrs.getAttrFloat("rate"))
        .build();
    return List.of(g.output(0), g.output(1), g.output(2), noKey);
  }
}
