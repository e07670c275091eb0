package dev.ddpm4j.cli;

import dev.ddpm4j.diffusion.SamplerKind;
import dev.ddpm4j.diffusion.Spacing;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
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
  static final String DEFAULT_SAMPLER = "dpmpp_2m";
  static final int DEFAULT_STEPS = 20;

  @Option(names = "--sampler", defaultValue = DEFAULT_SAMPLER,
      description = "ancestral, ddim, dpmpp_2m or dpmpp_3m (default: ${DEFAULT-VALUE}).")
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

  /** The validated choice for a model with T timesteps. */
  SamplerSpec spec(int timesteps) {
    return spec(sampler, steps, spacing, eta, timesteps);
  }

  /** A validated sampler choice; null steps or spacing mean the defaults. */
  static SamplerSpec spec(String sampler, Integer steps, String spacing, float eta, int timesteps) {
    SamplerKind kind;
    try {
      kind = SamplerKind.parse(sampler);
    } catch (IllegalArgumentException e) {
      throw new Main.UserError("--sampler: " + e.getMessage());
    }
    if (kind == SamplerKind.ANCESTRAL && steps == null && spacing == null) return SamplerSpec.ancestral();
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
    long t0 = System.nanoTime();
    for (int done = 0; done < n; done += batch) {
      int m = Math.min(batch, n - done);
      sink.accept(first + done, s.sample(m, seed, first + done, spec));
      double secondsPerImage = (System.nanoTime() - t0) / 1e9 / (done + m);
      progress.show(done + m, 1 / secondsPerImage, secondsPerImage, true); // a line per batch in logs
    }
    progress.finish();
  }

  /** n images' pixels (NHWC), drawn in batches. */
  static byte[] pixels(DiffusionSampler s, SamplerSpec spec, int n, int batch, long seed, Progress progress) {
    int per = s.metadata().imageSize() * s.metadata().imageSize() * s.metadata().channels();
    byte[] out = new byte[n * per];
    try {
      draw(s, spec, 0, n, batch, seed, progress, (first, g) -> System.arraycopy(g.pixels(), 0, out,
          (int) first * per, g.count() * per));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out;
  }
}
