package dev.ddpm4j.metrics;

/**
 * Memorisation: the share of queried images that sit closer to the training set than real held-out images do. With
 * d(x) the distance from x to its nearest training image in feature space, and tau the {@code quantile} of d over real
 * held-out (test) images, a query q counts as a copy when d(q) < tau.
 *
 * <p>With quantile 0, tau is the distance of the single nearest real test image to its nearest training image; a small
 * positive quantile (the default 0.01) is used instead because datasets hold near-duplicates across their splits
 * (Fashion-MNIST does), which drive the minimum to almost 0. A model that draws new images scores about the quantile
 * itself (what held-out real images score: the real-vs-real floor); one that reproduces its training set scores near 1.
 */
public final class Copies {
  public static final double DEFAULT_QUANTILE = 0.01;

  /** The share of copies, the threshold and the median nearest-training distance of the queries. */
  public record Result(double share, int copies, int n, double threshold, double medianNearestTrainDistance) {}

  private Copies() {}

  /** The threshold tau from real held-out images: the {@code quantile} of their nearest-training distances. */
  public static double threshold(Features reference, Features train, double quantile) {
    return quantile(nearestDistances(reference, train), quantile);
  }

  public static Result compute(Features queries, Features train, double threshold) {
    double[] d = nearestDistances(queries, train);
    int copies = 0;
    for (double v : d) if (v < threshold) copies++;
    int n = d.length;
    return new Result(n == 0 ? 0 : (double) copies / n, copies, n, threshold, quantile(d, 0.5));
  }

  /** For each row of {@code a}, the distance to its nearest row of {@code b}. */
  public static double[] nearestDistances(Features a, Features b) {
    double[] out = new double[a.n()];
    Distances.forEachRow(a, b, (i, d) -> {
      double min = Double.POSITIVE_INFINITY;
      for (double v : d) min = Math.min(min, v);
      out[i] = min;
    });
    return out;
  }

  /** The q-quantile with linear interpolation between order statistics (numpy's default). */
  static double quantile(double[] values, double q) {
    if (values.length == 0) return Double.NaN;
    double[] s = values.clone();
    java.util.Arrays.sort(s);
    double pos = q * (s.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(s.length - 1, lo + 1);
    return s[lo] + (pos - lo) * (s[hi] - s[lo]);
  }
}
