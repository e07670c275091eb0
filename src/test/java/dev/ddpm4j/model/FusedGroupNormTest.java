package dev.ddpm4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TFloating;

/**
 * The fused GroupNorm + SiLU op against a plain-Java double reference (forward) and against TensorFlow's own gradient
 * of {@link UNet#groupNorm} followed by SiLU in float64 (backward).
 */
class FusedGroupNormTest {
  /** x [shape], per-channel gamma and beta, and the upstream gradient: the loss is sum(y * upstream). */
  record Data(long[] shape, int groups, double[] x, double[] gamma, double[] beta, double[] upstream) {
    static Data random(long seed, int b, int h, int w, int c, int groups) {
      SplittableRandom r = new SplittableRandom(seed);
      double[] x = new double[b * h * w * c];
      for (int i = 0; i < x.length; i++) x[i] = 3.0 + (i % c) * 0.5 + 2.0 * (r.nextDouble() * 2 - 1); // mean far from 0
      double[] gamma = new double[c];
      double[] beta = new double[c];
      for (int k = 0; k < c; k++) {
        gamma[k] = 0.5 + r.nextDouble();
        beta[k] = r.nextDouble() - 0.5;
      }
      double[] up = new double[x.length];
      for (int i = 0; i < up.length; i++) up[i] = r.nextDouble() * 2 - 1;
      return new Data(new long[] {b, h, w, c}, groups, x, gamma, beta, up);
    }

    Data withUpstream(double[] up) {
      return new Data(shape, groups, x, gamma, beta, up);
    }
  }

  // 2 samples, 5x3 pixels (15: sums are not powers of two), 12 channels in 3 groups
  static final Data D = Data.random(11, 2, 5, 3, 12, 3);

