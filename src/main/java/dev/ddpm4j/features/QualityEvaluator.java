package dev.ddpm4j.features;

import dev.ddpm4j.metrics.ClassStats;
import dev.ddpm4j.metrics.Copies;
import dev.ddpm4j.metrics.Detail;
import dev.ddpm4j.metrics.Features;
import dev.ddpm4j.metrics.Frechet;
import dev.ddpm4j.metrics.GaussianStats;
import dev.ddpm4j.metrics.Kid;
import dev.ddpm4j.metrics.PixelHistogram;
import dev.ddpm4j.metrics.Prdc;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Scores a set of images against a dataset's real images in two feature spaces, the classifier's (its penultimate
 * layer) and {@link DetailSpace} (its first layers' response energy), plus a model-free detail statistic, and scores
 * real training images the same way as the floor (what real data achieves at the same n):
 * <ul>
 *   <li>{@code fid}: Frechet distance to the held-out images' feature Gaussian (all of them), in both spaces
 *       ({@code fid}, {@code fid_detail});
 *   <li>{@code kid}: KID against all held-out images, subsets of min(n, 1000), 100 subsets, in both spaces;
 *   <li>{@code detail}: two model-free statistics: the detail ratio, median Laplacian variance over the held-out
 *       images' ({@link Detail}), and the pixel-histogram distance to the held-out images ({@link PixelHistogram});
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
    FID, KID, PRDC, CLASSES, COPIES, DETAIL;

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
  public record Scores(int n, Double fid, Double fidDetail, Kid.Result kid, Kid.Result kidDetail, Double detailRatio,
      Double histogram, Prdc.Result prdc, ClassStats classes, Copies.Result copies) {

    Scores withCopies(Copies.Result c) {
      return new Scores(n, fid, fidDetail, kid, kidDetail, detailRatio, histogram, prdc, classes, c);
    }

    /**
     * Writes the scores as JSON keys with a prefix ({@code ""} or {@code "floor_"}): {@code fid}, {@code fid_detail},
     * {@code kid}, {@code kid_std}, {@code kid_detail}, {@code kid_detail_std}, {@code detail_ratio}, {@code histogram_tv}, {@code
     * precision}, {@code recall}, {@code density}, {@code coverage}, {@code class_entropy_bits}, {@code
     * confident_share}, {@code requested_class_share}, {@code class_histogram}, {@code copies}; absent metrics are
     * left out.
     */
    public void put(com.fasterxml.jackson.databind.node.ObjectNode j, String prefix) {
      if (fid != null) j.put(prefix + "fid", fid);
      if (fidDetail != null) j.put(prefix + "fid_detail", fidDetail);
      if (kid != null) {
        j.put(prefix + "kid", kid.mean());
        j.put(prefix + "kid_std", kid.std());
      }
      if (kidDetail != null) {
        j.put(prefix + "kid_detail", kidDetail.mean());
        j.put(prefix + "kid_detail_std", kidDetail.std());
      }
      if (detailRatio != null) j.put(prefix + "detail_ratio", detailRatio);
      if (histogram != null) j.put(prefix + "histogram_tv", histogram);
      if (prdc != null) {
        j.put(prefix + "precision", prdc.precision());
        j.put(prefix + "recall", prdc.recall());
        j.put(prefix + "density", prdc.density());
        j.put(prefix + "coverage", prdc.coverage());
      }
      if (classes != null) {
        j.put(prefix + "class_entropy_bits", classes.entropyBits());
        j.put(prefix + "confident_share", classes.confidentShare());
        if (!Double.isNaN(classes.requestedShare())) {
          j.put(prefix + "requested_class_share", classes.requestedShare());
          var by = j.putArray(prefix + "requested_class_share_by_class");
          for (double v : classes.requestedShareByClass()) {
            if (Double.isNaN(v)) by.addNull();
            else by.add(v);
          }
        }
        var h = j.putArray(prefix + "class_histogram");
        for (int c : classes.histogram()) h.add(c);
      }
      if (copies != null) j.put(prefix + "copies", copies.share());
    }
  }

  /**
   * Generated images and the real-vs-real floor at the same n, with timings and warnings (a held-out set too small for
   * a stable FID, a feature network that failed or lacks its calibration).
   */
  public record Report(Scores images, Scores floor, int heldOutImages, String heldOutDescription, double featureSeconds,
      double scoringSeconds, java.util.List<String> warnings) {}

  /** Below this many held-out images FID and KID move a lot between draws: {@link Report#warnings()} says so. */
  public static final int STABLE_HELD_OUT = 1000;

  private final FeatureModel model;
  private final RealFeatures real;
  private final long seed;
  private final Detail region;
  private int kidSubsets = Kid.DEFAULT_SUBSETS;

  /**
   * @param region the part of each image the detail statistic looks at ({@link RealFeatures#region})
   */
  public QualityEvaluator(FeatureModel model, RealFeatures real, long seed, Detail region) {
    this.model = model;
    this.real = real;
    this.seed = seed;
    this.region = region;
  }

  /** KID's number of subsets (default {@link Kid#DEFAULT_SUBSETS}); calibration uses fewer. */
  public QualityEvaluator kidSubsets(int subsets) {
    if (subsets < 1) throw new IllegalArgumentException("KID needs at least 1 subset");
    this.kidSubsets = subsets;
    return this;
  }

  /** The training images the floor at n draws (indices into {@link RealFeatures#train()}, sorted). */
  public int[] floorIndex(int n) {
    return sample(new SplittableRandom(seed ^ 0xF100L), real.train().n(), Math.min(n, real.train().n()));
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
    int s = model.imageSize();
    double[] lap = m.contains(Metric.DETAIL) ? region.perImage(pixels, n, s, s, model.channels()) : null;
    Features hist = m.contains(Metric.DETAIL) ? PixelHistogram.perImage(pixels, n, s, s, model.channels(), region)
        : null;
    Scores images = score(out.features(), out.detail(), lap, hist, out.logits(), out.classes(), m, copiesThreshold,
        requested);

    SplittableRandom rng = new SplittableRandom(seed ^ 0xF100L);
    int floorN = Math.min(n, train.n());
    int[] idx = sample(rng, train.n(), floorN);
    Features floorFeatures = train.select(idx);
    float[] floorLogits = rows(real.trainLogits(), idx, real.classes());
    int[] floorLabels = new int[idx.length];
    double[] floorLap = new double[idx.length];
    for (int i = 0; i < idx.length; i++) {
      floorLabels[i] = real.trainLabels()[idx[i]];
      floorLap[i] = real.trainLaplacian()[idx[i]];
    }
    Scores floor = score(floorFeatures, real.trainDetail().select(idx), floorLap, real.trainHistogram().select(idx),
        floorLogits, out.classes(),
        without(m, Metric.COPIES), null, requested != null ? floorLabels : null);
    if (m.contains(Metric.COPIES)) {
      Features second = test.rows(half, test.n());
      Features queries = second.select(sample(rng, second.n(), Math.min(n, second.n())));
      floor = floor.withCopies(Copies.compute(queries, train, copiesThreshold));
    }
    java.util.List<String> warnings = new java.util.ArrayList<>(Calibration.warnings(model.dir(), real.key(),
        "ddpm4j eval --calibrate --config <the data's config> --features " + model.dir()));
    real.trainedOnHeldOut().ifPresent(warnings::add);
    if (test.n() < STABLE_HELD_OUT) {
      warnings.add(String.format("only %d held-out real images (%s): FID and KID against so few move a lot between "
          + "draws; read them next to the floor, and compare only runs scored against the same images", test.n(),
          real.testDescription()));
    }
    if (n < 1000 && m.contains(Metric.FID)) {
      warnings.add(n + " images: FID is biased upwards below about 1000; compare only at equal n (the floor is at "
          + "the same n)");
    }
    return new Report(images, floor, test.n(), real.testDescription(), featureSeconds, (System.nanoTime() - t1) / 1e9,
        warnings);
  }

  private Scores score(Features f, Features detail, double[] laplacian, Features histogram, float[] logits,
      int classes, Set<Metric> m, Double copiesThreshold, int[] requested) {
    Double fid = m.contains(Metric.FID) ? Frechet.distance(GaussianStats.of(f), real.testStats()) : null;
    Double fidDetail = m.contains(Metric.FID) ? Frechet.distance(GaussianStats.of(detail), real.testDetailStats())
        : null;
    Kid.Result kid = m.contains(Metric.KID)
        ? Kid.compute(f, real.test(), kidSubsets, Kid.DEFAULT_SUBSET_SIZE, seed) : null;
    Kid.Result kidDetail = m.contains(Metric.KID)
        ? Kid.compute(detail, real.testDetail(), kidSubsets, Kid.DEFAULT_SUBSET_SIZE, seed) : null;
    Double detailRatio = m.contains(Metric.DETAIL) ? Detail.ratio(laplacian, real.testLaplacian()) : null;
    Double hist = m.contains(Metric.DETAIL) ? PixelHistogram.distance(histogram, real.testHistogram()) : null;
    Prdc.Result prdc = null;
    if (m.contains(Metric.PRDC)) {
      Features reals = real.test().select(sample(new SplittableRandom(seed ^ 0x9DC0L), real.test().n(),
          Math.min(f.n(), real.test().n())));
      prdc = Prdc.compute(reals, f, Prdc.DEFAULT_K);
    }
    ClassStats cs = m.contains(Metric.CLASSES) && logits != null ? ClassStats.of(logits, f.n(), classes, requested)
        : null;
    Copies.Result copies = m.contains(Metric.COPIES) ? Copies.compute(f, real.train(), copiesThreshold) : null;
    return new Scores(f.n(), fid, fidDetail, kid, kidDetail, detailRatio, hist, prdc, cs, copies);
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
