package dev.ddpm4j.model;

import static dev.ddpm4j.model.WinogradConvTest.assertClose;
import static dev.ddpm4j.model.WinogradConvTest.random;
import static dev.ddpm4j.model.WinogradConvTest.read;
import static dev.ddpm4j.model.WinogradConvTest.tensor;
import static dev.ddpm4j.model.WinogradConvTest.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/** The direct convolution op against a convolution in plain-Java double precision and against TensorFlow's Conv2D. */
class DirectConvTest {
  /**
   * conv2d(x, w, stride, SAME) + bias + residual in double: TensorFlow's SAME pads half of max((Ho - 1) * stride + k -
   * H, 0) before the first row (rounded down) and the rest after the last.
   */
  static double[] reference(int n, int h, int w, int cin, int cout, int k, int stride, double[] x, double[] wt,
      double[] bias, double[] residual) {
    int ho = (h + stride - 1) / stride;
    int wo = (w + stride - 1) / stride;
    int py = Math.max((ho - 1) * stride + k - h, 0) / 2;
    int px = Math.max((wo - 1) * stride + k - w, 0) / 2;
    double[] y = new double[n * ho * wo * cout];
    for (int b = 0; b < n; b++) {
      for (int i = 0; i < ho; i++) {
        for (int j = 0; j < wo; j++) {
          for (int o = 0; o < cout; o++) {
            int yi = ((b * ho + i) * wo + j) * cout + o;
            double sum = (bias != null ? bias[o] : 0) + (residual != null ? residual[yi] : 0);
            for (int di = 0; di < k; di++) {
              for (int dj = 0; dj < k; dj++) {
                int ii = i * stride - py + di;
                int jj = j * stride - px + dj;
                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                for (int c = 0; c < cin; c++) {
                  sum += x[((b * h + ii) * w + jj) * cin + c] * wt[((di * k + dj) * cin + c) * cout + o];
                }
              }
            }
            y[yi] = sum;
          }
        }
      }
    }
    return y;
  }

  /** The op's output (with threads 0: TensorFlow's Conv2D, its BiasAdd and an Add instead). */
  static float[] run(int n, int h, int w, int cin, int cout, int k, int stride, double[] x, double[] wt,
      double[] bias, double[] residual, int threads) {
    return run(n, h, w, cin, cout, k, stride, x, wt, bias, residual, threads, 0);
  }

