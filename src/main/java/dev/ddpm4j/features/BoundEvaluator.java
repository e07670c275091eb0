package dev.ddpm4j.features;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.Elbo;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.sampler.DiffusionSampler;
import java.util.Arrays;
import java.util.List;

/**
 * The variational bound ({@link Elbo}, bits/dim term by term, and the eps MSE per timestep bucket) of an exported
 * model on the config's held-out images: Fashion-MNIST's t10k, or an image folder's held-out tenth, never the images
 * the model was trained on. The network is called through the export's {@code denoise} signature in batches.
 */
public final class BoundEvaluator {
  /** The bound, the images it scored, the config they came from, and whether only the data's own pixels counted. */
  public record Report(Elbo.Result result, Dataset data, ExperimentConfig config, double seconds, boolean ownRegion) {}

  private BoundEvaluator() {}

  /** Scores the first {@code num} held-out images (sorted order), {@code batch} per network call. */
  public static Report evaluate(ExperimentConfig cfg, DiffusionSampler s, int num, int batch, long seed, int buckets) {
    if (cfg.data().kind().equals("synthetic")) {
      throw new IllegalArgumentException("synthetic data has no held-out images to score the bound on");
    }
    ExperimentConfig test = ExperimentConfig.parse(cfg.toYaml(), "stored config", List.of("data.split=test"));
    Dataset data = Datasets.load(test.data(), test.run().seed()).limit(num);
    Normalizer norm = Normalizer.of(test.data());
    int dims = data.imageBytes();
    float[] x0 = new float[data.size() * dims];
    norm.normalize(data.pixels(), 0, x0, 0, x0.length);
    double[] scale = norm.scale().stream().mapToDouble(Double::doubleValue).toArray();
    double[] shift = norm.shift().stream().mapToDouble(Double::doubleValue).toArray();
    boolean[] scored = ownPixels(test, data);
    Elbo.Denoise net = (xt, t) -> batched(s, xt, t, dims, batch);
    long t0 = System.nanoTime();
    Elbo.Result r = Elbo.evaluate(Schedule.of(test.diffusion()), test.diffusion().variance(), x0, data.size(), dims,
        scale, shift, scored, true, net, seed, buckets);
    return new Report(r, data, test, (System.nanoTime() - t0) / 1e9, scored != null);
  }

  /**
   * The dimensions of the data's own pixels when a dataset was padded to the model's size (Fashion-MNIST's centered
   * 28x28), else null (all).
   */
  static boolean[] ownPixels(ExperimentConfig cfg, Dataset data) {
    dev.ddpm4j.metrics.Detail region = RealFeatures.region(cfg.data());
    if (region.size() == data.height()) return null;
    int size = data.height();
    int c = data.channels();
    boolean[] m = new boolean[size * size * c];
    int o = region.offset();
    for (int y = o; y < o + region.size(); y++) {
      for (int x = o; x < o + region.size(); x++) for (int k = 0; k < c; k++) m[(y * size + x) * c + k] = true;
    }
    return m;
  }

  private static Elbo.Prediction batched(DiffusionSampler s, float[] xt, int[] t, int dims, int batch) {
    float[] out = new float[xt.length];
    float[] logVar = null;
    for (int start = 0; start < t.length; start += batch) {
      int n = Math.min(batch, t.length - start);
      float[] x = Arrays.copyOfRange(xt, start * dims, (start + n) * dims);
      DiffusionSampler.Denoised d = s.denoise(x, Arrays.copyOfRange(t, start, start + n));
      System.arraycopy(d.x0(), 0, out, start * dims, n * dims);
      if (d.logVariance() != null) {
        if (logVar == null) logVar = new float[xt.length];
        System.arraycopy(d.logVariance(), 0, logVar, start * dims, n * dims);
      }
    }
    return new Elbo.Prediction(out, logVar);
  }
}
