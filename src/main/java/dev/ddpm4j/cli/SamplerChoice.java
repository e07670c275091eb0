package dev.ddpm4j.cli;

import dev.ddpm4j.diffusion.SamplerKind;
import dev.ddpm4j.diffusion.Spacing;
import dev.ddpm4j.export.FastSampling;
import dev.ddpm4j.export.InferenceGraph;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.sampler.SamplerSpec;
import dev.ddpm4j.train.Progress;
import java.io.IOException;
import picocli.CommandLine.Option;

/**
 * {@code --sampler}, {@code --steps}, {@code --spacing} and {@code --eta}, shared by the commands that sample; the
 * choices come from {@link SamplerKind}, the list the export's signatures are built from.
 */
public final class SamplerChoice {
  /** What {@code sample} and {@code eval} use when no --sampler is given (see README "Choosing a sampler"). */
  static final String DEFAULT_SAMPLER = "dpmpp_2m_sde";
  static final int DEFAULT_STEPS = SamplerKind.DEFAULT_STEPS;

  static {
    if (!DEFAULT_SAMPLER.equals(SamplerKind.DEFAULT.key())) throw new AssertionError("default sampler out of sync");
  }

  @Option(names = "--sampler", defaultValue = DEFAULT_SAMPLER,
      description = "ancestral, ddim, dpmpp_2m, dpmpp_3m or dpmpp_2m_sde (default: ${DEFAULT-VALUE}).")
  String sampler;

  @Option(names = "--steps", description = "Network calls K in [1, T] (default: " + DEFAULT_STEPS
      + "; ancestral: all T steps).")
  Integer steps;

  @Option(names = "--spacing", description = "Timestep spacing: leading, trailing, linspace (every sampler), karras, "
      + "uniform_lambda (dpmpp_*) (default: the sampler's own, README \"Choosing a sampler\").")
  String spacing;

  @Option(names = "--eta", defaultValue = "0",
      description = "ddim: noise from 0 (deterministic) to 1 (default: ${DEFAULT-VALUE}).")
  float eta;

  @Option(names = "--precision", description = "auto, fp32, bf16 (oneDNN bfloat16 mixed precision) or fp32-fast "
      + "(the export's graph rebuilt in this process with ddpm4j's Winograd convolutions and fused GroupNorm: fp32 up "
      + "to rounding, 3.5-3.8x faster per network call at batch 64 on an AMD Zen 5, about 2 s more to load; README) "
      + "(default: the model's export.precision; auto: fp32-fast on CPUs with AVX2 and no AMX where ddpm4j's "
      + "kernels run, else bf16 where the CPU computes it natively).")
  String precision;

  /** Images per sampler call unless --batch says otherwise. */
  static final int BATCH = 64;

  /** fp32-fast's images per call for images of at most {@link #FAST_BATCH_SIZE} pixels square. */
  static final int FAST_BATCH = 256;

  static final int FAST_BATCH_SIZE = 32;

  static final String BATCH_HELP = BATCH + "; " + FAST_BATCH + " in fp32-fast for images of at most " + FAST_BATCH_SIZE
      + "x" + FAST_BATCH_SIZE + " pixels, about 1.2x faster there";

  /**
   * Images per sampler call: {@code option} where given; otherwise 256 where fp32-fast draws images of at most 32x32
   * pixels, whose per-op costs a batch of 64 does not cover (1.37 against 1.63-1.67 ms per image and call with the
   * default model on an AMD Zen 5, 0.25 GB more memory; 1,000 images 64 instead of 77 s, each PNG the same; with the
   * 64x64 emoji model 128 gained 1.01-1.17x for 0.45 GB; docs/BENCHMARKS.md, "auto samples in fp32-fast"), else 64.
   * An image never depends on the batch it is drawn in.
   */
  static int batch(Integer option, DiffusionSampler s) {
    return batch(option, s.precision(), s.metadata().imageSize());
  }

  static int batch(Integer option, String precision, int imageSize) {
    if (option != null) return option;
    return precision.equals(FastSampling.PRECISION) && imageSize <= FAST_BATCH_SIZE ? FAST_BATCH : BATCH;
  }

