package dev.ddpm4j.metrics;

/**
 * Precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al. 2020) from k-nearest-neighbour
 * balls in feature space. With r_i the distance from real feature i to its k-th nearest other real feature and s_j the
 * same among the fakes:
 *
 * <pre>
 * precision = share of fakes j inside some real ball:     exists i: |x_i - y_j| < r_i
 * recall    = share of reals i inside some fake ball:     exists j: |x_i - y_j| < s_j
 * density   = (1 / (k M)) sum_j #{ i : |x_i - y_j| < r_i }
 * coverage  = share of reals i whose nearest fake lies inside its ball:  min_j |x_i - y_j| < r_i
 * </pre>
 */
public final class Prdc {
  public static final int DEFAULT_K = 5;

  public record Result(double precision, double recall, double density, double coverage, int k) {}

  private Prdc() {}

  public static Result compute(Features real, Features fake, int k) {
    double[] realRadii = Distances.kthNeighbourRadii(real, k);
    double[] fakeRadii = Distances.kthNeighbourRadii(fake, k);
    double[][] d = Distances.matrix(real, fake); // [real][fake]
    int n = real.n();
    int m = fake.n();
    int[] inRealBalls = new int[m];
    int recalled = 0;
    int covered = 0;
    for (int i = 0; i < n; i++) {
      boolean inFakeBall = false;
      double nearest = Double.POSITIVE_INFINITY;
      for (int j = 0; j < m; j++) {
        double dij = d[i][j];
        if (dij < realRadii[i]) inRealBalls[j]++;
        if (dij < fakeRadii[j]) inFakeBall = true;
        nearest = Math.min(nearest, dij);
      }
      if (inFakeBall) recalled++;
      if (nearest < realRadii[i]) covered++;
    }
    int precise = 0;
    long total = 0;
    for (int j = 0; j < m; j++) {
      if (inRealBalls[j] > 0) precise++;
      total += inRealBalls[j];
    }
    return new Result((double) precise / m, (double) recalled / n, total / ((double) k * m), (double) covered / n, k);
  }
}
