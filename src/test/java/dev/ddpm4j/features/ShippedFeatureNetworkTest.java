package dev.ddpm4j.features;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import dev.ddpm4j.metrics.ClassStats;
import dev.ddpm4j.metrics.Frechet;
import dev.ddpm4j.metrics.GaussianStats;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The feature network shipped in data/fashion-mnist/features, on real test images. */
class ShippedFeatureNetworkTest {
  static FeatureModel model;
  static Dataset test;

  @BeforeAll
  static void load() {
    ExperimentConfig cfg = ExperimentConfig.defaults(List.of("data.split=test", "data.limit=2000"));
    test = Datasets.load(cfg.data(), 0);
    model = FeatureModel.load(Path.of("data/fashion-mnist/features"), "ddpm4j features train");
  }

  @AfterAll
  static void close() {
    model.close();
  }

  @Test
  void classifiesHeldOutImagesAsTrainedTo() {
    Dataset part = test.range(0, 500);
    FeatureModel.Output o = model.apply(part.pixels(), part.size());
    int right = 0;
    for (int i = 0; i < part.size(); i++) if (ClassStats.argmax(o.logits(), i, 10) == part.labels()[i]) right++;
    double accuracy = right / 500.0;
    assertTrue(accuracy >= 0.9, "accuracy on 500 t10k images: " + accuracy);
    assertTrue(model.testAccuracy() >= 0.91, "recorded t10k accuracy: " + model.testAccuracy());
  }

  static byte[] noisy(byte[] px, double sigma, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    byte[] out = new byte[px.length];
    for (int i = 0; i < px.length; i++) {
      double g = Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
      out[i] = (byte) Math.max(0, Math.min(255, Math.round((px[i] & 0xff) + sigma * g)));
    }
    return out;
  }

  /** A box blur of radius r over each 32x32 grey image. */
  static byte[] blurred(byte[] px, int n, int r) {
    byte[] out = new byte[px.length];
    for (int i = 0; i < n; i++) {
      for (int y = 0; y < 32; y++) {
        for (int x = 0; x < 32; x++) {
          int sum = 0;
          int count = 0;
          for (int dy = -r; dy <= r; dy++) {
            for (int dx = -r; dx <= r; dx++) {
              int yy = y + dy;
              int xx = x + dx;
              if (yy < 0 || yy >= 32 || xx < 0 || xx >= 32) continue;
              sum += px[i * 1024 + yy * 32 + xx] & 0xff;
              count++;
            }
          }
          out[i * 1024 + y * 32 + x] = (byte) Math.round(sum / (double) count);
        }
      }
    }
    return out;
  }

  double fid(GaussianStats ref, byte[] px, int n) {
    return Frechet.distance(ref, GaussianStats.of(model.apply(px, n).features()));
  }

  @Test
  void fidOrdersRealNoisyBlurredAndPureNoise() {
    int n = 1000;
    GaussianStats a = GaussianStats.of(model.apply(test.range(0, n).pixels(), n).features());
    byte[] b = test.range(n, 2 * n).pixels();
    double real = fid(a, b, n);
    double noise = fid(a, noisy(b, 20, 1), n);
    double blur = fid(a, blurred(b, n, 2), n);
    byte[] pure = new byte[b.length];
    new SplittableRandom(2).nextBytes(pure);
    double random = fid(a, pure, n);
    String s = String.format("real %.2f, noisy %.2f, blurred %.2f, pure noise %.2f", real, noise, blur, random);
    // measured: real 4.8, noisy 73, blurred 193, pure noise 427; each step at least doubles here
    assertTrue(2 * real < noise && 2 * noise < blur && 2 * blur < random, s);
  }
}
