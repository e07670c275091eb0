package dev.ddpm4j.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.FusedGroupNorm;
import dev.ddpm4j.model.WinogradConv;
import dev.ddpm4j.platform.Platform;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.sampler.SamplerMetadata;
import dev.ddpm4j.train.Checkpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;

/**
 * Sampling precision {@code fp32-fast}: an export's sampling graph rebuilt in this process over the export's own
 * weights with ddpm4j's float32 kernels of the training graph: its 3x3 convolutions as Winograd F(4x4, 3x3) ({@link
 * WinogradConv}) and each GroupNorm with its SiLU as one op ({@link FusedGroupNorm}). Same network, the same float32
 * values up to rounding (a grey level apart on a few pixels in 10^5), 3.5-3.8x faster per network call on an AMD Zen 5
 * (docs/BENCHMARKS.md, "fp32-fast sampling" and the sections after it; about 3x with AVX-512 switched off). No
 * gradient is taken, so every Winograd convolution runs as one op ({@link WinogradConv#forward}): the 3x3 stride-1
 * ones with input channels in sixteens, the upsampling layers' among them. The export on disk is not changed, and {@code
 * fp32} keeps TensorFlow's own kernels and the bytes every TensorFlow client gets; the rebuilt graph needs ddpm4j's op
 * library, so it never leaves the process.
 */
public final class FastSampling {
  /** The precision name the CLI's {@code --precision} takes and a sampler built here reports. */
  public static final String PRECISION = "fp32-fast";

  private FastSampling() {}

  /** Why this process cannot run the rebuilt graph (a GPU is visible, no op library), or null. */
  public static String whyNot() {
    return WinogradConv.whyNot(false, "fp32"); // the GPU and library checks cover the fused GroupNorm too
  }

  /**
   * Why sampling precision {@code auto} means fp32-fast in ddpm4j's own commands on this CPU, or null where it keeps
   * the export's meaning (bf16 where native, else fp32; the client API always does, having no kernels of ours).
   */
  public static String autoReason() {
    boolean amx = Platform.hasAmx();
    boolean avx2 = Platform.hasAvx2Level();
    return autoRule(amx, avx2, amx || !avx2 ? null : whyNot()); // the kernels only where they would count
  }

  /**
   * The rule of {@link #autoReason}: on x86 CPUs with AVX2 and FMA and no AMX, fp32 with our kernels draws fp32's
   * pictures up to rounding at less cost than fp32 and bf16: on an AMD Zen 5 (AVX512_BF16) 1.2-1.4 ms per image and
   * network call at batch 64 against fp32's 4.2-5.2 and bf16's 3.1-3.6, and with AVX-512 switched off there (oneDNN
   * held to AVX2, our library's AVX2 code) 1.9 against fp32's 5.5-5.7 (docs/BENCHMARKS.md, "auto samples in fp32-fast",
   * "fp32-fast on AVX2 code"). With AMX bf16 stays (1.34 ms on an Intel model 167, fp32-fast not measured there), and
   * without AVX2 and FMA fp32 (our kernels' plain x86-64 code, not measured).
   *
   * @param avx2 whether the CPU has AVX2 and FMA and the rest of x86-64-v3 ({@link Platform#hasAvx2Level}), the code
   *     our kernels were measured with besides AVX-512
   * @param kernelsWhyNot why this process cannot run our kernels ({@link #whyNot}), or null
   */
  static String autoRule(boolean amx, boolean avx2, String kernelsWhyNot) {
    if (amx || !avx2 || kernelsWhyNot != null) return null;
    return "precision auto: a CPU with AVX2 and no AMX, where " + PRECISION + " samples faster than fp32 and bf16";
  }

  /**
   * The export's sampler with ddpm4j's kernels. The rebuilt graph is saved to a temporary folder, loaded like any
   * export (so every signature and check is the export's) and the folder deleted. Before it is returned, its noise
   * prediction is checked against the export's own on a few noisy images, so an export whose network this build
   * would make differently (an older ddpm4j) is refused rather than sampled wrong.
   *
   * @param threads the threads each op of ours splits a batch over (values do not depend on it)
   * @throws SamplerException naming the folder when it is not an export this build can rebuild, or why the kernels
   *     cannot run here
   */
  public static DiffusionSampler load(Path export, int threads) {
    return load(export, threads, InferenceGraph.Samplers.ALL);
  }

