package dev.ddpm4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * The Winograd F(4x4, 3x3) convolution against a direct 3x3 SAME convolution in plain-Java double precision: its
 * output, and the gradients of sum(y * r) with respect to x and w (the adjoint transforms' job).
 */
class WinogradConvTest {
  /** What one run of the graph gives: y, dx, dw. */
  record Out(float[] y, float[] dx, float[] dw) {}

  static double[] random(SplittableRandom r, int n) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) a[i] = r.nextDouble() * 2 - 1;
    return a;
  }

  static float[] toFloats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
    return f;
  }

  static TFloat32 tensor(double[] v, long... dims) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
    TFloat32 t = TFloat32.tensorOf(Shape.of(dims));
    t.copyFrom(DataBuffers.of(f));
    return t;
  }

  static float[] read(org.tensorflow.Tensor t) {
    TFloat32 f = (TFloat32) t;
    float[] a = new float[(int) f.shape().size()];
    f.copyTo(DataBuffers.of(a));
    return a;
  }

  /** y, dx and dw of a Winograd (or, with threads 0, TensorFlow's Conv2D) convolution. */
  static Out run(int n, int h, int w, int cin, int cout, double[] x, double[] k, double[] up, int threads) {
    return run(n, h, w, cin, cout, x, k, null, up, threads);
  }

  /** As above with a bias [cout] (null: none): Winograd adds it inside, Conv2D by a BiasAdd. */
  static Out run(int n, int h, int w, int cin, int cout, double[] x, double[] k, double[] bias, double[] up,
      int threads) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(n, h, w, cin)));
      var kp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(3, 3, cin, cout)));
      var rp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(n, h, w, cout)));
      Operand<TFloat32> b = bias == null ? null : tf.constant(toFloats(bias));
      Operand<TFloat32> y = threads > 0 ? WinogradConv.conv(tf, xp, kp, b, cin, cout, threads)
          : tf.nn.conv2d(xp, kp, java.util.List.of(1L, 1L, 1L, 1L), "SAME");
      if (threads == 0 && b != null) y = tf.nn.biasAdd(y, b);
      assertArrayEquals(new long[] {h, w, cout}, java.util.Arrays.copyOfRange(y.shape().asArray(), 1, 4),
          "static shape of the output");
      Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(y, rp), tf.constant(new int[] {0, 1, 2, 3}));
      Output<?>[] grads = g.addGradients(loss.asOutput(), new Output<?>[] {xp.asOutput(), kp.asOutput()});
      try (Session s = new Session(g);
          TFloat32 xv = tensor(x, n, h, w, cin);
          TFloat32 kv = tensor(k, 3, 3, cin, cout);
          TFloat32 rv = tensor(up, n, h, w, cout);
          Result r = s.runner().feed(xp, xv).feed(kp, kv).feed(rp, rv).fetch(y).fetch(grads[0]).fetch(grads[1])
              .run()) {
        return new Out(read(r.get(0)), read(r.get(1)), read(r.get(2)));
      }
    }
  }

  /** Direct 3x3 SAME cross-correlation (TensorFlow's conv2d) and its two gradients, in double. */
  static double[][] reference(int n, int h, int w, int cin, int cout, double[] x, double[] k, double[] up) {
    return reference(n, h, w, cin, cout, x, k, null, up);
  }

  /** As above plus a bias [cout] (null: none). */
  static double[][] reference(int n, int h, int w, int cin, int cout, double[] x, double[] k, double[] bias,
      double[] up) {
    double[] y = new double[n * h * w * cout];
    double[] dx = new double[x.length];
    double[] dk = new double[k.length];
    for (int b = 0; b < n; b++) {
      for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
          for (int o = 0; o < cout; o++) {
            int yi = ((b * h + i) * w + j) * cout + o;
            if (bias != null) y[yi] = bias[o];
            for (int di = 0; di < 3; di++) {
              for (int dj = 0; dj < 3; dj++) {
                int ii = i + di - 1;
                int jj = j + dj - 1;
                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                for (int c = 0; c < cin; c++) {
                  int xi = ((b * h + ii) * w + jj) * cin + c;
                  int ki = ((di * 3 + dj) * cin + c) * cout + o;
                  y[yi] += x[xi] * k[ki];
                  dx[xi] += up[yi] * k[ki];
                  dk[ki] += up[yi] * x[xi];
                }
              }
            }
          }
        }
      }
    }
    return new double[][] {y, dx, dk};
  }

  /** Largest error relative to the largest reference value. */
  static void assertClose(double[] want, float[] got, double tolerance, String what) {
    assertEquals(want.length, got.length, what + " length");
    double max = 0;
    double err = 0;
    for (int i = 0; i < want.length; i++) {
      max = Math.max(max, Math.abs(want[i]));
      err = Math.max(err, Math.abs(want[i] - got[i]));
    }
    assertTrue(max > 0, what + " is all zero");
    assertTrue(err <= tolerance * max, what + ": largest error " + err + " against largest value " + max);
  }

  @ParameterizedTest(name = "{0}x{1}x{2}x{3} -> {4}")
  @CsvSource({
    "2, 7, 5, 16, 32", // H and W not multiples of 4: partial tiles on two sides
    "1, 4, 4, 32, 16", // one whole tile
    "3, 1, 9, 16, 16", // one row: every tile mostly outside the image
    "2, 12, 8, 48, 16",
    "2, 6, 10, 16, 16" // H and W = 2 (mod 4): the last tiles half outside
  })
  void matchesADirectConvolutionInDouble(int n, int h, int w, int cin, int cout) {
    if (!WinogradConv.available()) return; // FusedGroupNormTest fails where the library should have loaded
    SplittableRandom r = new SplittableRandom(n * 1000L + h * 100L + w * 10L + cin);
    double[] x = random(r, n * h * w * cin);
    double[] k = random(r, 9 * cin * cout);
    double[] up = random(r, n * h * w * cout);
    double[] bias = random(r, cout);
    double[][] want = reference(n, h, w, cin, cout, x, k, bias, up);
    Out got = run(n, h, w, cin, cout, x, k, bias, up, 2);
    // F(4x4, 3x3) in float32: its transforms' constants (up to 8 and 1/24) cost a digit or so over a direct product
    assertClose(want[0], got.y(), 1e-5, "y");
    assertClose(want[1], got.dx(), 1e-5, "dx");
    assertClose(want[2], got.dw(), 1e-5, "dw");
    // and it is not TensorFlow's Conv2D by another name: the two differ in the last bits
    Out conv = run(n, h, w, cin, cout, x, k, bias, up, 0);
    assertClose(want[0], conv.y(), 1e-6, "Conv2D y");
    boolean differs = false;
    for (int i = 0; i < conv.y().length && !differs; i++) differs = conv.y()[i] != got.y()[i];
    assertTrue(differs, "Winograd's y is bit for bit Conv2D's");
  }

  /** A residual block's time embedding, added inside per sample: y + ps[n], and its gradient sum_hw dy. */
  @Test
  void aPerSampleTermIsAddedToEveryPixelOfItsSample() {
    if (!WinogradConv.available()) return;
    int n = 3, h = 6, w = 9, cin = 16, cout = 32;
    SplittableRandom r = new SplittableRandom(11);
    double[] x = random(r, n * h * w * cin);
    double[] k = random(r, 9 * cin * cout);
    double[] bias = random(r, cout);
    double[] ps = random(r, n * cout);
    double[] up = random(r, n * h * w * cout);
    double[] want = reference(n, h, w, cin, cout, x, k, bias, up)[0];
    double[] dps = new double[n * cout];
    for (int i = 0; i < want.length; i++) {
      int sample = i / (h * w * cout);
      want[i] += ps[sample * cout + i % cout];
      dps[sample * cout + i % cout] += up[i];
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, h, w, cin)));
      var pp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, cout)));
      Operand<TFloat32> kernel = tf.reshape(tf.constant(toFloats(k)), tf.constant(new long[] {3, 3, cin, cout}));
      Operand<TFloat32> y = WinogradConv.conv(tf, xp, kernel, null, tf.constant(toFloats(bias)), pp, cin, cout, 2);
      Operand<TFloat32> dy = tf.reshape(tf.constant(toFloats(up)), tf.constant(new long[] {n, h, w, cout}));
      Operand<TFloat32> loss = tf.reduceSum(tf.math.mul(y, dy), tf.constant(new int[] {0, 1, 2, 3}));
      Output<?>[] grads = g.addGradients(loss.asOutput(), new Output<?>[] {pp.asOutput()});
      try (Session s = new Session(g);
          TFloat32 xv = tensor(x, n, h, w, cin);
          TFloat32 pv = tensor(ps, n, cout);
          Result res = s.runner().feed(xp, xv).feed(pp, pv).fetch(y).fetch(grads[0]).run()) {
        assertClose(want, read(res.get(0)), 1e-5, "y");
        assertClose(dps, read(res.get(1)), 1e-5, "d perSample");
      }
    }
  }

  @Test
  void valuesDoNotDependOnTheThreadCount() {
    if (!WinogradConv.available()) return;
    SplittableRandom r = new SplittableRandom(5);
    int n = 5;
    double[] x = random(r, n * 9 * 6 * 16);
    double[] k = random(r, 9 * 16 * 32);
    double[] up = random(r, n * 9 * 6 * 32);
    Out one = run(n, 9, 6, 16, 32, x, k, up, 1);
    Out three = run(n, 9, 6, 16, 32, x, k, up, 3);
    assertArrayEquals(one.y(), three.y());
    assertArrayEquals(one.dx(), three.dx());
    assertArrayEquals(one.dw(), three.dw());
  }

  @Test
  void onlyThreeByThreeStrideOneWithChannelsInSixteens() {
    Shape x = Shape.of(-1, 8, 8, 16);
    assertTrue(WinogradConv.fits(x, 3, 1, 16, 32));
    assertTrue(!WinogradConv.fits(x, 3, 2, 16, 32), "stride 2");
    assertTrue(!WinogradConv.fits(x, 1, 1, 16, 32), "1x1");
    assertTrue(!WinogradConv.fits(x, 3, 1, 8, 32), "8 input channels");
    assertTrue(!WinogradConv.fits(x, 3, 1, 16, 1), "one output channel");
    assertTrue(!WinogradConv.fits(Shape.of(-1, -1, -1, 16), 3, 1, 16, 16), "unknown height and width");
    if (!WinogradConv.available()) return;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, 4, 4, 8)));
      var kp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(3, 3, 8, 16)));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> WinogradConv.conv(tf, xp, kp, 8, 16, 1));
      assertTrue(e.getMessage().contains("multiples of 16"), e.getMessage());
      // the kernel checks too, for graphs built around the Java side
      var op = tf.scope().opBuilder("DdpmWinogradInput", "raw").addInput(xp.asOutput()).setAttr("height", 4L)
          .setAttr("width", 4L).build();
      try (Session s = new Session(g); TFloat32 xv = TFloat32.tensorOf(Shape.of(1, 4, 4, 8))) {
        TFInvalidArgumentException k = assertThrows(TFInvalidArgumentException.class,
            () -> s.runner().feed(xp, xv).fetch(op.output(0)).run().close());
        assertTrue(k.getMessage().contains("multiple of 16"), k.getMessage());
      }
    }
  }

  @Test
  void theKernelsRejectMalformedTileLists() {
    if (!WinogradConv.available()) return;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Output<?>[] parts = new Output<?>[36];
      for (int i = 0; i < 36; i++) {
        long rows = i == 7 ? 3 : 4; // one matrix of another shape
        parts[i] = tf.zeros(tf.constant(new long[] {rows, 16}), TFloat32.class).asOutput();
      }
      var mixed = tf.scope().opBuilder("DdpmWinogradOutput", "mixed").addInputList(parts).setAttr("height", 4L)
          .setAttr("width", 4L).build();
      Output<?>[] same = new Output<?>[36];
      for (int i = 0; i < 36; i++) same[i] = tf.zeros(tf.constant(new long[] {3, 16}), TFloat32.class).asOutput();
      // 3 tiles, but a 5 x 5 image has 4 per sample
      var uneven = tf.scope().opBuilder("DdpmWinogradInputGrad", "uneven").addInputList(same).setAttr("height", 5L)
          .setAttr("width", 5L).build();
      try (Session s = new Session(g)) {
        for (org.tensorflow.Operation op : new org.tensorflow.Operation[] {mixed, uneven}) {
          TFInvalidArgumentException e = assertThrows(TFInvalidArgumentException.class,
              () -> s.runner().fetch(op.output(0)).run().close(), op.name());
          assertTrue(e.getMessage().contains("tile matrices"), e.getMessage());
        }
      }
    }
  }

  @Test
  void theFilterTransformIsGwGTransposed() {
    // U[a * 6 + b][i][o] = sum_{k,l} G[a][k] w[k][l][i][o] G[b][l], checked in double for one 2 x 3 filter bank
    SplittableRandom r = new SplittableRandom(9);
    int cin = 2;
    int cout = 3;
    double[] w = random(r, 9 * cin * cout);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> u = WinogradConv.filter(tf, tf.constant(Shape.of(3, 3, cin, cout),
          floats(w)), cin, cout);
      try (Session s = new Session(g); Result res = s.runner().fetch(u).run()) {
        float[] got = read(res.get(0));
        assertEquals(36 * cin * cout, got.length);
        for (int a = 0; a < 6; a++) {
          for (int b = 0; b < 6; b++) {
            for (int i = 0; i < cin; i++) {
              for (int o = 0; o < cout; o++) {
                double want = 0;
                for (int k = 0; k < 3; k++) {
                  for (int l = 0; l < 3; l++) {
                    want += WinogradConv.G[a][k] * w[((k * 3 + l) * cin + i) * cout + o] * WinogradConv.G[b][l];
                  }
                }
                assertEquals(want, got[((a * 6 + b) * cin + i) * cout + o], 1e-6, "U at " + a + "," + b);
              }
            }
          }
        }
      }
    }
  }

  /**
   * The whole convolution as one forward op ({@link WinogradConv#forward}): y of n samples [n, h, w, cout] with a bias
   * and, where ps is not null, a per-sample term [n, cout]; threads and the op's cache budget (KiB, 0: its default)
   * as given.
   */
  static float[] forward(int n, int h, int w, int cin, int cout, double[] x, double[] k, double[] bias, double[] ps,
      int threads, long cacheKib) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, h, w, cin)));
      Operand<TFloat32> kernel = tf.reshape(tf.constant(toFloats(k)), tf.constant(new long[] {3, 3, cin, cout}));
      Operand<TFloat32> pp = ps == null ? null
          : tf.reshape(tf.constant(toFloats(ps)), tf.constant(new long[] {n, cout}));
      Operand<TFloat32> y;
      if (cacheKib == 0) {
        y = WinogradConv.forward(tf, xp, kernel, null, tf.constant(toFloats(bias)), pp, cin, cout, threads);
      } else { // the op itself, to set its cache budget (and so how many tiles a block holds)
        y = tf.scope().<TFloat32>opBuilder("DdpmWinogradConv", "budget")
            .addInput(xp.asOutput())
            .addInput(WinogradConv.filter(tf, kernel, cin, cout).asOutput())
            .addInput(tf.constant(toFloats(bias)).asOutput())
            .addInput((pp != null ? pp : tf.zeros(tf.constant(new long[] {0, cout}), TFloat32.class)).asOutput())
            .setAttr("threads", (long) threads)
            .setAttr("height", (long) h)
            .setAttr("width", (long) w)
            .setAttr("cache_kib", cacheKib)
            .build().output(0);
      }
      try (Session s = new Session(g); TFloat32 xv = tensor(x, n, h, w, cin);
          Result r = s.runner().feed(xp, xv).fetch(y).run()) {
        assertEquals(Shape.of(n, h, w, cout), r.get(0).shape(), "shape of the output");
        return read(r.get(0));
      }
    }
  }

  @ParameterizedTest(name = "{0}x{1}x{2}x{3} -> {4}")
  @CsvSource({
    "2, 7, 5, 16, 32", // H and W not multiples of 4: partial tiles on two sides
    "1, 4, 4, 32, 16", // one whole tile
    "3, 1, 9, 16, 16", // one row: every tile mostly outside the image
    "2, 12, 8, 48, 48", // 48 output channels: a chunk of 32 columns and one of 16
    "2, 6, 10, 16, 80", // 80: a chunk of 64, then one of 16
    "2, 8, 8, 32, 1", // an output layer: one channel, padded to 16 and sliced
    "1, 5, 6, 16, 3"
  })
  void theForwardOpMatchesADirectConvolutionInDouble(int n, int h, int w, int cin, int cout) {
    if (!WinogradConv.available()) return;
    SplittableRandom r = new SplittableRandom(n * 1000L + h * 100L + w * 10L + cin + cout);
    double[] x = random(r, n * h * w * cin);
    double[] k = random(r, 9 * cin * cout);
    double[] bias = random(r, cout);
    double[] ps = random(r, n * cout);
    double[] want = reference(n, h, w, cin, cout, x, k, bias, new double[n * h * w * cout])[0];
    for (int i = 0; i < want.length; i++) want[i] += ps[i / (h * w * cout) * cout + i % cout];
    assertClose(want, forward(n, h, w, cin, cout, x, k, bias, ps, 2, 0), 1e-5, "y with a per-sample term");
    double[] plain = reference(n, h, w, cin, cout, x, k, bias, new double[n * h * w * cout])[0];
    assertClose(plain, forward(n, h, w, cin, cout, x, k, bias, null, 2, 0), 1e-5, "y without");
  }

  /**
   * With upsample, the op's cout channels are a 2x upsampling layer's four output phases, and it writes channel (2a +
   * b) * q + c of pixel (i, j) to channel c of pixel (2i + a, 2j + b), q = cout / 4: against the direct convolution in
   * double precision rearranged so in Java, and bit for bit what DepthToSpace makes of the plain op's output.
   */
  @ParameterizedTest(name = "{0}x{1}x{2}x{3} -> {4} phases")
  @CsvSource({
    "2, 5, 7, 16, 64", // partial tiles on two sides, 16 channels per phase: a chunk of 64 spans all four
    "1, 8, 4, 32, 128", // 32 per phase
    "2, 3, 3, 16, 256" // 64 per phase: a chunk per phase, one tile per image
  })
  void theForwardOpWritesAnUpsamplingLayersPhasesUpsampled(int n, int h, int w, int cin, int cout) {
    if (!WinogradConv.available()) return;
    SplittableRandom r = new SplittableRandom(7L * n + 11L * h + 13L * w + cin + cout);
    double[] x = random(r, n * h * w * cin);
    double[] k = random(r, 9 * cin * cout);
    double[] bias = random(r, cout);
    double[] y = reference(n, h, w, cin, cout, x, k, bias, new double[n * h * w * cout])[0];
    int q = cout / 4;
    double[] want = new double[y.length];
    for (int i = 0; i < n; i++) {
      for (int yy = 0; yy < h; yy++) {
        for (int xx = 0; xx < w; xx++) {
          for (int ch = 0; ch < cout; ch++) {
            int a = ch / q / 2, b = ch / q % 2;
            want[((i * 2 * h + 2 * yy + a) * 2 * w + 2 * xx + b) * q + ch % q] = y[((i * h + yy) * w + xx) * cout + ch];
          }
        }
      }
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var xp = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, h, w, cin)));
      Operand<TFloat32> kernel = tf.reshape(tf.constant(toFloats(k)), tf.constant(new long[] {3, 3, cin, cout}));
      Operand<TFloat32> b = tf.constant(toFloats(bias));
      Operand<TFloat32> up = WinogradConv.forward(tf, xp, kernel, null, b, null, cin, cout, 2, true);
      Operand<TFloat32> plain = tf.nn.depthToSpace(WinogradConv.forward(tf, xp, kernel, null, b, null, cin, cout, 2),
          2L);
      try (Session s = new Session(g); TFloat32 xv = tensor(x, n, h, w, cin);
          Result res = s.runner().feed(xp, xv).fetch(up).fetch(plain).run()) {
        assertEquals(Shape.of(n, 2 * h, 2 * w, q), res.get(0).shape(), "shape of the upsampled output");
        float[] got = read(res.get(0));
        assertClose(want, got, 1e-5, "the phases upsampled");
        assertArrayEquals(read(res.get(1)), got, "DepthToSpace of the plain op's output");
      }
    }
    assertThrows(IllegalArgumentException.class, () -> {
      try (Graph g = new Graph()) {
        Ops tf = Ops.create(g);
        WinogradConv.forward(tf, tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, 4, 4, 16))),
            tf.zeros(tf.constant(new long[] {3, 3, 16, 48}), TFloat32.class), null, null, null, 16, 48, 1, true);
      }
    }, "48 channels are not four phases of a multiple of 16");
  }

  /**
   * An image's values depend neither on the threads, nor on the other images of the batch, nor on how many tiles the
   * op takes through its cache at a time: bit for bit.
   */
  @Test
  void theForwardOpGivesTheSameBitsWhateverTheThreadsBatchOrBlock() {
    if (!WinogradConv.available()) return;
    int n = 5, h = 9, w = 7, cin = 32, cout = 48;
    SplittableRandom r = new SplittableRandom(21);
    double[] x = random(r, n * h * w * cin);
    double[] k = random(r, 9 * cin * cout);
    double[] bias = random(r, cout);
    double[] ps = random(r, n * cout);
    float[] base = forward(n, h, w, cin, cout, x, k, bias, ps, 1, 0);
    assertArrayEquals(base, forward(n, h, w, cin, cout, x, k, bias, ps, 3, 0), "3 threads");
    // 1 KiB: blocks of 12 tiles (their least), so blocks straddle images (6 tiles each); 4096 KiB: all 30 in one
    assertArrayEquals(base, forward(n, h, w, cin, cout, x, k, bias, ps, 2, 1), "blocks of 12 tiles");
    assertArrayEquals(base, forward(n, h, w, cin, cout, x, k, bias, ps, 2, 4096), "one block");
    int two = 2 * h * w * cin;
    float[] first = forward(2, h, w, cin, cout, java.util.Arrays.copyOf(x, two), k, bias,
        java.util.Arrays.copyOf(ps, 2 * cout), 2, 0);
    assertArrayEquals(java.util.Arrays.copyOf(base, first.length), first, "the first two images alone");
  }

  @Test
  void theForwardOpRejectsMalformedInputs() {
    if (!WinogradConv.available()) return;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> x = tf.zeros(tf.constant(new long[] {2, 4, 4, 16}), TFloat32.class);
      Operand<TFloat32> u = tf.zeros(tf.constant(new long[] {36, 16, 32}), TFloat32.class);
      Operand<TFloat32> b = tf.zeros(tf.constant(new long[] {32}), TFloat32.class);
      Operand<TFloat32> e = tf.zeros(tf.constant(new long[] {0, 32}), TFloat32.class);
      Operand<TFloat32> wrongU = tf.zeros(tf.constant(new long[] {36, 32, 32}), TFloat32.class);
      Operand<TFloat32> wrongB = tf.zeros(tf.constant(new long[] {16}), TFloat32.class);
      Operand<TFloat32> wrongE = tf.zeros(tf.constant(new long[] {3, 32}), TFloat32.class);
      Operand<TFloat32> oddU = tf.zeros(tf.constant(new long[] {36, 16, 8}), TFloat32.class);
      Object[][] cases = {
        {wrongU, b, e, "u must be [36, Cin, Cout]"},
        {u, wrongB, e, "b must be [Cout]"},
        {u, b, wrongE, "e must be [N, Cout]"},
        {oddU, tf.zeros(tf.constant(new long[] {8}), TFloat32.class), tf.zeros(tf.constant(new long[] {0, 8}),
            TFloat32.class), "multiples of 16"},
        {u, b, e, "upsample needs Cout a multiple of 64"}, // 32 channels are not four phases of sixteens
      };
      try (Session s = new Session(g)) {
        int i = 0;
        for (Object[] c : cases) {
          boolean upsample = i == cases.length - 1; // the last case
          @SuppressWarnings("unchecked")
          var op = tf.scope().opBuilder("DdpmWinogradConv", "bad" + i++).addInput(x.asOutput())
              .addInput(((Operand<TFloat32>) c[0]).asOutput()).addInput(((Operand<TFloat32>) c[1]).asOutput())
              .addInput(((Operand<TFloat32>) c[2]).asOutput()).setAttr("height", 4L).setAttr("width", 4L)
              .setAttr("upsample", upsample).build();
          TFInvalidArgumentException ex = assertThrows(TFInvalidArgumentException.class,
              () -> s.runner().fetch(op.output(0)).run().close(), (String) c[3]);
          assertTrue(ex.getMessage().contains("DdpmWinogradConv: ") && ex.getMessage().contains((String) c[3]),
              ex.getMessage());
        }
        var keep = tf.scope().opBuilder("DdpmWinogradConv", "keep").addInput(x.asOutput()).addInput(u.asOutput())
            .addInput(b.asOutput()).addInput(e.asOutput()).setAttr("height", 4L).setAttr("width", 4L)
            .setAttr("keep", 48L).build();
        TFInvalidArgumentException ex = assertThrows(TFInvalidArgumentException.class,
            () -> s.runner().fetch(keep.output(0)).run().close());
        assertTrue(ex.getMessage().contains("keep must be at most Cout"), ex.getMessage());
      }
      assertTrue(WinogradConv.oneOp(Shape.of(-1, 8, 8, 16), 3, 1, 16, 1), "an output layer, padded");
      assertTrue(WinogradConv.oneOp(Shape.of(-1, 8, 8, 16), 3, 1, 16, 64), "64 output channels");
      assertTrue(WinogradConv.oneOp(Shape.of(-1, 8, 8, 16), 3, 1, 16, 256), "256: an upsampling layer's phases");
      assertTrue(!WinogradConv.oneOp(Shape.of(-1, 8, 8, 1), 3, 1, 1, 16), "one input channel");
    }
  }

  private static org.tensorflow.ndarray.buffer.FloatDataBuffer floats(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
    return DataBuffers.of(f);
  }
}