  /** @param split 0, or the op fed x's first split channels as x and the rest as x2 */
  static float[] run(int n, int h, int w, int cin, int cout, int k, int stride, double[] x, double[] wt,
      double[] bias, double[] residual, int threads, int split) {
    int ho = (h + stride - 1) / stride;
    int wo = (w + stride - 1) / stride;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, h, w, cin)));
      Operand<TFloat32> kernel = tf.reshape(tf.constant(toFloats(wt)), tf.constant(new long[] {k, k, cin, cout}));
      Operand<TFloat32> b = bias == null ? null : tf.constant(toFloats(bias));
      Operand<TFloat32> r = residual == null ? null
          : tf.reshape(tf.constant(toFloats(residual)), tf.constant(new long[] {n, ho, wo, cout}));
      Operand<TFloat32> y;
      if (threads > 0) {
        Operand<TFloat32> x1 = split == 0 ? xp
            : tf.slice(xp, tf.constant(new int[] {0, 0, 0, 0}), tf.constant(new int[] {-1, h, w, split}));
        Operand<TFloat32> x2 = split == 0 ? null
            : tf.slice(xp, tf.constant(new int[] {0, 0, 0, split}), tf.constant(new int[] {-1, h, w, cin - split}));
        y = DirectConv.forward(tf, x1, x2, kernel, b, r, cin, cout, k, stride, threads);
        assertArrayEquals(new long[] {ho, wo, cout}, Arrays.copyOfRange(y.shape().asArray(), 1, 4),
            "static shape of the output");
      } else {
        y = tf.nn.conv2d(xp, kernel, List.of(1L, (long) stride, (long) stride, 1L), "SAME");
        if (b != null) y = tf.nn.biasAdd(y, b);
        if (r != null) y = tf.math.add(y, r);
      }
      try (Session s = new Session(g); TFloat32 xv = tensor(x, n, h, w, cin);
          Result res = s.runner().feed(xp, xv).fetch(y).run()) {
        assertEquals(Shape.of(n, ho, wo, cout), res.get(0).shape(), "shape of the output");
        return read(res.get(0));
      }
    }
  }

  @ParameterizedTest(name = "{0}x{1}x{2}x{3} -> {4}, {5}x{5} stride {6}")
  @CsvSource({
    "2, 5, 3, 20, 48, 1, 1", // a 1x1 shortcut: 48 channels, a block of 32 and one of 16
    "2, 7, 5, 1, 32, 3, 1", // an input layer: one channel
    "1, 6, 4, 3, 16, 3, 1", // three channels, one vector of outputs
    "2, 8, 8, 32, 64, 3, 2", // a downsampling layer, even size: TensorFlow pads after only
    "3, 7, 5, 16, 48, 3, 2", // odd sizes: a row and a column of padding before too
    "1, 1, 9, 24, 32, 3, 2", // one row
    "2, 6, 6, 17, 16, 1, 2" // a strided 1x1
  })
  void matchesAConvolutionInDoubleAndConv2D(int n, int h, int w, int cin, int cout, int k, int stride) {
    if (!DirectConv.available()) return; // FusedGroupNormTest fails where the library should have loaded
    SplittableRandom r = new SplittableRandom(31L * n + 17L * h + 13L * w + 7L * cin + cout + k + stride);
    int ho = (h + stride - 1) / stride;
    int wo = (w + stride - 1) / stride;
    double[] x = random(r, n * h * w * cin);
    double[] wt = random(r, k * k * cin * cout);
    double[] bias = random(r, cout);
    double[] residual = random(r, n * ho * wo * cout);
    double[] want = reference(n, h, w, cin, cout, k, stride, x, wt, bias, residual);
    assertClose(want, run(n, h, w, cin, cout, k, stride, x, wt, bias, residual, 2), 1e-6, "y");
    // the reference's SAME is TensorFlow's, so the op's padding is checked against Conv2D's too
    assertClose(want, run(n, h, w, cin, cout, k, stride, x, wt, bias, residual, 0), 1e-6, "Conv2D");
    double[] plain = reference(n, h, w, cin, cout, k, stride, x, wt, null, null);
    assertClose(plain, run(n, h, w, cin, cout, k, stride, x, wt, null, null, 2), 1e-6, "y without bias or residual");
    if (cin > 1) { // the input as two tensors, its channels split: the same sums in the same order, so the same bits
      assertArrayEquals(run(n, h, w, cin, cout, k, stride, x, wt, bias, residual, 2),
          run(n, h, w, cin, cout, k, stride, x, wt, bias, residual, 2, cin / 2 + 1), "x and x2");
    }
  }

  /** An image's values depend neither on the threads nor on the other images of the batch: bit for bit. */
  @Test
  void givesTheSameBitsWhateverTheThreadsOrBatch() {
    if (!DirectConv.available()) return;
    int n = 5, h = 9, w = 7, cin = 24, cout = 48, k = 3, stride = 2;
    SplittableRandom r = new SplittableRandom(5);
    double[] x = random(r, n * h * w * cin);
    double[] wt = random(r, k * k * cin * cout);
    double[] bias = random(r, cout);
    float[] base = run(n, h, w, cin, cout, k, stride, x, wt, bias, null, 1);
    assertArrayEquals(base, run(n, h, w, cin, cout, k, stride, x, wt, bias, null, 3), "3 threads");
    float[] first = run(2, h, w, cin, cout, k, stride, Arrays.copyOf(x, 2 * h * w * cin), wt, bias, null, 2);
    assertArrayEquals(Arrays.copyOf(base, first.length), first, "the first two images alone");
  }

  @Test
  void fitsOnlyWhatTheOpComputes() {
    if (!DirectConv.available()) return;
    Shape x = Shape.of(-1, 8, 8, 32);
    assertTrue(DirectConv.fits(x, 3, 2, 32, 32));
    assertTrue(DirectConv.fits(x, 1, 1, 32, 16));
    assertFalse(DirectConv.fits(x, 5, 1, 32, 32), "5x5");
    assertFalse(DirectConv.fits(x, 3, 3, 32, 32), "stride 3");
    assertFalse(DirectConv.fits(x, 3, 1, 32, 24), "24 output channels");
    assertFalse(DirectConv.fits(x, 3, 1, 16, 32), "x has 32 channels, not 16");
    assertFalse(DirectConv.fits(Shape.of(-1, -1, 8, 32), 3, 1, 32, 32), "an unknown height");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
      try (Graph g = new Graph()) {
        Ops tf = Ops.create(g);
        DirectConv.forward(tf, tf.placeholder(TFloat32.class, Placeholder.shape(x)),
            tf.zeros(tf.constant(new long[] {3, 3, 32, 24}), TFloat32.class), null, null, 32, 24, 3, 1, 1);
      }
    });
    assertTrue(e.getMessage().contains("32 -> 24"), e.getMessage());
  }

  @Test
  void theOpRejectsMalformedInputs() {
    if (!DirectConv.available()) return;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.zeros(tf.constant(new long[] {2, 4, 4, 8}), TFloat32.class);
      Operand<TFloat32> w = tf.zeros(tf.constant(new long[] {3, 3, 8, 16}), TFloat32.class);
      Operand<TFloat32> b = tf.zeros(tf.constant(new long[] {16}), TFloat32.class);
      Operand<TFloat32> none = tf.zeros(tf.constant(new long[] {0, 16}), TFloat32.class);
      Operand<TFloat32> noX2 = tf.zeros(tf.constant(new long[] {0}), TFloat32.class);
      Object[][] cases = {
        {tf.zeros(tf.constant(new long[] {3, 3, 4, 16}), TFloat32.class), b, none, 1L, "w must be [kernel, kernel"},
        {tf.zeros(tf.constant(new long[] {3, 3, 8, 8}), TFloat32.class), tf.zeros(tf.constant(new long[] {8}),
            TFloat32.class), tf.zeros(tf.constant(new long[] {0, 8}), TFloat32.class), 1L, "multiple of 16"},
        {w, tf.zeros(tf.constant(new long[] {8}), TFloat32.class), none, 1L, "b must be [Cout]"},
        {w, b, tf.zeros(tf.constant(new long[] {2, 4, 4, 16}), TFloat32.class), 2L, "r must be [N, Ho, Wo, Cout]"},
        {w, b, none, 1L, "x2 must be [N, H, W, C2]"}, // x2 of another image size
        {w, b, none, 1L, "w must be [kernel, kernel, Cin, Cout], Cin that of x (and x2)"}, // x2 adds channels w lacks
      };
      Operand<?>[] x2s = new Operand<?>[cases.length];
      java.util.Arrays.fill(x2s, noX2);
      x2s[cases.length - 2] = tf.zeros(tf.constant(new long[] {2, 2, 4, 8}), TFloat32.class);
      x2s[cases.length - 1] = tf.zeros(tf.constant(new long[] {2, 4, 4, 8}), TFloat32.class);
      try (Session s = new Session(g)) {
        int i = 0;
        for (Object[] c : cases) {
          @SuppressWarnings("unchecked")
          var op = tf.scope().opBuilder(DirectConv.OP, "bad" + i).addInput(x.asOutput()).addInput(x2s[i++].asOutput())
              .addInput(((Operand<TFloat32>) c[0]).asOutput()).addInput(((Operand<TFloat32>) c[1]).asOutput())
              .addInput(((Operand<TFloat32>) c[2]).asOutput()).setAttr("height", 4L).setAttr("width", 4L)
              .setAttr("stride", (long) c[3]).build();
          TFInvalidArgumentException ex = assertThrows(TFInvalidArgumentException.class,
              () -> s.runner().fetch(op.output(0)).run().close(), (String) c[4]);
          assertTrue(ex.getMessage().contains((String) c[4]), ex.getMessage());
        }
      }
    }
  }
}
