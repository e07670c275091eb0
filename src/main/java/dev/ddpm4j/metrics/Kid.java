package dev.ddpm4j.metrics;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of the squared MMD with the cubic
 * polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of both sets (drawn without replacement
 * within a subset), with its standard deviation over the subsets.
 *
 * <pre>
 * MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1)) - 2 sum_{i,j} k(x_i, y_j) / m^2
 * </pre>
 */
public final class Kid {
  /** Subsets and their size when the sets allow (the KID paper's and common tools' choice). */
  public static final int DEFAULT_SUBSETS = 100;
  public static final int DEFAULT_SUBSET_SIZE = 1000;

  /** The mean over subsets, its standard deviation, the number of subsets and the subset size. */
  public record Result(double mean, double std, int subsets, int subsetSize) {}

  private Kid() {}

  /**
   * KID over {@code subsets} random subsets of {@code subsetSize} rows (fewer when a set is smaller).
   *
   * <p>The subsets are drawn first, in one sequence from {@code seed}, then scored on the common fork-join pool. A
   * subset of all n rows of a set is that set in another order, and a within-set kernel sum does not depend on the
   * order, so such a term is computed once; when both sets are whole every subset scores the same, the result is that
   * one value with std 0, and {@code subsets} in the result is 1 (the tools that choose 100 subsets of 1000, as
   * clean-fid and torch-fidelity do, compute the same value 100 times there).
   */
  public static Result compute(Features x, Features y, int subsets, int subsetSize, long seed) {
    int m = Math.min(subsetSize, Math.min(x.n(), y.n()));
    if (m < 2) throw new IllegalArgumentException("KID needs at least 2 feature vectors in each set");
    boolean xWhole = m == x.n();
    boolean yWhole = m == y.n();
    if (xWhole && yWhole) return new Result(mmd2Unbiased(x, y), 0, 1, m);
    SplittableRandom rng = new SplittableRandom(seed);
    int[][] xs = new int[subsets][];
    int[][] ys = new int[subsets][];
    for (int s = 0; s < subsets; s++) {
      xs[s] = subset(rng, x.n(), m);
      ys[s] = subset(rng, y.n(), m);
    }
    double kxxWhole = xWhole ? kernelSum(x, x, true) : Double.NaN;
    double kyyWhole = yWhole ? kernelSum(y, y, true) : Double.NaN;
    double[] values = IntStream.range(0, subsets).parallel().mapToDouble(s -> {
      Features a = xWhole ? x : x.select(xs[s]);
      Features b = yWhole ? y : y.select(ys[s]);
      return mmd2(xWhole ? kxxWhole : kernelSum(a, a, true), yWhole ? kyyWhole : kernelSum(b, b, true),
          kernelSum(a, b, false), m);
    }).toArray();
    double mean = 0;
    for (double v : values) mean += v;
    mean /= subsets;
    double var = 0;
    for (double v : values) var += (v - mean) * (v - mean);
    double std = subsets > 1 ? Math.sqrt(var / (subsets - 1)) : 0;
    return new Result(mean, std, subsets, m);
  }

  /** The unbiased squared MMD of two equally sized sets with the cubic polynomial kernel. */
  public static double mmd2Unbiased(Features x, Features y) {
    int m = x.n();
    if (y.n() != m) throw new IllegalArgumentException("sets must have the same size");
    return mmd2(kernelSum(x, x, true), kernelSum(y, y, true), kernelSum(x, y, false), m);
  }

  /** MMD^2_u from the three kernel sums of two sets of m rows (the within-set sums without their diagonals). */
  private static double mmd2(double kxx, double kyy, double kxy, int m) {
    return kxx / ((double) m * (m - 1)) + kyy / ((double) m * (m - 1)) - 2 * kxy / ((double) m * m);
  }

  private static double kernelSum(Features a, Features b, boolean offDiagonalOnly) {
    DMatrixRMaj g = new DMatrixRMaj(a.n(), b.n());
    CommonOps_DDRM.multTransB(a.matrix(), b.matrix(), g);
    double[] v = g.getData();
    double s = 0;
    for (int i = 0; i < a.n(); i++) {
      for (int j = 0; j < b.n(); j++) {
        if (offDiagonalOnly && i == j) continue;
        double k = v[i * b.n() + j] / a.d() + 1;
        s += k * k * k;
      }
    }
    return s;
  }

  /** m distinct indices in [0, n), in the order drawn (a partial Fisher-Yates shuffle). */
  public static int[] subset(SplittableRandom rng, int n, int m) {
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 0; i < m; i++) {
      int j = i + rng.nextInt(n - i);
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    return java.util.Arrays.copyOf(idx, m);
  }
}
