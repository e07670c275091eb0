package dev.ddpm4j.features;

import dev.ddpm4j.metrics.ClassStats;
import dev.ddpm4j.metrics.Copies;
import dev.ddpm4j.metrics.Features;
import dev.ddpm4j.metrics.Frechet;
import dev.ddpm4j.metrics.GaussianStats;
import dev.ddpm4j.metrics.Kid;
import dev.ddpm4j.metrics.Prdc;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Scores a set of images against a dataset's real images in the feature network's space, and scores real training
 * images the same way as the floor (what real data achieves at the same n):
 * <ul>
 *   <li>{@code fid}: Frechet distance to the held-out images' feature Gaussian (all of them);
 *   <li>{@code kid}: KID against all held-out images, subsets of min(n, 1000), 100 subsets;
 *   <li>{@code prdc}: precision, recall, density, coverage (k = 5) against n held-out images drawn with the seed;
 *   <li>{@code classes}: the feature network's predicted-class histogram, its entropy, the confident share;
 *   <li>{@code copies}: the share nearer the training set than 99% of the first half of the held-out images are.
 * </ul>
 * The floor draws n training images with the seed (disjoint from the held-out images by construction); for {@code
 * copies} it uses held-out images from the second half instead (training images are copies of themselves).
 */
public final class QualityEvaluator {
  /** The sample-quality metrics {@code eval --metric} takes. */
  public enum Metric {
    FID, KID, PRDC, CLASSES, COPIES;

    public String key() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Parses one name; null when it is not a quality metric. */
    public static Metric parse(String s) {
      for (Metric m : values()) if (m.key().equals(s)) return m;
      return null;
    }
  }

  /** What one set of images scored; absent metrics are null. */
  public record Scores(int n, Double fid, Kid.Result kid, Prdc.Result prdc, ClassStats classes, Copies.Result copies) {}

  /** Generated images and the real-vs-real floor at the same n, with timings. */
  public record Report(Scores images, Scores floor, int heldOutImages, String heldOutDescription, double featureSeconds,
      double scoringSeconds) {}

  private final FeatureModel model;
  private final RealFeatures real;
  private final long seed;

  public QualityEvaluator(FeatureModel model, RealFeatures real, long seed) {
    this.model = model;
    this.real = real;
    this.seed = seed;
  }

  /** Scores n images (8-bit NHWC, the feature network's size) and the floor at the same n. */
  public Report evaluate(byte[] pixels, int n, Set<Metric> metrics) {
    return evaluate(pixels, n, metrics, null);
  }

  /**
   * As above, for images drawn for requested classes ({@code requested[i]}, -1 = none): the class statistics then
   * include the share classified as requested; the floor's is the network's accuracy on the real images.
   */
  public Report evaluate(byte[] pixels, int n, Set<Metric> metrics, int[] requested) {
    if (n < 2) throw new IllegalArgumentException("sample-quality metrics need at least 2 images, got " + n);
    long t0 = System.nanoTime();
    FeatureModel.Output out = model.apply(pixels, n);
    double featureSeconds = (System.nanoTime() - t0) / 1e9;
    long t1 = System.nanoTime();
    Set<Metric> m = metrics.isEmpty() ? EnumSet.noneOf(Metric.class) : EnumSet.copyOf(metrics);
    Features test = real.test();
    Features train = real.train();
    int half = test.n() / 2;
    Double copiesThreshold = m.contains(Metric.COPIES)
        ? Copies.threshold(test.rows(0, half), train, Copies.DEFAULT_QUANTILE) : null;
    Scores images = score(out.features(), out.logits(), out.classes(), m, copiesThreshold, requested);

    SplittableRandom rng = new SplittableRandom(seed ^ 0xF100L);
    int floorN = Math.min(n, train.n());
    int[] idx = sample(rng, train.n(), floorN);
    Features floorFeatures = train.select(idx);
    float[] floorLogits = rows(real.trainLogits(), idx, real.classes());
    int[] floorLabels = new int[idx.length];
    for (int i = 0; i < idx.length; i++) floorLabels[i] = real.trainLabels()[idx[i]];
    Scores floor = score(floorFeatures, floorLogits, out.classes(), without(m, Metric.COPIES), null,
        requested != null ? floorLabels : null);
    if (m.contains(Metric.COPIES)) {
      Features second = test.rows(half, test.n());
      Features queries = second.select(sample(rng, second.n(), Math.min(n, second.n())));
      floor = new Scores(floor.n(), floor.fid(), floor.kid(), floor.prdc(), floor.classes(),
          Copies.compute(queries, train, copiesThreshold));
    }
    return new Report(images, floor, test.n(), real.testDescription(), featureSeconds, (System.nanoTime() - t1) / 1e9);
  }

  private Scores score(Features f, float[] logits, int classes, Set<Metric> m, Double copiesThreshold,
      int[] requested) {
    Double fid = m.contains(Metric.FID) ? Frechet.distance(GaussianStats.of(f), real.testStats()) : null;
    Kid.Result kid = m.contains(Metric.KID)
        ? Kid.compute(f, real.test(), Kid.DEFAULT_SUBSETS, Kid.DEFAULT_SUBSET_SIZE, seed) : null;
    Prdc.Result prdc = null;
    if (m.contains(Metric.PRDC)) {
      Features reals = real.test().select(sample(new SplittableRandom(seed ^ 0x9DC0L), real.test().n(),
          Math.min(f.n(), real.test().n())));
      prdc = Prdc.compute(reals, f, Prdc.DEFAULT_K);
    }
    ClassStats cs = m.contains(Metric.CLASSES) && logits != null ? ClassStats.of(logits, f.n(), classes, requested)
        : null;
    Copies.Result copies = m.contains(Metric.COPIES) ? Copies.compute(f, real.train(), copiesThreshold) : null;
    return new Scores(f.n(), fid, kid, prdc, cs, copies);
  }

  private static Set<Metric> without(Set<Metric> m, Metric x) {
    Set<Metric> s = EnumSet.noneOf(Metric.class);
    s.addAll(m);
    s.remove(x);
    return s;
  }

  private static float[] rows(float[] values, int[] idx, int width) {
    float[] out = new float[idx.length * width];
    for (int i = 0; i < idx.length; i++) System.arraycopy(values, idx[i] * width, out, i * width, width);
    return out;
  }

  /** m distinct indices in [0, n) drawn with the generator, sorted. */
  static int[] sample(SplittableRandom rng, int n, int m) {
    int[] out = Kid.subset(rng, n, m);
    java.util.Arrays.sort(out);
    return out;
  }
}
