package dev.ddpm4j.model;

import static dev.ddpm4j.model.WinogradConvTest.assertClose;
import static dev.ddpm4j.model.WinogradConvTest.random;
import static dev.ddpm4j.model.WinogradConvTest.read;
import static dev.ddpm4j.model.WinogradConvTest.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/** The attention op against the definition in plain-Java double precision. */
class AttentionTest {
  /** a[n, t, head] = sum_u softmax_u(q[t] . k[u] / sqrt(d)) v[u], in double. */
  static double[] reference(int n, int p, int c, int heads, double[] qkv) {
    int d = c / heads;
    double[] a = new double[n * p * c];
    for (int b = 0; b < n; b++) {
      for (int h = 0; h < heads; h++) {
        for (int t = 0; t < p; t++) {
          double[] s = new double[p];
          double max = Double.NEGATIVE_INFINITY;
          for (int u = 0; u < p; u++) {
            for (int e = 0; e < d; e++) {
              s[u] += qkv[(b * p + t) * 3 * c + h * d + e] * qkv[(b * p + u) * 3 * c + c + h * d + e];
            }
            s[u] /= Math.sqrt(d);
            max = Math.max(max, s[u]);
          }
          double sum = 0;
          for (int u = 0; u < p; u++) sum += s[u] = Math.exp(s[u] - max);
          for (int u = 0; u < p; u++) {
            for (int e = 0; e < d; e++) {
              a[(b * p + t) * c + h * d + e] += s[u] / sum * qkv[(b * p + u) * 3 * c + 2 * c + h * d + e];
            }
          }
        }
      }
    }
    return a;
  }

  static float[] run(int n, int hh, int ww, int c, int heads, double[] qkv, int threads) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, hh, ww, 3L * c)));
      var a = Attention.forward(tf, xp, c, heads, threads);
      assertArrayEquals(new long[] {hh, ww, c}, Arrays.copyOfRange(a.shape().asArray(), 1, 4), "static shape");
      try (Session s = new Session(g); TFloat32 xv = tensor(qkv, n, hh, ww, 3L * c);
          Result r = s.runner().feed(xp, xv).fetch(a).run()) {
        assertEquals(Shape.of(n, hh, ww, c), r.get(0).shape());
        return read(r.get(0));
      }
    }
  }

  @ParameterizedTest(name = "{0}x{1}x{2}x{3}, {4} heads")
  @CsvSource({
    "2, 8, 8, 64, 1", // the default model's layers: 64 pixels, 64 channels
    "3, 3, 5, 32, 2", // 15 pixels: not a multiple of the vector lanes
    "1, 4, 4, 48, 3", // d = 16
    "1, 4, 4, 80, 1", // d = 80: a block of 64 channels, then one of 16
    "2, 1, 1, 16, 1" // one pixel: a weight of 1 on itself
  })
  void matchesTheDefinitionInDouble(int n, int hh, int ww, int c, int heads) {
    if (!Attention.available()) return; // FusedGroupNormTest fails where the library should have loaded
    SplittableRandom r = new SplittableRandom(17L * n + hh + 31L * ww + c + heads);
    double[] qkv = random(r, n * hh * ww * 3 * c);
    for (int i = 0; i < qkv.length; i++) qkv[i] *= 3; // scores of several units: softmaxes far from uniform
    assertClose(reference(n, hh * ww, c, heads, qkv), run(n, hh, ww, c, heads, qkv, 2), 1e-5, "a");
  }

  @Test
  void givesTheSameBitsWhateverTheThreadsOrBatch() {
    if (!Attention.available()) return;
    int n = 5, hh = 4, ww = 4, c = 32, heads = 2;
    double[] qkv = random(new SplittableRandom(3), n * hh * ww * 3 * c);
    float[] base = run(n, hh, ww, c, heads, qkv, 1);
    assertArrayEquals(base, run(n, hh, ww, c, heads, qkv, 3), "3 threads");
    float[] first = run(2, hh, ww, c, heads, Arrays.copyOf(qkv, 2 * hh * ww * 3 * c), 1);
    assertArrayEquals(Arrays.copyOf(base, first.length), first, "the first two samples alone");
  }

  @Test
  void fitsOnlyWhatTheOpComputes() {
    if (!Attention.available()) return;
    assertTrue(Attention.fits(Shape.of(-1, 8, 8, 192), 64, 1));
    assertFalse(Attention.fits(Shape.of(-1, 8, 8, 128), 64, 1), "not three times the channels");
    assertFalse(Attention.fits(Shape.of(-1, 8, 8, 192), 64, 3), "64 channels in 3 heads");
    assertFalse(Attention.fits(Shape.of(-1, -1, 8, 192), 64, 1), "an unknown height");
    assertThrows(IllegalArgumentException.class, () -> {
      try (Graph g = new Graph()) {
        Ops tf = Ops.create(g);
        Attention.forward(tf, tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 8, 8, 128))), 64, 1, 1);
      }
    });
  }
}
