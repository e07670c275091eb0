package dev.ddpm4j.metrics;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The Frechet distance between two Gaussians (FID when they are fitted to network features; Heusel et al. 2017):
 *
 * <pre>
 * d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr( (S1^1/2 S2 S1^1/2)^1/2 )
 * </pre>
 * Both square roots come from symmetric eigendecompositions (negative eigenvalues from rounding are set to 0), so
 * the matrix inside the trace is symmetric positive semi-definite by construction; Tr((S1 S2)^1/2) is the same number.
 */
public final class Frechet {
  private Frechet() {}

  public static double distance(GaussianStats a, GaussianStats b) {
    return distance(a.mean(), a.covariance(), b.mean(), b.covariance());
  }

  public static double distance(double[] mu1, DMatrixRMaj s1, double[] mu2, DMatrixRMaj s2) {
    int d = mu1.length;
    if (mu2.length != d || s1.numRows != d || s2.numRows != d || s1.numCols != d || s2.numCols != d) {
      throw new IllegalArgumentException("dimensions differ");
    }
    double meanTerm = 0;
    for (int k = 0; k < d; k++) meanTerm += (mu1[k] - mu2[k]) * (mu1[k] - mu2[k]);
    DMatrixRMaj root1 = sqrtSymmetric(s1);
    DMatrixRMaj tmp = new DMatrixRMaj(d, d);
    DMatrixRMaj m = new DMatrixRMaj(d, d);
    CommonOps_DDRM.mult(root1, s2, tmp);
    CommonOps_DDRM.mult(tmp, root1, m);
    double traceRoot = 0;
    for (double ev : eigenvalues(m)) traceRoot += Math.sqrt(Math.max(ev, 0));
    return meanTerm + CommonOps_DDRM.trace(s1) + CommonOps_DDRM.trace(s2) - 2 * traceRoot;
  }

  /** The symmetric positive semi-definite square root V diag(sqrt(max(l, 0))) V^T of a symmetric matrix. */
  public static DMatrixRMaj sqrtSymmetric(DMatrixRMaj s) {
    int d = s.numRows;
    DMatrixRMaj sym = symmetrized(s);
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, true, true);
    if (!eig.decompose(sym)) throw new ArithmeticException("eigendecomposition failed");
    DMatrixRMaj out = new DMatrixRMaj(d, d);
    double[] o = out.getData();
    for (int k = 0; k < eig.getNumberOfEigenvalues(); k++) {
      double root = Math.sqrt(Math.max(eig.getEigenvalue(k).real, 0));
      if (root == 0) continue;
      double[] v = eig.getEigenVector(k).getData();
      for (int i = 0; i < d; i++) {
        double vi = v[i] * root;
        for (int j = 0; j < d; j++) o[i * d + j] += vi * v[j];
      }
    }
    return out;
  }

  static double[] eigenvalues(DMatrixRMaj m) {
    int d = m.numRows;
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(d, false, true);
    if (!eig.decompose(symmetrized(m))) throw new ArithmeticException("eigendecomposition failed");
    double[] out = new double[eig.getNumberOfEigenvalues()];
    for (int k = 0; k < out.length; k++) out[k] = eig.getEigenvalue(k).real;
    return out;
  }

  private static DMatrixRMaj symmetrized(DMatrixRMaj m) {
    DMatrixRMaj t = new DMatrixRMaj(m.numCols, m.numRows);
    CommonOps_DDRM.transpose(m, t);
    DMatrixRMaj out = new DMatrixRMaj(m.numRows, m.numCols);
    CommonOps_DDRM.add(0.5, m, 0.5, t, out);
    return out;
  }
}