  /**
   * As {@link #load(Path, int)} with only the sampling signatures {@code which} names (say {@code
   * Samplers.of(spec)} for one sampler): each sampling loop is a copy of the network to build, save and load, so one
   * loads in about 5 s where all six take about 9 (docs/BENCHMARKS.md, "fp32-fast sampling loads in parallel"). The
   * sampler refuses a sampler it was not built for, naming the ones it has.
   */
  public static DiffusionSampler load(Path export, int threads, InferenceGraph.Samplers which) {
    String why = whyNot();
    if (why != null) {
      throw new SamplerException("--precision " + PRECISION + " cannot run here: " + why + " (--precision fp32 can)");
    }
    // The export's own noise prediction on the probe, for the check below, on a second thread while this one rebuilds
    // the graph: each took 1.5-3 s in turn (docs/BENCHMARKS.md, "fp32-fast sampling loads in parallel"). Loading the
    // export makes DiffusionSampler.load's checks (folder, SavedModel, signatures, metadata), whose messages come
    // first.
    CompletableFuture<float[]> reference = CompletableFuture.supplyAsync(() -> {
      try (DiffusionSampler plain = DiffusionSampler.load(export, "fp32")) {
        return Probe.of(plain.metadata()).eps(plain);
      }
    }, task -> {
      Thread t = new Thread(task, "ddpm4j-" + PRECISION + "-reference");
      t.setDaemon(true);
      t.start();
    });
    DiffusionSampler fast = null;
    try {
      Path meta = export.resolve(DiffusionSampler.METADATA);
      JsonNode json;
      try {
        json = new ObjectMapper().readTree(meta.toFile());
      } catch (IOException e) {
        throw new SamplerException(meta + ": unreadable metadata: " + e.getMessage(), e);
      }
      if (!json.path("config").isObject()) {
        throw new SamplerException(meta + ": no \"config\" in the metadata, so the graph cannot be rebuilt for "
            + PRECISION + " (sample it with --precision fp32)");
      }
      ExperimentConfig cfg;
      try {
        cfg = ExperimentConfig.parse(json.get("config").toString(), meta.toString(), List.of());
      } catch (RuntimeException e) {
        throw new SamplerException(meta + ": its config does not parse in this build (" + e.getMessage()
            + "); sample it with --precision fp32", e);
      }
      if (reference.isCompletedExceptionally()) await(reference); // the export failed its checks: no rebuild for it
      fast = rebuild(export, meta, cfg, json.path("weights").asText("ema"), Math.max(1, threads), which);
      double difference = relativeL2(Probe.of(fast.metadata()).eps(fast), await(reference));
      if (!(difference < MAX_DIFFERENCE)) {
        throw new SamplerException(export + ": the network this build makes of its config predicts other noise than"
            + " the export (relative difference " + difference + "; it was exported by ddpm4j "
            + json.path("ddpm4j_version").asText("?") + "), so it cannot be rebuilt for " + PRECISION
            + "; sample it with --precision fp32");
      }
      return fast;
    } catch (Throwable e) { // an Error too: the rebuilt sampler closed, the reference thread done
      if (fast != null) {
        try {
          fast.close();
        } catch (RuntimeException c) {
          e.addSuppressed(c);
        }
      }
      // the export's own checks speak first, as when they ran before the rebuild
      try {
        reference.join();
      } catch (CompletionException f) {
        Throwable cause = f.getCause() != null ? f.getCause() : f;
        if (cause instanceof SamplerException se && se != e) {
          se.addSuppressed(e);
          throw se;
        }
        if (cause != e) e.addSuppressed(cause);
      }
      throw e;
    }
  }