  /** Loads the model in the chosen precision; a note on what auto fell back to goes to {@code err}. */
  DiffusionSampler load(java.nio.file.Path model, java.io.PrintWriter err) {
    return open(model, precision, signatures(sampler, steps != null, spacing != null), err);
  }

  /**
   * An export in a --precision: one of the export's precisions, or fp32-fast; null keeps the export's own. fp32-fast
   * builds only the sampling signatures {@code which} (the others are in the export already). auto, asked for or the
   * export's, means fp32-fast where {@link FastSampling#autoReason} says so.
   */
  static DiffusionSampler open(java.nio.file.Path model, String precision, InferenceGraph.Samplers which,
      java.io.PrintWriter err) {
    return open(model, precision, which, err, FastSampling::autoReason);
  }

  /**
   * As above, with where auto means fp32-fast on this CPU given ({@code autoReason} returns why, or null where it does
   * not), asked only where the precision asked for, or else the export's, is auto.
   */
  static DiffusionSampler open(java.nio.file.Path model, String precision, InferenceGraph.Samplers which,
      java.io.PrintWriter err, java.util.function.Supplier<String> autoReason) {
    if (FastSampling.PRECISION.equals(precision)) return fast(model, which);
    if (precision != null && !dev.ddpm4j.config.ExperimentConfig.PRECISIONS.contains(precision)) {
      throw new Main.UserError("--precision must be auto, fp32, bf16 or " + FastSampling.PRECISION + ", got "
          + precision);
    }
    String setting = precision != null ? precision : DiffusionSampler.precisionSetting(model);
    String why = setting.equals("auto") ? autoReason.get() : null;
    if (why == null) return DiffusionSampler.load(model, precision);
    try {
      return fast(model, which);
    } catch (SamplerException e) {
      // an export this build cannot rebuild (an older ddpm4j, no config): auto's other meaning, or the export's own
      // error where it does not load at all
      DiffusionSampler s = DiffusionSampler.load(model, "auto");
      err.println("note: " + why + ", but not for this model (" + e.getMessage() + "): sampling in "
          + s.precision());
      return s;
    }
  }

  private static DiffusionSampler fast(java.nio.file.Path model, InferenceGraph.Samplers which) {
    return FastSampling.load(model, Runtime.getRuntime().availableProcessors(), which);
  }

  @Option(names = "--class", paramLabel = "CLASS",
      description = "Class-conditional models: a class name or index, 'all' (sample: one grid row per class), or "
          + "'balanced' (image i gets class i mod the number of classes) (default: no label).")
  String clazz;

  @Option(names = "--guidance", defaultValue = "3",
      description = "Classifier-free guidance scale w with --class: 0 unconditional, 1 plain conditional, above 1 "
          + "stronger class fidelity (default: ${DEFAULT-VALUE}).")
  float guidance;

  /** Which class each image gets: null for none (unconditional sampling). */
  java.util.function.IntUnaryOperator labels(DiffusionSampler s) {
    int classes = s.metadata().numClasses();
    if (clazz == null) return null;
    if (classes == 0) throw new Main.UserError("--class: this model is unconditional (it was trained without classes)");
    if (clazz.equals("all") || clazz.equals("balanced")) return i -> i % classes;
    int label;
    try {
      label = s.label(clazz);
    } catch (IllegalArgumentException e) {
      throw new Main.UserError("--class: " + e.getMessage());
    }
    return i -> label;
  }

  /** The validated choice for a model with T timesteps. */
  SamplerSpec spec(int timesteps) {
    return spec(sampler, steps, spacing, eta, timesteps);
  }