  @Test
  void isBuiltAndLoadsWhereACompilerIs() {
    boolean linuxX64 = System.getProperty("os.name").toLowerCase().contains("linux")
        && System.getProperty("os.arch").matches("amd64|x86_64");
    String cc = System.getenv().getOrDefault("CC", "gcc"); // what build.sh compiles with
    boolean gcc = new File(cc).isAbsolute() && new File(cc).canExecute();
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      gcc |= new File(dir, cc).canExecute();
    }
    if (linuxX64 && gcc) assertTrue(FusedGroupNorm.available(), FusedGroupNorm.whyUnavailable());
  }

  @ParameterizedTest(name = "silu {0}")
  @ValueSource(booleans = {true, false})
  void forwardMatchesTheDefinitionInDouble(boolean silu) {
    if (!FusedGroupNorm.available()) return;
    double[] expected = reference(D, silu);
    float[] got = fused(D, TFloat32.class, silu, 2).y;
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], got[i], 2e-6 * (1 + Math.abs(expected[i])), "element " + i);
    }
  }

  @ParameterizedTest(name = "silu {0}")
  @ValueSource(booleans = {true, false})
  void gradientsMatchTensorFlowsGradientOfTheComposedLayer(boolean silu) {
    if (!FusedGroupNorm.available()) return;
    Values want = composed(D, silu);
    Values got = fused(D, TFloat32.class, silu, 2);
    checkGradients(want, got, 2e-5, 2e-5);
    // and the forward of the composed float64 graph agrees with the Java reference, so both sides test the same layer
    double[] ref = reference(D, silu);
    for (int i = 0; i < ref.length; i++) assertEquals(ref[i], want.y[i], 1e-6 * (1 + Math.abs(ref[i])), "composed " + i);
  }

  /**
   * GroupNorm of two inputs taken as their concatenation along the channels (a group straddling the two: 5 + 7
   * channels in groups of 4): the definition in double, and bit for bit the one-input op on the written concatenation.
   */
  @ParameterizedTest(name = "silu {0}")
  @ValueSource(booleans = {true, false})
  void twoInputsAreNormalizedAsTheirConcatenation(boolean silu) {
    if (!FusedGroupNorm.concatAvailable()) {
      assertTrue(!FusedGroupNorm.available(), "the library loaded without the two-input op");
      return;
    }
    double[] expected = reference(D, silu);
    int split = 5;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.dtypes.cast(tf.reshape(tf.constant(D.x), tf.constant(D.shape)), TFloat32.class);
      Operand<TFloat32> x1 = tf.slice(x, tf.constant(new int[] {0, 0, 0, 0}), tf.constant(new int[] {-1, -1, -1, split}));
      Operand<TFloat32> x2 = tf.slice(x, tf.constant(new int[] {0, 0, 0, split}), tf.constant(new int[] {-1, -1, -1, -1}));
      Operand<TFloat32> gm = tf.dtypes.cast(tf.constant(D.gamma), TFloat32.class);
      Operand<TFloat32> bt = tf.dtypes.cast(tf.constant(D.beta), TFloat32.class);
      Operand<TFloat32> two = FusedGroupNorm.applyConcat(tf, x1, x2, gm, bt, D.groups, silu, 2);
      Operand<TFloat32> one = FusedGroupNorm.apply(tf, tf.concat(List.of(x1, x2), tf.constant(3)), gm, bt, D.groups,
          silu, 2);
      try (Session s = new Session(g); Result r = s.runner().fetch(two).fetch(one).run()) {
        float[] got = new float[expected.length];
        float[] concat = new float[expected.length];
        ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(got);
        ((TFloat32) r.get(1)).asRawTensor().data().asFloats().read(concat);
        for (int i = 0; i < expected.length; i++) {
          assertEquals(expected[i], got[i], 2e-6 * (1 + Math.abs(expected[i])), "element " + i);
        }
        assertArrayEquals(concat, got, "the one-input op on the concatenation");
      }
    }
  }

  @Test
  void theThreadCountChangesNoBit() {
    if (!FusedGroupNorm.available()) return;
    Data d = Data.random(4, 5, 4, 4, 8, 2); // 5 samples on 3 threads: slices of 1, 2 and 2
    Values one = fused(d, TFloat32.class, true, 1);
    Values three = fused(d, TFloat32.class, true, 3);
    assertArrayEquals(one.y, three.y);
    assertArrayEquals(one.dx, three.dx);
    assertArrayEquals(one.dgamma, three.dgamma);
    assertArrayEquals(one.dbeta, three.dbeta);
  }

  @Test
  void extremePreActivationsGiveSiLUsLimitsNotNaN() {
    if (!FusedGroupNorm.available()) return;
    // beta of +-100 (and +-1000): z far beyond where exp(-z) overflows float; SiLU(z) is z or 0 there, its slope 1 or 0
    double[] beta = new double[(int) D.shape[3]];
    for (int k = 0; k < beta.length; k++) beta[k] = (k % 2 == 0 ? 1 : -1) * (k % 4 < 2 ? 100.0 : 1000.0);
    Data d = new Data(D.shape, D.groups, D.x, D.gamma, beta, D.upstream);
    Values got = fused(d, TFloat32.class, true, 2, 0.5, new long[] {1, 1});
    Values want = composed(d, true);
    for (int i = 0; i < got.y.length; i++) {
      assertTrue(Float.isFinite(got.y[i]) && Float.isFinite(got.dx[i]), "element " + i + ": " + got.y[i] + ", "
          + got.dx[i]);
      if (beta[i % beta.length] < 0) assertEquals(0f, got.y[i], 0f, "SiLU of a large negative z, element " + i);
    }
    for (int k = 0; k < beta.length; k++) {
      assertTrue(Float.isFinite(got.dgamma[k]) && Float.isFinite(got.dbeta[k]), "channel " + k);
      if (beta[k] < 0) assertEquals(0f, got.dbeta[k], 0f, "no gradient through SiLU's flat side, channel " + k);
    }
    assertTrue(Float.isFinite(want.y[0]), "the composed reference is finite too");
  }

  @Test
  void bfloat16RunsInBfloat16AndStaysCloseToFloat32() {
    if (!FusedGroupNorm.available()) return;
    Values f32 = fused(D, TFloat32.class, true, 2);
    Values bf = fused(D, TBfloat16.class, true, 2);
    // inputs and outputs rounded to 8 significant bits; statistics in float32
    check("y", f32.y, bf.y, 2e-2);
    checkGradients(f32, bf, 5e-2, 3e-2);
  }

  @Test
  void channelsThatAreNotAMultipleOfTheGroupsAreRefusedByName() {
    if (!FusedGroupNorm.available()) return;
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> y = FusedGroupNorm.apply(tf, tf.zeros(tf.constant(new long[] {1, 2, 2, 6}), TFloat32.class),
          tf.zeros(tf.constant(new long[] {6}), TFloat32.class), tf.zeros(tf.constant(new long[] {6}),
              TFloat32.class), 4, true, 1);
      Exception e = assertThrows(Exception.class, () -> s.runner().fetch(y).run().close());
      assertTrue(e.getMessage().contains("multiple of groups"), e.getMessage());
    }
  }

  @Test
  void dropoutKeepsOrZeroesEachValueAndItsGradientUsesTheSameMask() {
    if (!FusedGroupNorm.available()) return;
    Data d = Data.random(5, 4, 16, 16, 16, 4); // 16,384 elements
    double rate = 0.3;
    long[] key = {12345L, 7L};
    Values plain = fused(d, TFloat32.class, true, 2);
    Values dropped = fused(d, TFloat32.class, true, 2, rate, key);
    float scale = (float) (1.0 / (1.0 - rate));
    double[] mask = new double[plain.y.length];
    int zeros = 0;
    for (int i = 0; i < mask.length; i++) {
      if (dropped.y[i] == 0f) {
        zeros++;
      } else {
        mask[i] = scale;
        assertEquals(plain.y[i] * scale, dropped.y[i], 1e-6 * (1 + Math.abs(plain.y[i])), "kept element " + i);
      }
    }
    // binomial: 4.4 standard deviations either side
    double share = zeros / (double) mask.length;
    assertEquals(rate, share, 4.4 * Math.sqrt(rate * (1 - rate) / mask.length), "dropped share");
    // d/dx of sum(SiLU(GN(x)) * mask * upstream): TensorFlow's float64 gradient with upstream times the same mask
    double[] masked = new double[mask.length];
    for (int i = 0; i < mask.length; i++) masked[i] = d.upstream[i] * mask[i];
    Values want = composed(d.withUpstream(masked), true);
    checkGradients(want, dropped, 2e-5, 2e-5);
  }

  @Test
  void dropoutMasksAreAFunctionOfTheKeyOnly() {
    if (!FusedGroupNorm.available()) return;
    Data d = Data.random(6, 3, 8, 8, 8, 2);
    float[] a = fused(d, TFloat32.class, true, 1, 0.5, new long[] {1, 2}).y;
    float[] again = fused(d, TFloat32.class, true, 3, 0.5, new long[] {1, 2}).y;
    float[] otherStep = fused(d, TFloat32.class, true, 1, 0.5, new long[] {1, 3}).y;
    float[] otherLayer = fused(d, TFloat32.class, true, 1, 0.5, new long[] {2, 2}).y;
    assertArrayEquals(a, again, "same key, other thread count");
    int sameStep = 0;
    int sameLayer = 0;
    for (int i = 0; i < a.length; i++) {
      if ((a[i] == 0) == (otherStep[i] == 0)) sameStep++;
      if ((a[i] == 0) == (otherLayer[i] == 0)) sameLayer++;
    }
    // independent masks at rate 0.5 agree on about half the elements (1,536 here; 4.4 standard deviations)
    double sd = Math.sqrt(0.25 * a.length);
    assertEquals(a.length / 2.0, sameStep, 4.4 * sd, "masks of two steps");
    assertEquals(a.length / 2.0, sameLayer, 4.4 * sd, "masks of two layers");
  }

  /** y, and the gradients of sum(y * upstream). */
  record Values(float[] y, float[] dx, float[] dgamma, float[] dbeta) {}

  /** dx within dxRel of its largest value, dgamma and dbeta within paramRel of theirs. */
  static void checkGradients(Values want, Values got, double dxRel, double paramRel) {
    check("dx", want.dx, got.dx, dxRel);
    check("dgamma", want.dgamma, got.dgamma, paramRel);
    check("dbeta", want.dbeta, got.dbeta, paramRel);
  }

  static void check(String what, float[] want, float[] got, double rel) {
    double scale = 0;
    for (float v : want) scale = Math.max(scale, Math.abs(v));
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], got[i], rel * scale, what + "[" + i + "] (largest " + scale + ")");
    }
  }

  static <T extends TFloating> Values fused(Data d, Class<T> type, boolean silu, int threads) {
    return fused(d, type, silu, threads, 0, null);
  }

  static <T extends TFloating> Values fused(Data d, Class<T> type, boolean silu, int threads, double rate,
      long[] key) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<T> xt = cast(tf, type, tf.reshape(tf.constant(d.x), tf.constant(d.shape)));
      Operand<T> gm = cast(tf, type, tf.constant(d.gamma));
      Operand<T> bt = cast(tf, type, tf.constant(d.beta));
      UNet.KeyedDropout dropout = rate > 0 ? new UNet.KeyedDropout(rate, tf.constant(key)) : null;
      Operand<T> y = FusedGroupNorm.apply(tf, xt, gm, bt, d.groups, silu, threads, dropout);
      return run(d, g, tf, y, xt, gm, bt);
    }
  }

  /** UNet.groupNorm then x * sigmoid(x), in float64, with TensorFlow's derived gradient. */
  static Values composed(Data d, boolean silu) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> xt = tf.identity(tf.reshape(tf.constant(d.x), tf.constant(d.shape)));
      Operand<TFloat64> gm = tf.identity(tf.constant(d.gamma));
      Operand<TFloat64> bt = tf.identity(tf.constant(d.beta));
      Operand<TFloat64> y = UNet.groupNorm(tf, TFloat64.class, xt, (int) d.shape[3], d.groups, gm, bt);
      if (silu) y = tf.math.mul(y, tf.math.sigmoid(y));
      return run(d, g, tf, y, xt, gm, bt);
    }
  }

  private static <T extends TFloating> Values run(Data d, Graph g, Ops tf, Operand<T> y, Operand<T> xt,
      Operand<T> gm, Operand<T> bt) {
    Operand<T> loss = tf.reduceSum(tf.math.mul(y, cast(tf, y.type(),
        tf.reshape(tf.constant(d.upstream), tf.constant(d.shape)))), tf.constant(new int[] {0, 1, 2, 3}));
    Output<?>[] grads = g.addGradients(loss.asOutput(), new Output<?>[] {xt.asOutput(), gm.asOutput(),
        bt.asOutput()});
    List<Operand<TFloat32>> fetch = new ArrayList<>();
    fetch.add(tf.dtypes.cast(y, TFloat32.class));
    for (Output<?> grad : grads) {
      @SuppressWarnings("unchecked")
      Operand<T> dt = (Operand<T>) grad;
      fetch.add(tf.dtypes.cast(dt, TFloat32.class));
    }
    try (Session s = new Session(g)) {
      Session.Runner r = s.runner();
      fetch.forEach(r::fetch);
      try (Result res = r.run()) {
        float[][] out = new float[4][];
        for (int i = 0; i < 4; i++) {
          Tensor t = res.get(i);
          out[i] = new float[(int) t.shape().size()];
          ((TFloat32) t).asRawTensor().data().asFloats().read(out[i]);
        }
        return new Values(out[0], out[1], out[2], out[3]);
      }
    }
  }

  private static <T extends TFloating> Operand<T> cast(Ops tf, Class<T> type, Operand<?> v) {
    return tf.dtypes.cast(v, type);
  }

  /** GroupNorm then (optionally) SiLU from the definition, in double. */
  static double[] reference(Data d, boolean silu) {
    int b = (int) d.shape[0], pixels = (int) (d.shape[1] * d.shape[2]), c = (int) d.shape[3];
    int per = c / d.groups;
    double[] x = d.x;
    double[] y = new double[x.length];
    for (int n = 0; n < b; n++) {
      for (int gr = 0; gr < d.groups; gr++) {
        double sum = 0;
        for (int p = 0; p < pixels; p++) for (int k = gr * per; k < (gr + 1) * per; k++) sum += x[(n * pixels + p) * c + k];
        double mean = sum / (pixels * per);
        double var = 0;
        for (int p = 0; p < pixels; p++) {
          for (int k = gr * per; k < (gr + 1) * per; k++) var += Math.pow(x[(n * pixels + p) * c + k] - mean, 2);
        }
        var /= pixels * per;
        for (int p = 0; p < pixels; p++) {
          for (int k = gr * per; k < (gr + 1) * per; k++) {
            int i = (n * pixels + p) * c + k;
            double z = (x[i] - mean) / Math.sqrt(var + 1e-5) * d.gamma[k] + d.beta[k];
            y[i] = silu ? z / (1 + Math.exp(-z)) : z;
          }
        }
      }
    }
    return y;
  }
}
