package dev.ddpm4j.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class MetricsTest {
  /** n Gaussian vectors with mean mu and covariance L L^T (L lower-triangular, row-major d x d). */
  static Features gaussian(int n, double[] mu, double[] l, long seed) {
    int d = mu.length;
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n * d];
    double[] z = new double[d];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < d; k++) z[k] = normal(r);
      for (int k = 0; k < d; k++) {
        double s = mu[k];
        for (int j = 0; j <= k; j++) s += l[k * d + j] * z[j];
        v[i * d + k] = (float) s;
      }
    }
    return new Features(v, n, d);
  }

  static double normal(SplittableRandom r) {
    double u = 1 - r.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  static double[] identity(int d, double scale) {
    double[] l = new double[d * d];
    for (int k = 0; k < d; k++) l[k * d + k] = scale;
    return l;
  }

  static DMatrixRMaj m(int d, double... v) {
    return new DMatrixRMaj(d, d, true, v);
  }

  @Test
  void frechetOfOneDimensionalGaussiansIsTheClosedForm() {
    // d^2 = (m1 - m2)^2 + (s1 - s2)^2 for N(m1, s1^2), N(m2, s2^2)
    double d = Frechet.distance(new double[] {1.5}, m(1, 4.0), new double[] {-0.5}, m(1, 0.25));
    assertEquals(4.0 + (2.0 - 0.5) * (2.0 - 0.5), d, 1e-12);
  }

  @Test
  void frechetOfNonCommutingCovariancesIsTheClosedForm() {
    // For 2x2 SPD matrices, M = S1^1/2 S2 S1^1/2 has trace tr(S1 S2) and determinant det S1 det S2, and the trace of
    // the square root of a 2x2 SPD matrix is sqrt(tr M + 2 sqrt(det M)).
    DMatrixRMaj s1 = m(2, 2.0, 0.7, 0.7, 1.0);
    DMatrixRMaj s2 = m(2, 0.5, -0.3, -0.3, 3.0);
    double[] mu1 = {0.3, -1.0};
    double[] mu2 = {1.1, 0.4};
    double trS1S2 = 2.0 * 0.5 + 0.7 * -0.3 + 0.7 * -0.3 + 1.0 * 3.0;
    double det1 = 2.0 * 1.0 - 0.7 * 0.7;
    double det2 = 0.5 * 3.0 - 0.3 * 0.3;
    double traceRoot = Math.sqrt(trS1S2 + 2 * Math.sqrt(det1 * det2));
    double meanTerm = 0.8 * 0.8 + 1.4 * 1.4;
    double expected = meanTerm + 3.0 + 3.5 - 2 * traceRoot;
    assertEquals(expected, Frechet.distance(mu1, s1, mu2, s2), 1e-12);
    assertEquals(expected, Frechet.distance(mu2, s2, mu1, s1), 1e-12, "symmetric");
  }

  @Test
  void frechetOfDiagonalCovariancesIsTheSumOfSquaredStdDifferences() {
    int d = 64;
    double[] v1 = new double[d * d];
    double[] v2 = new double[d * d];
    double expected = 0;
    for (int k = 0; k < d; k++) {
      double a = 0.5 + k * 0.1;
      double b = 2.0 / (1 + k);
      v1[k * d + k] = a * a;
      v2[k * d + k] = b * b;
      expected += (a - b) * (a - b);
    }
    assertEquals(expected, Frechet.distance(new double[d], new DMatrixRMaj(d, d, true, v1), new double[d],
        new DMatrixRMaj(d, d, true, v2)), 1e-9);
  }

  @Test
  void fidOfASetWithItselfIsZeroAndGrowsWithAShift() {
    int d = 32;
    Features f = gaussian(2000, new double[d], identity(d, 1.0), 1);
    GaussianStats s = GaussianStats.of(f);
    assertEquals(0, Frechet.distance(s, s), 1e-8);
    double[] shifted = new double[d];
    shifted[0] = 1;
    GaussianStats g = GaussianStats.of(gaussian(2000, shifted, identity(d, 1.0), 2));
    double fid = Frechet.distance(s, g);
    assertTrue(fid > 1.0 && fid < 1.8, "a unit mean shift costs about 1 plus sampling noise, got " + fid);
  }

  @Test
  void gaussianStatsAreTheUnbiasedMeanAndCovariance() {
    Features f = new Features(new float[] {1, 2, 3, 6, 5, 1}, 3, 2);
    GaussianStats s = GaussianStats.of(f);
    assertArrayEquals(new double[] {3, 3}, s.mean(), 1e-12);
    // deviations (-2,-1), (0,3), (2,-2): sums of products / 2
    assertArrayEquals(new double[] {4, -1, -1, 7}, s.covariance().getData(), 1e-12);
  }

  @Test
  void sqrtSymmetricSquaresBack() {
    DMatrixRMaj s = m(3, 4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2);
    DMatrixRMaj r = Frechet.sqrtSymmetric(s);
    DMatrixRMaj sq = new DMatrixRMaj(3, 3);
    org.ejml.dense.row.CommonOps_DDRM.mult(r, r, sq);
    assertArrayEquals(s.getData(), sq.getData(), 1e-12);
  }

  @Test
  void kidMatchesABruteForceReferenceAndIsZeroForOneDistribution() {
    Features x = gaussian(40, new double[4], identity(4, 1.0), 3);
    Features y = gaussian(40, new double[] {0.5, 0, 0, 0}, identity(4, 1.0), 4);
    // plain loops, straight from the definition
    double kxx = 0;
    double kyy = 0;
    double kxy = 0;
    for (int i = 0; i < 40; i++) {
      for (int j = 0; j < 40; j++) {
        if (i != j) kxx += k(x, i, x, j);
        if (i != j) kyy += k(y, i, y, j);
        kxy += k(x, i, y, j);
      }
    }
    double expected = kxx / (40 * 39) + kyy / (40 * 39) - 2 * kxy / (40 * 40);
    assertEquals(expected, Kid.mmd2Unbiased(x, y), 1e-9 * Math.abs(expected) + 1e-12);

    Features a = gaussian(3000, new double[8], identity(8, 1.0), 5);
    Features b = gaussian(3000, new double[8], identity(8, 1.0), 6);
    Kid.Result same = Kid.compute(a, b, 50, 500, 7);
    assertTrue(Math.abs(same.mean()) < 2 * same.std(), "same distribution: " + same);
    double[] mu = new double[8];
    mu[0] = 0.7;
    Kid.Result diff = Kid.compute(a, gaussian(3000, mu, identity(8, 1.0), 8), 50, 500, 7);
    assertTrue(diff.mean() > 5 * diff.std() && diff.mean() > 10 * Math.abs(same.mean()), "shifted: " + diff);
    assertEquals(500, diff.subsetSize());
  }

  @Test
  void kidOverSubsetsIsTheMeanAndSpreadOfEachSubsetScoredFromScratch() {
    Features x = gaussian(60, new double[4], identity(4, 1.0), 21);
    Features y = gaussian(200, new double[] {0.3, 0, 0, 0}, identity(4, 1.0), 22);
    for (int size : new int[] {60, 30}) { // x whole (its term computed once), then neither set whole
      SplittableRandom r = new SplittableRandom(11);
      double[] v = new double[7];
      for (int s = 0; s < v.length; s++) {
        v[s] = Kid.mmd2Unbiased(x.select(Kid.subset(r, x.n(), size)), y.select(Kid.subset(r, y.n(), size)));
      }
      double mean = java.util.Arrays.stream(v).average().orElseThrow();
      double var = java.util.Arrays.stream(v).map(a -> (a - mean) * (a - mean)).sum() / (v.length - 1);
      Kid.Result got = Kid.compute(x, y, v.length, size, 11);
      assertEquals(mean, got.mean(), 1e-12 * Math.abs(mean), "subset size " + size);
      assertEquals(Math.sqrt(var), got.std(), 1e-9 * Math.sqrt(var), "subset size " + size);
      assertTrue(got.std() > 0, "subsets differ: " + got);
      assertEquals(7, got.subsets());
      assertEquals(size, got.subsetSize());
    }
    // both sets whole: every subset is both sets reordered, so one value, no spread, and it says so
    Features z = gaussian(60, new double[] {0.3, 0, 0, 0}, identity(4, 1.0), 23);
    Kid.Result whole = Kid.compute(x, z, 100, 1000, 5);
    assertEquals(Kid.mmd2Unbiased(x, z), whole.mean(), 0);
    assertEquals(0, whole.std(), 0);
    assertEquals(1, whole.subsets());
    assertEquals(60, whole.subsetSize());
  }

  static double k(Features a, int i, Features b, int j) {
    double dot = 0;
    for (int c = 0; c < a.d(); c++) dot += a.values()[i * a.d() + c] * (double) b.values()[j * b.d() + c];
    return Math.pow(dot / a.d() + 1, 3);
  }

  /** Ten well-separated clusters; {@code onlyCluster} >= 0 draws from one of them. */
  static Features clusters(int n, int onlyCluster, long seed) {
    int d = 8;
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n * d];
    for (int i = 0; i < n; i++) {
      int c = onlyCluster >= 0 ? onlyCluster : r.nextInt(10);
      for (int k = 0; k < d; k++) v[i * d + k] = (float) ((k == c % d ? 10.0 * (1 + c / d) : 0) + normal(r));
    }
    return new Features(v, n, d);
  }

  @Test
  void prdcOfIdenticalSetsIsOneAndOfOneClusterIsPreciseButNotRecalled() {
    Features real = clusters(500, -1, 11);
    Prdc.Result same = Prdc.compute(real, real, 5);
    assertEquals(1.0, same.precision());
    assertEquals(1.0, same.recall());
    assertEquals(1.0, same.coverage());
    Prdc.Result one = Prdc.compute(real, clusters(500, 3, 12), 5);
    assertTrue(one.precision() > 0.9, "fakes inside the real support: " + one);
    assertTrue(one.recall() < 0.2 && one.coverage() < 0.2, "nine of ten clusters missed: " + one);
    Prdc.Result fresh = Prdc.compute(real, clusters(500, -1, 13), 5);
    assertTrue(fresh.precision() > 0.8 && fresh.recall() > 0.8 && fresh.coverage() > 0.8, "same distribution: " + fresh);
    assertEquals(1.0, fresh.density(), 0.2);
  }

  @Test
  void kthNeighbourRadiiSkipThePointItself() {
    Features line = new Features(new float[] {0, 1, 3, 7}, 4, 1);
    assertArrayEquals(new double[] {1, 1, 2, 4}, Distances.kthNeighbourRadii(line, 1), 1e-12);
    assertArrayEquals(new double[] {3, 2, 3, 6}, Distances.kthNeighbourRadii(line, 2), 1e-12);
  }

  @Test
  void copiesOfTrainingImagesAreFoundAndFreshDrawsScoreTheQuantile() {
    Features train = clusters(2000, -1, 21);
    Features heldOut = clusters(1000, -1, 22);
    double tau = Copies.threshold(heldOut, train, 0.05);
    Copies.Result copied = Copies.compute(train.rows(0, 300), train, tau);
    assertEquals(1.0, copied.share());
    assertEquals(0.0, copied.medianNearestTrainDistance());
    Copies.Result fresh = Copies.compute(clusters(1000, -1, 23), train, tau);
    assertEquals(0.05, fresh.share(), 0.03, "new draws score about the quantile: " + fresh);
    // quantile 0 is the single nearest held-out image: almost no fresh draw beats it
    assertTrue(Copies.compute(clusters(1000, -1, 24), train, Copies.threshold(heldOut, train, 0)).share() < 0.01);
  }

  @Test
  void quantileInterpolatesLikeNumpy() {
    double[] v = {4, 1, 3, 2};
    assertEquals(1.0, Copies.quantile(v, 0), 1e-12);
    assertEquals(2.5, Copies.quantile(v, 0.5), 1e-12);
    assertEquals(1.3, Copies.quantile(v, 0.1), 1e-12);
    assertEquals(4.0, Copies.quantile(v, 1), 1e-12);
  }

  @Test
  void classStatsHistogramEntropyAndConfidence() {
    float[] logits = {
        9, 0, 0, // class 0, confident
        0, 9, 0, // class 1, confident
        1, 1.2f, 0, // class 1, unsure
        0, 0, 9}; // class 2, confident
    ClassStats s = ClassStats.of(logits, 4, 3);
    assertArrayEquals(new int[] {1, 2, 1}, s.histogram());
    assertEquals(1.5, s.entropyBits(), 1e-12); // -(1/4 log 1/4 + 1/2 log 1/2 + 1/4 log 1/4)
    assertEquals(0.75, s.confidentShare(), 1e-12);
    // drawn for classes 0, 1, 1, 1: predicted 0, 1, 1, 2 -> 3 of 4 overall; class 0 1/1, class 1 2/3, class 2 none
    ClassStats r = ClassStats.of(logits, 4, 3, new int[] {0, 1, 1, 1});
    assertEquals(0.75, r.requestedShare(), 1e-12);
    assertEquals(1.0, r.requestedShareByClass()[0], 1e-12);
    assertEquals(2.0 / 3, r.requestedShareByClass()[1], 1e-12);
    assertTrue(Double.isNaN(r.requestedShareByClass()[2]));
  }
}
