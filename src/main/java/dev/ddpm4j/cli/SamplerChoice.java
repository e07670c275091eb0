package dev.ddpm4j.cli;

import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.train.Progress;

/** The sampler a command asked for ({@code --sampler}, {@code --steps}, {@code --eta}), validated against the model. */
record SamplerChoice(String name, int steps, float eta) {
  static SamplerChoice of(String sampler, Integer steps, float eta, int timesteps) {
    if (!sampler.equals("ancestral") && !sampler.equals("ddim")) {
      throw new Main.UserError("--sampler must be ancestral or ddim, got " + sampler);
    }
    if (sampler.equals("ancestral")) return new SamplerChoice(sampler, timesteps, 1f);
    int k = steps != null ? steps : Math.max(1, timesteps / 10);
    if (k < 1 || k > timesteps) throw new Main.UserError("--steps must be in [1, " + timesteps + "], got " + k);
    if (!(eta >= 0 && eta <= 1)) throw new Main.UserError("--eta must be in [0, 1], got " + eta);
    return new SamplerChoice(sampler, k, eta);
  }

  GeneratedImages draw(DiffusionSampler s, int n, long seed) {
    return name.equals("ddim") ? s.sampleDdim(n, seed, steps, eta) : s.sample(n, seed);
  }

  /**
   * n images in batches of {@code batch}, with progress; batch b is drawn with seed {@code seed + b}. Returns the
   * pixels (NHWC).
   */
  byte[] draw(DiffusionSampler s, int n, int batch, long seed, Progress progress) {
    int size = s.metadata().imageSize();
    int per = size * size * s.metadata().channels();
    byte[] out = new byte[n * per];
    long t0 = System.nanoTime();
    for (int from = 0, b = 0; from < n; from += batch, b++) {
      int m = Math.min(batch, n - from);
      System.arraycopy(draw(s, m, seed + b).pixels(), 0, out, from * per, m * per);
      double secondsPerImage = (System.nanoTime() - t0) / 1e9 / (from + m);
      progress.show(from + m, 1 / secondsPerImage, secondsPerImage, true); // a line per batch in logs
    }
    progress.finish();
    return out;
  }

  String describe() {
    return name.equals("ddim") ? String.format("ddim, %d steps, eta %s", steps, eta) : "ancestral, " + steps + " steps";
  }
}