  /** A validated sampler choice; null steps or spacing mean the defaults. */
  static SamplerSpec spec(String sampler, Integer steps, String spacing, float eta, int timesteps) {
    SamplerKind kind = kind(sampler);
    if (fullAncestral(kind, steps != null, spacing != null)) return SamplerSpec.ancestral();
    int k = steps != null ? steps : kind == SamplerKind.ANCESTRAL ? timesteps : Math.min(DEFAULT_STEPS, timesteps);
    if (k < 1 || k > timesteps) throw new Main.UserError("--steps must be in [1, " + timesteps + "], got " + k);
    if (!kind.takesEta() && eta != 0) throw new Main.UserError("--eta applies to ddim, not " + kind.key());
    if (!(eta >= 0 && eta <= 1)) throw new Main.UserError("--eta must be in [0, 1], got " + eta);
    Spacing sp = kind.defaultSpacing();
    if (spacing != null) {
      try {
        sp = Spacing.parse(spacing);
      } catch (IllegalArgumentException e) {
        throw new Main.UserError("--spacing: " + e.getMessage());
      }
      if (!kind.spacings().contains(sp)) {
        throw new Main.UserError("--spacing " + spacing + " is not available for " + kind.key() + " (available: "
            + Spacing.keys(kind.spacings()) + ")");
      }
    }
    return new SamplerSpec(kind.key(), k, sp.key(), eta);
  }

  /** Whether a choice is the ancestral sampler over all T steps ({@code sample}): ancestral, no --steps or --spacing. */
  static boolean fullAncestral(SamplerKind kind, boolean steps, boolean spacing) {
    return kind == SamplerKind.ANCESTRAL && !steps && !spacing;
  }

  /** The sampling signatures that --sampler calls, with or without --steps and --spacing given. */
  static InferenceGraph.Samplers signatures(String sampler, boolean steps, boolean spacing) {
    SamplerKind kind = kind(sampler);
    return fullAncestral(kind, steps, spacing) ? InferenceGraph.Samplers.FULL_ANCESTRAL
        : InferenceGraph.Samplers.only(kind);
  }

  /** The --sampler value as a kind, or a user error naming the available ones. */
  private static SamplerKind kind(String sampler) {
    try {
      return SamplerKind.parse(sampler);
    } catch (IllegalArgumentException e) {
      throw new Main.UserError("--sampler: " + e.getMessage());
    }
  }

  /** Receives each batch of images as it is drawn. */
  interface BatchSink {
    void accept(long firstIndex, GeneratedImages batch) throws IOException;
  }

  /**
   * Images {@code first} .. {@code first + n - 1} of the seed's sequence in batches of {@code batch}, with progress.
   * Image i's noise depends on (seed, i) only, so the batch size does not change any image.
   */
  static void draw(DiffusionSampler s, SamplerSpec spec, long first, int n, int batch, long seed, Progress progress,
      BatchSink sink) throws IOException {
    draw(s, spec, first, n, batch, seed, null, 1f, progress, sink);
  }

  /** As above, for a conditional model: image i (counted from 0 in this call) gets class labels.applyAsInt(i). */
  static void draw(DiffusionSampler s, SamplerSpec spec, long first, int n, int batch, long seed,
      java.util.function.IntUnaryOperator labels, float guidance, Progress progress, BatchSink sink)
      throws IOException {
    progress.per("image"); // the bar counts images here
    long t0 = System.nanoTime();
    for (int done = 0; done < n; done += batch) {
      int m = Math.min(batch, n - done);
      int[] l = null;
      if (labels != null) {
        l = new int[m];
        for (int i = 0; i < m; i++) l[i] = labels.applyAsInt(done + i);
      }
      sink.accept(first + done, s.sample(m, seed, first + done, spec, l, labels == null ? 1f : guidance));
      double secondsPerImage = (System.nanoTime() - t0) / 1e9 / (done + m);
      progress.show(done + m, 1 / secondsPerImage, secondsPerImage, true); // a line per batch in logs
    }
    progress.finish();
  }

  /** n images' pixels (NHWC), drawn in batches. */
  static byte[] pixels(DiffusionSampler s, SamplerSpec spec, int n, int batch, long seed, Progress progress) {
    return pixels(s, spec, n, batch, seed, null, 1f, progress);
  }

  static byte[] pixels(DiffusionSampler s, SamplerSpec spec, int n, int batch, long seed,
      java.util.function.IntUnaryOperator labels, float guidance, Progress progress) {
    int per = s.metadata().imageSize() * s.metadata().imageSize() * s.metadata().channels();
    byte[] out = new byte[n * per];
    try {
      draw(s, spec, 0, n, batch, seed, labels, guidance, progress, (first, g) -> System.arraycopy(g.pixels(), 0, out,
          (int) first * per, g.count() * per));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out;
  }
}
