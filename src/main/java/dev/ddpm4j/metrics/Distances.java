package dev.ddpm4j.metrics;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/** Euclidean distances between feature sets as ||a||^2 + ||b||^2 - 2 a.b, one matrix product per block of rows. */
public final class Distances {
  /** Rows of {@code a} per block: bounds the temporary matrix to BLOCK x |b| doubles. */
  static final int BLOCK = 512;

  /** Called with each row of a and its distances to every row of b. */
  public interface RowConsumer {
    void accept(int row, double[] distances);
  }

  private Distances() {}

  /** The full |a| x |b| distance matrix (row-major). */
  public static double[][] matrix(Features a, Features b) {
    double[][] out = new double[a.n()][];
    forEachRow(a, b, (i, d) -> out[i] = d.clone());
    return out;
  }

  /** Streams the distance rows without holding the whole matrix (for large reference sets). */
  public static void forEachRow(Features a, Features b, RowConsumer consumer) {
    if (a.d() != b.d()) throw new IllegalArgumentException("feature widths differ: " + a.d() + " and " + b.d());
    DMatrixRMaj bm = b.matrix();
    double[] bNorm = squaredNorms(bm);
    double[] row = new double[b.n()];
    for (int start = 0; start < a.n(); start += BLOCK) {
      int end = Math.min(a.n(), start + BLOCK);
      DMatrixRMaj am = a.rows(start, end).matrix();
      double[] aNorm = squaredNorms(am);
      DMatrixRMaj dot = new DMatrixRMaj(end - start, b.n());
      CommonOps_DDRM.multTransB(am, bm, dot);
      double[] dd = dot.getData();
      for (int i = 0; i < end - start; i++) {
        for (int j = 0; j < b.n(); j++) {
          row[j] = Math.sqrt(Math.max(0, aNorm[i] + bNorm[j] - 2 * dd[i * b.n() + j]));
        }
        consumer.accept(start + i, row);
      }
    }
  }

  static double[] squaredNorms(DMatrixRMaj m) {
    double[] out = new double[m.numRows];
    double[] v = m.getData();
    for (int i = 0; i < m.numRows; i++) {
      double s = 0;
      for (int k = 0; k < m.numCols; k++) s += v[i * m.numCols + k] * v[i * m.numCols + k];
      out[i] = s;
    }
    return out;
  }

  /**
   * For each row of {@code a}, the distance to its k-th nearest neighbour among the OTHER rows of {@code a} (k = 1 is
   * the nearest; the row itself, at distance 0, is not counted).
   */
  public static double[] kthNeighbourRadii(Features a, int k) {
    if (k < 1 || k >= a.n()) throw new IllegalArgumentException("k = " + k + " needs more than k rows, got " + a.n());
    double[] radii = new double[a.n()];
    forEachRow(a, a, (i, d) -> {
      double[] copy = d.clone();
      copy[i] = Double.POSITIVE_INFINITY;
      java.util.Arrays.sort(copy);
      radii[i] = copy[k - 1];
    });
    return radii;
  }
}
