package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Training dropout against its definition, checked element by element in Java: each output is 0 or x / (1 - rate)
 * (as float32 computes it), about rate of them are 0, the gradient is the same mask, and the mask is a function of
 * (seed, layer, step) and of the row of the global batch only.
 */
class DropoutTest {
  static final int B = 8, H = 16, W = 16, C = 8, N = B * H * W * C;
  static final double RATE = 0.3;

  /** x, dropout(x) at (layer, step), d sum(dropout(x) * stopGradient(x)) / dx, and the rows [2, 5) of a replica's dropout. */
  static float[][] run(long seed, int layer, long step) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      float[] xv = new float[N];
      for (int i = 0; i < N; i++) xv[i] = (float) Math.sin(0.37 * i + 0.1) * 3f; // no zeros, both signs
      Operand<TFloat32> x = tf.reshape(tf.constant(xv), tf.constant(new long[] {B, H, W, C}));
      Operand<TInt64> s = tf.constant(step);
      Operand<TFloat32> y = TrainingGraph.dropout(seed, RATE, s).apply(tf, x, layer);
      // d/dx sum(y * stopGradient(x)) = mask * x, so the gradient is checked against the same mask
      Operand<TFloat32> loss = tf.sum(tf.math.mul(y, tf.stopGradient(x)), tf.constant(new int[] {0, 1, 2, 3}));
      Output<?>[] grad = g.addGradients(loss.asOutput(), new Output<?>[] {x.asOutput()});
      Operand<TFloat32> rowsIn = tf.slice(x, tf.constant(new int[] {2, 0, 0, 0}), tf.constant(new int[] {3, -1, -1, -1}));
      Operand<TInt32> first = tf.constant(2);
      Operand<TFloat32> rowsOut = TrainingGraph.dropout(seed, RATE, s, first, B).apply(tf, rowsIn, layer);
      try (Session ss = new Session(g);
          Result r = ss.runner().fetch(x).fetch(y).fetch(grad[0]).fetch(rowsOut).run()) {
        float[][] out = new float[4][];
        for (int k = 0; k < 4; k++) {
          TFloat32 t = (TFloat32) r.get(k);
          out[k] = new float[(int) t.shape().size()];
          t.asRawTensor().data().asFloats().read(out[k]);
        }
        return out;
      }
    }
  }

  @Test
  void keepsOrZeroesEachElementAtTheRateAndTheGradientIsTheSameMask() {
    float[][] r = run(7, 0, 11);
    float scale = (float) (1.0 / (1.0 - RATE));
    int zeros = 0;
    for (int i = 0; i < N; i++) {
      float x = r[0][i], y = r[1][i];
      boolean kept = y != 0f;
      if (kept) assertEquals(x * scale, y, 0f, "element " + i);
      else zeros++;
      // gradient of sum(y * stopGradient(x)): mask * x, i.e. x * scale where kept and 0 where dropped
      assertEquals(kept ? x * scale : 0f, r[2][i], Math.abs(x * scale) * 1e-6f, "gradient " + i);
    }
    double frac = zeros / (double) N; // binomial sd at N = 16384: 0.0036
    assertEquals(RATE, frac, 0.02, "fraction dropped");
  }

  @Test
  void theMaskIsKeyedBySeedLayerAndStepAndEachRowKeepsItsMaskOnAReplica() {
    float[][] a = run(7, 0, 11);
    float[][] again = run(7, 0, 11);
    assertEquals(Arrays.toString(a[1]), Arrays.toString(again[1]));
    assertNotEquals(Arrays.toString(a[1]), Arrays.toString(run(7, 1, 11)[1]), "layer");
    assertNotEquals(Arrays.toString(a[1]), Arrays.toString(run(7, 0, 12)[1]), "step");
    assertNotEquals(Arrays.toString(a[1]), Arrays.toString(run(8, 0, 11)[1]), "seed");
    int row = H * W * C;
    assertEquals(3 * row, a[3].length, "a replica's rows [2, 5)");
    for (int i = 0; i < 3 * row; i++) assertEquals(a[1][2 * row + i], a[3][i], 0f, "replica row element " + i);
  }
}
