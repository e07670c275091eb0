package dev.ddpm4j.metrics;

import org.ejml.data.DMatrixRMaj;

/**
 * Mean and covariance of a feature set, in double precision: the sufficient statistics of FID. The covariance is the
 * unbiased one (divided by n - 1), as numpy's {@code np.cov} and every FID implementation use.
 */
public record GaussianStats(double[] mean, DMatrixRMaj covariance, int n) {
  public static GaussianStats of(Features f) {
    if (f.n() < 2) throw new IllegalArgumentException("a covariance needs at least 2 feature vectors, got " + f.n());
    int d = f.d();
    double[] mean = new double[d];
    float[] v = f.values();
    for (int i = 0; i < f.n(); i++) {
      for (int k = 0; k < d; k++) mean[k] += v[i * d + k];
    }
    for (int k = 0; k < d; k++) mean[k] /= f.n();
    DMatrixRMaj centered = f.matrix();
    double[] c = centered.getData();
    for (int i = 0; i < f.n(); i++) {
      for (int k = 0; k < d; k++) c[i * d + k] -= mean[k];
    }
    DMatrixRMaj cov = new DMatrixRMaj(d, d);
    org.ejml.dense.row.CommonOps_DDRM.multTransA(centered, centered, cov);
    org.ejml.dense.row.CommonOps_DDRM.divide(cov, f.n() - 1);
    return new GaussianStats(mean, cov, f.n());
  }
}