  /** The reference's value, or the exception its thread threw (a SamplerException naming the export, as a rule). */
  private static float[] await(CompletableFuture<float[]> reference) {
    try {
      return reference.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException r) throw r;
      if (e.getCause() instanceof Error r) throw r;
      throw e;
    }
  }

  /** Relative L2 difference above which the rebuilt network is not the export's (float rounding gives about 1e-6). */
  static final double MAX_DIFFERENCE = 1e-3;

  /**
   * What the check compares: four noisy images at four timesteps (with a conditional model's first and last class, no
   * label, and the second class, so its label embedding is checked too).
   */
  record Probe(float[] x, int[] t, int[] labels) {
    static Probe of(SamplerMetadata m) {
      int size = m.imageSize();
      float[] x = new float[4 * size * size * m.channels()];
      java.util.SplittableRandom r = new java.util.SplittableRandom(0);
      for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
      int steps = m.timesteps();
      int classes = m.numClasses();
      return new Probe(x, new int[] {0, steps / 4, steps / 2, steps - 1},
          classes > 0 ? new int[] {0, classes - 1, -1, 1 % classes} : null);
    }

    /** A sampler's noise prediction for the probe. */
    float[] eps(DiffusionSampler s) {
      return s.denoise(x, t, labels).eps();
    }
  }

  /** ||a - reference|| / ||reference||, in double precision. */
  static double relativeL2(float[] a, float[] reference) {
    double err = 0;
    double norm = 0;
    for (int i = 0; i < a.length; i++) {
      err += (a[i] - (double) reference[i]) * (a[i] - (double) reference[i]);
      norm += reference[i] * (double) reference[i];
    }
    return Math.sqrt(err / Math.max(norm, Double.MIN_NORMAL));
  }

  /** The graph with our kernels over the export's weights, saved to a temporary folder, loaded, the folder deleted. */
  private static DiffusionSampler rebuild(Path export, Path meta, ExperimentConfig cfg, String weights, int threads,
      InferenceGraph.Samplers which) {
    Path tmp;
    try {
      tmp = Files.createTempDirectory("ddpm4j-" + PRECISION + "-");
    } catch (IOException e) {
      throw new SamplerException("cannot create a temporary folder for " + PRECISION + ": " + e.getMessage(), e);
    }
    Path rebuilt = tmp.resolve("model");
    try {
      try (Graph g = new Graph()) {
        InferenceGraph ig = new InferenceGraph(cfg, g, weights,
            u -> u.withWinograd(threads).withFusedGroupNorm(threads), which);
        try (Session s = new Session(g)) {
          // no s.initialize(): the restore sets every variable (one that the export lacks fails it, named), and each
          // first run of this graph costs about a second
          try {
            s.restore(export.resolve("variables").resolve("variables").toString());
          } catch (TensorFlowException e) {
            throw new SamplerException(export + ": its " + weights + " weights do not restore into the network this "
                + "build makes of its config (" + firstLine(e) + "); sample it with --precision fp32", e);
          }
          SavedModelBundle.Exporter exporter = SavedModelBundle.exporter(rebuilt.toString()).withTags("serve")
              .withSession(s).withSignature(ig.denoise).withSignature(ig.qSample);
          if (ig.sample != null) exporter.withSignature(ig.sample).withSignature(ig.servingDefault);
          for (var sig : ig.samplers.values()) exporter.withSignature(sig);
          exporter.export();
        }
      }
      Files.createDirectories(rebuilt.resolve(DiffusionSampler.METADATA).getParent());
      Files.copy(meta, rebuilt.resolve(DiffusionSampler.METADATA));
      return DiffusionSampler.loadAs(rebuilt, PRECISION);
    } catch (SamplerException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new SamplerException("cannot rebuild " + export + " for " + PRECISION + " (" + firstLine(e)
          + "); sample it with --precision fp32", e);
    } finally {
      try {
        Checkpoints.deleteTree(tmp);
      } catch (IOException ignored) {
        // best effort: the temporary folder
      }
    }
  }

  private static String firstLine(Exception e) {
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse("");
  }
}
