package dev.ddpm4j.metrics;

import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;

/**
 * A set of feature vectors, n rows of d values (row-major float32, as a feature network returns them), with the
 * double-precision views the metrics need.
 */
public record Features(float[] values, int n, int d) {
  public Features {
    if (n < 0 || d < 1 || (long) n * d != values.length) {
      throw new IllegalArgumentException(values.length + " values are not " + n + " rows of " + d);
    }
  }

  /** The rows as an n x d double matrix. */
  public DMatrixRMaj matrix() {
    DMatrixRMaj m = new DMatrixRMaj(n, d);
    double[] data = m.getData();
    for (int i = 0; i < values.length; i++) data[i] = values[i];
    return m;
  }

  /** Rows {@code from} (inclusive) to {@code to} (exclusive). */
  public Features rows(int from, int to) {
    if (from < 0 || to > n || from > to) throw new IndexOutOfBoundsException("rows " + from + ".." + to + " of " + n);
    return new Features(Arrays.copyOfRange(values, from * d, to * d), to - from, d);
  }

  /** The rows at {@code index}, in that order. */
  public Features select(int[] index) {
    float[] out = new float[index.length * d];
    for (int k = 0; k < index.length; k++) System.arraycopy(values, index[k] * d, out, k * d, d);
    return new Features(out, index.length, d);
  }

  /** Rows of this set followed by rows of {@code other}. */
  public Features concat(Features other) {
    if (other.d != d) throw new IllegalArgumentException("feature widths differ: " + d + " and " + other.d);
    float[] out = Arrays.copyOf(values, values.length + other.values.length);
    System.arraycopy(other.values, 0, out, values.length, other.values.length);
    return new Features(out, n + other.n, d);
  }
}
