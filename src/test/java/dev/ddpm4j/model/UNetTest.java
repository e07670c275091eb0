package dev.ddpm4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

class UNetTest {
  @ParameterizedTest(name = "{0}ch {1}px mults {2} attn {3} {4}")
  @CsvSource(delimiter = '|', value = {
      "1|28|[1,2]|[]|nearest_conv",
      "3|32|[1,2,2]|[16]|nearest_conv",
      "1|32|[1,2,2]|[8]|transposed_conv",
      "3|64|[1,2,2,2]|[16,8]|transposed_conv",
  })
  void outputHasTheShapeOfTheInput(int channels, int size, String mults, String attn, String upsample) {
    ExperimentConfig cfg = ExperimentConfig.defaults(List.of("data.kind=synthetic", "data.channels=" + channels,
        "data.image_size=" + size, "model.base_channels=8", "model.groups=4", "model.channel_mults=" + mults,
        "model.attention_resolutions=" + attn, "model.upsample=" + upsample, "model.heads=2"));
    int b = 2;
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.random.statelessRandomNormal(tf.constant(new long[] {b, size, size, channels}),
          tf.constant(new long[] {1, 1}));
      var t = tf.constant(new int[] {3, 900});
      VariableParams<TFloat32> p = new VariableParams<>(tf, TFloat32.class, "unet", 0);
      Operand<TFloat32> y = UNet.of(cfg).apply(tf, TFloat32.class, p, x, t, Condition.none(), null);
      try (Session s = new Session(g)) {
        s.initialize();
        try (Result r = s.runner().fetch(y).run()) {
          assertEquals(Shape.of(b, size, size, channels), r.get(0).shape());
        }
      }
    }
  }

  @Test
  void zeroInitializedOutputConvGivesZeroOutputAtInit() {
    ExperimentConfig cfg = TinyConfigs.config(null);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.random.statelessRandomNormal(tf.constant(new long[] {2, 8, 8, 1}), tf.constant(new long[] {1, 1}));
      VariableParams<TFloat32> p = new VariableParams<>(tf, TFloat32.class, "unet", 0);
      Operand<TFloat32> y = UNet.of(cfg).apply(tf, TFloat32.class, p, x, tf.constant(new int[] {1, 2}), Condition.none(), null);
      try (Session s = new Session(g)) {
        s.initialize();
        try (Result r = s.runner().fetch(y).run()) {
          float[] a = new float[128];
          ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(a);
          for (float v : a) assertEquals(0f, v, 0f);
        }
      }
    }
  }

  @Test
  void sameSeedSameInitialWeightsAndInitializerRange() {
    ExperimentConfig cfg = TinyConfigs.config(null);
    float[] a = initialWeight(cfg, 7, "down0.res0.conv1.w");
    float[] b = initialWeight(cfg, 7, "down0.res0.conv1.w");
    float[] c = initialWeight(cfg, 8, "down0.res0.conv1.w");
    assertArrayEquals(a, b);
    assertTrue(!java.util.Arrays.equals(a, c));
    double limit = Math.sqrt(3.0 / ((9 * 8 + 9 * 8) / 2.0)); // fan_avg uniform, scale 1
    double sumSq = 0;
    for (float v : a) {
      assertTrue(Math.abs(v) <= limit, v + " beyond " + limit);
      sumSq += v * v;
    }
    // uniform[-l, l] has variance l^2 / 3
    assertEquals(limit * limit / 3, sumSq / a.length, 0.15 * limit * limit / 3);
  }

  private static float[] initialWeight(ExperimentConfig cfg, long seed, String name) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      VariableParams<TFloat32> p = new VariableParams<>(tf, TFloat32.class, "unet", seed);
      UNet.of(cfg).apply(tf, TFloat32.class, p, tf.zeros(tf.constant(new long[] {1, 8, 8, 1}), TFloat32.class),
          tf.constant(new int[] {0}), Condition.none(), null);
      try (Session s = new Session(g)) {
        s.initialize();
        try (Result r = s.runner().fetch(p.variables().get(name)).run()) {
          float[] out = new float[(int) r.get(0).size()];
          ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(out);
          return out;
        }
      }
    }
  }

  /**
   * Float64 gradient check of a tiny U-Net with attention and both upsampling kinds: the graph's gradients
   * (Graph.addGradients) against central finite differences, for sampled entries of every weight. All weights get
   * random values (the zero-initialized convs would otherwise hide most of the network from the loss).
   */
  @ParameterizedTest
  @CsvSource({"nearest_conv", "transposed_conv"})
  void float64GradientsMatchFiniteDifferences(String upsample) {
    ExperimentConfig cfg = TinyConfigs.config(null, "model.upsample=" + upsample, "model.base_channels=4",
        "model.groups=2", "model.heads=2");
    UNet unet = UNet.of(cfg);
    SplittableRandom rnd = new SplittableRandom(11);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Map<String, long[]> shapes = unet.weights().shapes();
      Map<String, Operand<TFloat64>> inputs = new LinkedHashMap<>();
      for (var e : shapes.entrySet()) {
        inputs.put(e.getKey(), tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(e.getValue()))));
      }
      Operand<TFloat64> xs = tf.reshape(tf.constant(randomArray(rnd, 2 * 8 * 8, 1.0)), tf.constant(new long[] {2, 8, 8, 1}));
      Operand<TFloat64> probeW = tf.reshape(tf.constant(randomArray(rnd, 2 * 8 * 8, 1.0)), tf.constant(new long[] {2, 8, 8, 1}));
      Operand<TFloat64> y = unet.apply(tf, TFloat64.class, new MapParams<>(inputs), xs, tf.constant(new int[] {3, 17}), Condition.none(), null);
      Operand<TFloat64> loss = tf.sum(tf.math.mul(y, probeW), tf.constant(new int[] {0, 1, 2, 3}));
      List<String> names = new ArrayList<>(inputs.keySet());
      Output<?>[] wrt = names.stream().map(n -> inputs.get(n).asOutput()).toArray(Output<?>[]::new);
      Output<?>[] grads = g.addGradients(loss.asOutput(), wrt);

      Map<String, double[]> values = new LinkedHashMap<>();
      for (String n : names) {
        long size = 1;
        for (long d : shapes.get(n)) size *= d;
        boolean gamma = n.endsWith(".gamma");
        double[] v = randomArray(rnd, (int) size, 0.4);
        if (gamma) for (int i = 0; i < v.length; i++) v[i] += 1.0;
        values.put(n, v);
      }
      try (Session s = new Session(g)) {
        double[][] analytic = new double[names.size()][];
        Session.Runner runner = feed(s.runner(), inputs, values, shapes);
        for (Output<?> gr : grads) runner.fetch(gr);
        try (Result r = runner.run()) {
          for (int k = 0; k < names.size(); k++) {
            analytic[k] = new double[(int) r.get(k).size()];
            ((TFloat64) r.get(k)).asRawTensor().data().asDoubles().read(analytic[k]);
          }
        }
        int checked = 0;
        double h = 1e-5;
        for (int k = 0; k < names.size(); k++) {
          String n = names.get(k);
          double[] v = values.get(n);
          for (int trial = 0; trial < 2; trial++) {
            int i = rnd.nextInt(v.length);
            double orig = v[i];
            v[i] = orig + h;
            double up = evalLoss(s, loss, inputs, values, shapes);
            v[i] = orig - h;
            double down = evalLoss(s, loss, inputs, values, shapes);
            v[i] = orig;
            double numeric = (up - down) / (2 * h);
            double a = analytic[k][i];
            assertEquals(numeric, a, 1e-6 + 1e-5 * Math.abs(numeric), "d loss / d " + n + "[" + i + "]");
            checked++;
          }
        }
        assertTrue(checked >= 2 * names.size());
      }
    }
  }

  private static double evalLoss(Session s, Operand<TFloat64> loss, Map<String, Operand<TFloat64>> inputs,
      Map<String, double[]> values, Map<String, long[]> shapes) {
    try (Result r = feed(s.runner(), inputs, values, shapes).fetch(loss).run()) {
      return ((TFloat64) r.get(0)).getDouble();
    }
  }

  private static Session.Runner feed(Session.Runner runner, Map<String, Operand<TFloat64>> inputs,
      Map<String, double[]> values, Map<String, long[]> shapes) {
    for (var e : inputs.entrySet()) {
      TFloat64 t = TFloat64.tensorOf(Shape.of(shapes.get(e.getKey())));
      t.asRawTensor().data().asDoubles().write(values.get(e.getKey()));
      runner.feed(e.getValue(), t);
    }
    return runner;
  }

  private static double[] randomArray(SplittableRandom r, int n, double scale) {
    double[] a = new double[n];
    for (int i = 0; i < n; i++) a[i] = (r.nextDouble() * 2 - 1) * scale;
    return a;
  }

  /**
   * A block with a 1x1 shortcut adds its two biases once, through the second convolution (the shortcut's product runs
   * without a BiasAdd): the output must depend on the shortcut's bias exactly as on the convolution's, and on nothing
   * but their sum. float64, every weight random.
   */
  @Test
  void theShortcutsBiasActsLikeTheSecondConvolutionsBias() {
    ExperimentConfig cfg = TinyConfigs.config(null, "model.base_channels=4", "model.groups=2", "model.heads=2");
    UNet unet = UNet.of(cfg);
    Map<String, long[]> shapes = unet.weights().shapes();
    String shortcut = shapes.keySet().stream().filter(n -> n.endsWith(".shortcut.b")).findFirst().orElseThrow();
    String conv2 = shortcut.replace(".shortcut.b", ".conv2.b");
    assertTrue(shapes.containsKey(conv2), conv2);
    SplittableRandom rnd = new SplittableRandom(5);
    Map<String, double[]> values = randomWeights(shapes, rnd);
    for (var e : values.entrySet()) {
      if (e.getKey().endsWith(".gamma")) for (int i = 0; i < e.getValue().length; i++) e.getValue()[i] += 1.0;
    }
    double[] x = randomArray(rnd, 2 * 8 * 8, 1.0);
    double[] base = forward64(unet, shapes, values, x);
    double[] viaShortcut = forward64(unet, shapes, shifted(values, shortcut, 0.3), x);
    double[] viaConv2 = forward64(unet, shapes, shifted(values, conv2, 0.3), x);
    double[] moved = forward64(unet, shapes, shifted(shifted(values, shortcut, 0.3), conv2, -0.3), x);
    double change = 0;
    for (int i = 0; i < base.length; i++) {
      change = Math.max(change, Math.abs(viaShortcut[i] - base[i]));
      assertEquals(viaConv2[i], viaShortcut[i], 1e-9, "element " + i);
      assertEquals(base[i], moved[i], 1e-9, "element " + i);
    }
    assertTrue(change > 1e-3, "the shortcut's bias reaches the output: " + change);
  }

  /**
   * The training flavour (a one-channel output convolution as two with a zero second filter, for oneDNN's bf16
   * gradient) asks for the same weights and computes the same network. float64, every weight random.
   */
  @Test
  void theTrainingFlavourIsTheSameNetwork() {
    ExperimentConfig cfg = TinyConfigs.config(null, "model.base_channels=4", "model.groups=2", "model.heads=2");
    UNet plain = UNet.of(cfg);
    UNet training = plain.forTraining();
    Map<String, long[]> shapes = plain.weights().shapes();
    Map<String, long[]> trainingShapes = training.weights().shapes();
    assertEquals(List.copyOf(shapes.keySet()), List.copyOf(trainingShapes.keySet()));
    for (var e : shapes.entrySet()) assertArrayEquals(e.getValue(), trainingShapes.get(e.getKey()), e.getKey());
    assertArrayEquals(new long[] {3, 3, 4, 1}, shapes.get("out.conv.w"), "a greyscale model: one output channel");
    SplittableRandom rnd = new SplittableRandom(11);
    Map<String, double[]> values = randomWeights(shapes, rnd);
    double[] x = randomArray(rnd, 2 * 8 * 8, 1.0);
    double[] want = forward64(plain, shapes, values, x);
    double[] got = forward64(training, shapes, values, x);
    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-12, "element " + i);
  }

  /**
   * Widths that are not multiples of 16 (12 and 24 channels, an attention layer at 24) keep TensorFlow's ops where ours
   * cannot take them, in the fp32-fast flavour too: it builds and computes the same network.
   */
  @Test
  void theFastFlavourBuildsWhereWidthsAreNotInSixteens() {
    if (!WinogradConv.available()) return;
    ExperimentConfig cfg = TinyConfigs.config(null, "model.base_channels=12", "model.groups=4", "model.heads=2");
    UNet plain = UNet.of(cfg).forTraining();
    Map<String, long[]> shapes = plain.weights().shapes();
    SplittableRandom rnd = new SplittableRandom(14);
    Map<String, double[]> values = randomWeights(shapes, rnd);
    double[] x = randomArray(rnd, 2 * 8 * 8, 1.0);
    double[] want = forward64(plain, shapes, values, x);
    double[] got = forward32(UNet.of(cfg).withWinograd(2).withFusedGroupNorm(2), shapes, values, x, -1, 0, 0);
    double max = 0;
    for (double v : want) max = Math.max(max, Math.abs(v));
    assertTrue(max > 0.1, "the network's output is not all zero: " + max);
    for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 * max, "element " + i);
  }

  @Test
  void theWinogradFlavourIsTheSameNetwork() {
    if (!WinogradConv.available()) return; // FusedGroupNormTest fails where the library should have loaded
    // 16 and 32 channels: every 3x3 stride-1 convolution but the input and output layers runs as Winograd, and so
    // does the upsampling, as the 3x3 convolution of its four output phases
    for (String upsample : List.of("nearest_conv", "transposed_conv")) {
      ExperimentConfig cfg = TinyConfigs.config(null, "model.base_channels=16", "model.groups=4", "model.heads=2",
          "model.upsample=" + upsample);
      UNet plain = UNet.of(cfg).forTraining();
      UNet winograd = plain.withWinograd(2);
      Map<String, long[]> shapes = plain.weights().shapes();
      SplittableRandom rnd = new SplittableRandom(12);
      Map<String, double[]> values = randomWeights(shapes, rnd);
      double[] x = randomArray(rnd, 2 * 8 * 8, 1.0);
      double[] want = forward64(plain, shapes, values, x);
      double[] got = forward32(winograd, shapes, values, x, 17, 0); // 2 per residual block (2 down, 2 middle, 4 up) + 1
      double max = 0;
      for (double v : want) max = Math.max(max, Math.abs(v));
      assertTrue(max > 0.1, "the network's output is not all zero: " + max);
      for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 * max, upsample + ": element " + i);
      // without gradients (fp32-fast sampling) each such convolution is one op, the output layer's (padded) and the
      // upsampling's (its phases written upsampled) among them
      double[] oneOp = forward32(UNet.of(cfg).withWinograd(2), shapes, values, x, 18, 0);
      for (int i = 0; i < want.length; i++) {
        assertEquals(want[i], oneOp[i], 1e-4 * max, upsample + ", one op each: element " + i);
      }
      if (FusedGroupNorm.concatAvailable()) { // and with the fused GroupNorm (the fp32-fast graph): the four up-path
        // blocks' concatenated inputs go to their GroupNorm and shortcut as two tensors
        double[] fast = forward32(UNet.of(cfg).withWinograd(2).withFusedGroupNorm(2), shapes, values, x, 18, 0, 4);
        for (int i = 0; i < want.length; i++) {
          assertEquals(want[i], fast[i], 1e-4 * max, upsample + ", fp32-fast: element " + i);
        }
      }
    }
  }

  /**
   * A sampler hands the Winograd filter transforms into its loop ({@link UNet#winogradFilters}): the network uses those
   * (the same values as its own, bit for bit) and not its own (doubled ones change the output).
   */
  @ParameterizedTest
  @CsvSource({"nearest_conv", "transposed_conv"})
  void handedInWinogradFiltersAreTheOnesUsed(String upsample) {
    if (!WinogradConv.available()) return;
    ExperimentConfig cfg = TinyConfigs.config(null, "model.base_channels=16", "model.groups=4", "model.heads=2",
        "model.upsample=" + upsample);
    UNet winograd = UNet.of(cfg).withWinograd(2);
    Map<String, long[]> shapes = winograd.weights().shapes();
    SplittableRandom rnd = new SplittableRandom(13);
    Map<String, double[]> values = randomWeights(shapes, rnd);
    double[] x = randomArray(rnd, 2 * 8 * 8, 1.0);
    // no gradient through this network: each 3x3 convolution is one forward op, the output layer's and the
    // upsampling's four phases too (18 in all)
    double[] own = forward32(winograd, shapes, values, x, 18, 0);
    assertArrayEquals(own, forward32(winograd, shapes, values, x, 18, 1), "handed-in filters, the same values");
    for (int filters : new int[] {2, 3}) {
      double[] doubled = forward32(winograd, shapes, values, x, 18, filters);
      double diff = 0;
      for (int i = 0; i < own.length; i++) diff = Math.max(diff, Math.abs(own[i] - doubled[i]));
      assertTrue(diff > 1e-3, (filters == 2 ? "doubled handed-in filters" : "a doubled upsampling phase filter")
          + " left the output as it was: not used");
    }
  }

  /**
   * As forward64 with the weights and image cast to float32 in the graph; asserts winogradOps Winograd convolutions
   * (as transforms around products where gradients are taken, {@link UNet#forTraining}, else as one forward op each).
   */
  private static double[] forward32(UNet unet, Map<String, long[]> shapes, Map<String, double[]> values, double[] x,
      int winogradOps) {
    return forward32(unet, shapes, values, x, winogradOps, 0);
  }

  /**
   * @param filters 0: the network's own filter transforms; 1: handed in; 2: handed in, doubled; 3: handed in, the
   *     upsampling layer's phases doubled
   */
  private static double[] forward32(UNet unet, Map<String, long[]> shapes, Map<String, double[]> values, double[] x,
      int winogradOps, int filters) {
    return forward32(unet, shapes, values, x, winogradOps, filters, 0);
  }

  /**
   * @param winogradOps -1: the graph's ops not counted
   * @param apartBlocks the up-path blocks whose concatenated input is never written (two-input GroupNorm ops)
   */
  private static double[] forward32(UNet unet, Map<String, long[]> shapes, Map<String, double[]> values, double[] x,
      int winogradOps, int filters, int apartBlocks) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Map<String, Operand<TFloat64>> inputs = new LinkedHashMap<>();
      Map<String, Operand<TFloat32>> cast = new LinkedHashMap<>();
      for (var e : shapes.entrySet()) {
        var p = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(e.getValue())));
        inputs.put(e.getKey(), p);
        cast.put(e.getKey(), tf.dtypes.cast(p, TFloat32.class));
      }
      Operand<TFloat32> xs = tf.dtypes.cast(tf.reshape(tf.constant(x), tf.constant(new long[] {2, 8, 8, 1})),
          TFloat32.class);
      Map<String, Operand<TFloat32>> handed = new LinkedHashMap<>(cast);
      if (filters > 0) {
        Map<String, Operand<TFloat32>> f = unet.winogradFilters(tf, cast);
        // two per residual block, the upsampling layer's phases, and the stride-2 downsampling one (not Winograd:
        // its entry is never read)
        assertEquals(18, f.size(), "the 3x3 kernels with channels in sixteens");
        assertEquals(1, f.keySet().stream().filter(k -> k.endsWith(UNet.WINOGRAD_PHASES)).count(), "phase filters");
        f.forEach((k, v) -> handed.put(k, filters == 2 || filters == 3 && k.endsWith(UNet.WINOGRAD_PHASES)
            ? tf.math.mul(v, tf.constant(2f)) : v));
      }
      Operand<TFloat64> y = tf.dtypes.cast(unet.apply(tf, TFloat32.class, new MapParams<>(handed), xs,
          tf.constant(new int[] {3, 17}), Condition.none(), null), TFloat64.class);
      long count = 0;
      long direct = 0;
      long apart = 0;
      long attention = 0;
      long split = 0;
      long depthToSpace = 0;
      for (var it = g.operations(); it.hasNext(); ) {
        String type = ((org.tensorflow.GraphOperation) it.next()).type();
        if (type.equals("DdpmWinogradInput") || type.equals("DdpmWinogradConv")) count++;
        if (type.equals("DdpmWinogradInput")) split++;
        if (type.equals("DdpmDirectConv")) direct++;
        if (type.equals("DdpmGroupNormSiluConcat")) apart++;
        if (type.equals("DdpmAttention")) attention++;
        if (type.equals("DepthToSpace")) depthToSpace++;
      }
      if (winogradOps >= 0) {
        assertEquals(winogradOps, count, "Winograd convolutions in the graph");
        // without gradients, the other convolutions with 16 channels or more are DirectConv ops (the tiny networks
        // here: the downsampling layer, five 1x1 shortcuts, and each of the four attention layers' q, k and v as one
        // and its projection) and the attention cores Attention ops; with gradients, none
        assertEquals(split > 0 ? 0 : 14, direct, "DirectConv ops in the graph");
        assertEquals(split > 0 ? 0 : 4, attention, "Attention ops in the graph");
        assertEquals(apartBlocks, apart, "GroupNorms of two inputs");
        // the upsampling layer's phases: transforms around products and a DepthToSpace where gradients are taken,
        // else the one op writing them upsampled
        assertEquals(split > 0 ? 1 : 0, depthToSpace, "DepthToSpace ops");
      }
      try (Session s = new Session(g); Result r = feed(s.runner(), inputs, values, shapes).fetch(y).run()) {
        double[] out = new double[(int) r.get(0).size()];
        ((TFloat64) r.get(0)).asRawTensor().data().asDoubles().read(out);
        return out;
      }
    }
  }

  /** Every weight uniform in [-0.4, 0.4], drawn in the order of shapes. */
  private static Map<String, double[]> randomWeights(Map<String, long[]> shapes, SplittableRandom rnd) {
    Map<String, double[]> values = new LinkedHashMap<>();
    for (var e : shapes.entrySet()) {
      long size = 1;
      for (long d : e.getValue()) size *= d;
      values.put(e.getKey(), randomArray(rnd, (int) size, 0.4));
    }
    return values;
  }

  private static Map<String, double[]> shifted(Map<String, double[]> values, String name, double by) {
    Map<String, double[]> out = new LinkedHashMap<>(values);
    double[] v = values.get(name).clone();
    for (int i = 0; i < v.length; i++) v[i] += by;
    out.put(name, v);
    return out;
  }

  private static double[] forward64(UNet unet, Map<String, long[]> shapes, Map<String, double[]> values, double[] x) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Map<String, Operand<TFloat64>> inputs = new LinkedHashMap<>();
      for (var e : shapes.entrySet()) {
        inputs.put(e.getKey(), tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(e.getValue()))));
      }
      Operand<TFloat64> xs = tf.reshape(tf.constant(x), tf.constant(new long[] {2, 8, 8, 1}));
      Operand<TFloat64> y = unet.apply(tf, TFloat64.class, new MapParams<>(inputs), xs, tf.constant(new int[] {3, 17}),
          Condition.none(), null);
      try (Session s = new Session(g); Result r = feed(s.runner(), inputs, values, shapes).fetch(y).run()) {
        double[] out = new double[(int) r.get(0).size()];
        ((TFloat64) r.get(0)).asRawTensor().data().asDoubles().read(out);
        return out;
      }
    }
  }

  @Test
  void infoCountsParametersAndFlopsFromShapes() {
    ExperimentConfig cfg = TinyConfigs.config(null);
    ModelInfo info = ModelInfo.of(cfg);
    // input conv: 3x3x1x8 weights + 8 biases
    assertEquals(3 * 3 * 1 * 8 + 8, info.paramsPerGroup().get("in"));
    // time MLP: (8 -> 32) + (32 -> 32), with biases
    assertEquals(8 * 32 + 32 + 32 * 32 + 32, info.paramsPerGroup().get("time"));
    assertEquals(info.paramsPerGroup().values().stream().mapToLong(Long::longValue).sum(), info.totalParams());
    assertTrue(info.flopsPerOpType().get("Conv2D") > 2L * 8 * 8 * 8 * 9, "at least the input conv");
    assertTrue(info.flopsPerOpType().containsKey("BatchMatMulV3"));
    // attention at 4x4 with 2 heads: per attention layer, scores and weighted sum are each 2 * heads * 16 * 16 * d
    assertTrue(info.flopsPerOpType().get("BatchMatMulV3") % (2L * 16 * 16) == 0);
  }

  @Test
  void groupNormKeepsItsPrecisionWhenTheMeanDwarfsTheSpread() {
    // mean 1e4, spread 1: E[x^2] - E[x]^2 in float32 would lose every digit of the variance
    int b = 2;
    int hw = 3; // 18 values per group: 1/n is not a power of two
    int ch = 4;
    int groups = 2;
    double[] x = new double[b * hw * hw * ch];
    SplittableRandom r = new SplittableRandom(3);
    for (int i = 0; i < x.length; i++) x[i] = 1e4 + (r.nextDouble() * 2 - 1) * (1 + i % ch);
    float[] xf = new float[x.length];
    for (int i = 0; i < x.length; i++) xf[i] = (float) x[i];
    // static H and W (the training graph: 1/n is a constant) and unknown ones (a traced loop body: n at run time)
    for (boolean staticShape : new boolean[] {true, false}) {
      float[] out = groupNormOf(xf, new long[] {b, hw, hw, ch}, groups, staticShape);
      checkGroupNorm(x, out, b, hw, ch, groups);
    }
  }

  @Test
  void pointwiseProductIsTheOneByOneConvolution() {
    // [2, 3, 5, 6] -> 4 channels: y[n,h,w,o] = b[o] + sum_c x[n,h,w,c] w[c,o], in double, from the definition
    int b = 2, h = 3, wd = 5, in = 6, out = 4;
    SplittableRandom r = new SplittableRandom(5);
    double[] x = randomArray(r, b * h * wd * in, 1.0);
    double[] w = randomArray(r, in * out, 1.0);
    double[] bias = randomArray(r, out, 1.0);
    double[] expected = new double[b * h * wd * out];
    for (int p = 0; p < b * h * wd; p++) {
      for (int o = 0; o < out; o++) {
        double acc = bias[o];
        for (int c = 0; c < in; c++) acc += x[p * in + c] * w[c * out + o];
        expected[p * out + o] = acc;
      }
    }
    // static H and W (training) and unknown ones (a traced sampler loop body): both must keep the pixel layout
    for (boolean staticShape : new boolean[] {true, false}) {
      try (Graph g = new Graph()) {
        Ops tf = Ops.create(g);
        Operand<TFloat64> xt = staticShape ? tf.reshape(tf.constant(x), tf.constant(new long[] {b, h, wd, in}))
            : tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(-1, -1, -1, in)));
        Operand<TFloat64> y = UNet.pointwise(tf, xt, tf.reshape(tf.constant(w), tf.constant(new long[] {1, 1, in, out})),
            tf.constant(bias), in, out);
        try (Session s = new Session(g); TFloat64 feed = TFloat64.tensorOf(Shape.of(b, h, wd, in))) {
          feed.asRawTensor().data().asDoubles().write(x);
          Session.Runner run = s.runner().fetch(y);
          if (!staticShape) run.feed(xt, feed);
          try (Result res = run.run()) {
            assertEquals(Shape.of(b, h, wd, out), res.get(0).shape(), "static H/W: " + staticShape);
            double[] got = new double[expected.length];
            ((TFloat64) res.get(0)).asRawTensor().data().asDoubles().read(got);
            assertArrayEquals(expected, got, 1e-12, "static H/W: " + staticShape);
          }
        }
      }
    }
  }

  @Test
  void upsampleConvIsNearestUpsamplingThenAThreeByThreeConvolution() {
    // the reference from the definition, in double: up[n,p,q,c] = x[n,p/2,q/2,c], then a 3x3 SAME convolution
    int b = 2, res = 3, in = 3, out = 2, size = 2 * res;
    SplittableRandom r = new SplittableRandom(7);
    double[] x = randomArray(r, b * res * res * in, 1.0);
    double[] w = randomArray(r, 9 * in * out, 1.0);
    double[] bias = randomArray(r, out, 1.0);
    double[] expected = new double[b * size * size * out];
    for (int n = 0; n < b; n++) {
      for (int p = 0; p < size; p++) {
        for (int q = 0; q < size; q++) {
          for (int o = 0; o < out; o++) {
            double acc = bias[o];
            for (int u = 0; u < 3; u++) {
              for (int v = 0; v < 3; v++) {
                int pp = p + u - 1, qq = q + v - 1;
                if (pp < 0 || qq < 0 || pp >= size || qq >= size) continue;
                for (int c = 0; c < in; c++) {
                  acc += x[((n * res + pp / 2) * res + qq / 2) * in + c] * w[((u * 3 + v) * in + c) * out + o];
                }
              }
            }
            expected[((n * size + p) * size + q) * out + o] = acc;
          }
        }
      }
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> xt = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(-1, res, res, in)));
      Operand<TFloat64> y = UNet.upsampleConv(tf, TFloat64.class, xt,
          tf.reshape(tf.constant(w), tf.constant(new long[] {3, 3, in, out})), tf.constant(bias), in, out, res);
      try (Session s = new Session(g); TFloat64 feed = TFloat64.tensorOf(Shape.of(b, res, res, in))) {
        feed.asRawTensor().data().asDoubles().write(x);
        try (Result got = s.runner().feed(xt, feed).fetch(y).run()) {
          assertEquals(Shape.of(b, size, size, out), got.get(0).shape());
          double[] values = new double[expected.length];
          ((TFloat64) got.get(0)).asRawTensor().data().asDoubles().read(values);
          assertArrayEquals(expected, values, 1e-12);
        }
      }
    }
  }

  @Test
  void thePhaseKernelIsTheStrideTwoTransposedConvolution() {
    // the reference from the definition, in double: input pixel (i, j) adds x k[r][c] at output (2i+r-1, 2j+c-1)
    int b = 2, res = 3, in = 3, out = 2, size = 2 * res;
    SplittableRandom r = new SplittableRandom(9);
    double[] x = randomArray(r, b * res * res * in, 1.0);
    double[] k = randomArray(r, 16 * out * in, 1.0); // [r, c, out, in]
    double[] expected = new double[b * size * size * out];
    for (int n = 0; n < b; n++) {
      for (int i = 0; i < res; i++) {
        for (int j = 0; j < res; j++) {
          for (int kr = 0; kr < 4; kr++) {
            for (int kc = 0; kc < 4; kc++) {
              int p = 2 * i + kr - 1, q = 2 * j + kc - 1;
              if (p < 0 || q < 0 || p >= size || q >= size) continue;
              for (int o = 0; o < out; o++) {
                for (int c = 0; c < in; c++) {
                  expected[((n * size + p) * size + q) * out + o] += x[((n * res + i) * res + j) * in + c]
                      * k[((kr * 4 + kc) * out + o) * in + c];
                }
              }
            }
          }
        }
      }
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat64> xt = tf.placeholder(TFloat64.class, Placeholder.shape(Shape.of(-1, res, res, in)));
      Operand<TFloat64> kt = tf.reshape(tf.constant(k), tf.constant(new long[] {4, 4, out, in}));
      Operand<TFloat64> phases = tf.nn.conv2d(xt, UNet.phaseKernel(tf, TFloat64.class, kt, in, out),
          List.of(1L, 1L, 1L, 1L), "SAME");
      Operand<TFloat64> y = tf.nn.depthToSpace(phases, 2L);
      Operand<TFloat64> plain = UNet.transposedConv2x(tf, xt, kt, tf.constant(new double[out]), out, res);
      try (Session s = new Session(g); TFloat64 feed = TFloat64.tensorOf(Shape.of(b, res, res, in))) {
        feed.asRawTensor().data().asDoubles().write(x);
        try (Result got = s.runner().feed(xt, feed).fetch(y).fetch(plain).run()) {
          assertEquals(Shape.of(b, size, size, out), got.get(0).shape());
          for (int t = 0; t < 2; t++) {
            double[] values = new double[expected.length];
            ((TFloat64) got.get(t)).asRawTensor().data().asDoubles().read(values);
            assertArrayEquals(expected, values, 1e-12, t == 0 ? "phases" : "TensorFlow's transposed convolution");
          }
        }
      }
    }
  }

  static float[] groupNormOf(float[] xf, long[] shape, int groups, boolean staticShape) {
    int ch = (int) shape[3];
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Operand<TFloat32> xt = staticShape ? tf.reshape(tf.constant(xf), tf.constant(shape))
          : tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, -1, -1, ch)));
      float[] ones = new float[ch];
      java.util.Arrays.fill(ones, 1f);
      Operand<TFloat32> y = UNet.groupNorm(tf, TFloat32.class, xt, ch, groups, tf.constant(ones),
          tf.constant(new float[ch]));
      try (Session s = new Session(g); TFloat32 feed = TFloat32.tensorOf(Shape.of(shape))) {
        feed.asRawTensor().data().asFloats().write(xf);
        Session.Runner run = s.runner().fetch(y);
        if (!staticShape) run.feed(xt, feed);
        try (Result res = run.run()) {
          float[] out = new float[xf.length];
          ((TFloat32) res.get(0)).asRawTensor().data().asFloats().read(out);
          return out;
        }
      }
    }
  }

  static void checkGroupNorm(double[] x, float[] out, int b, int hw, int ch, int groups) {
    // double-precision reference, straight from the definition
    int per = ch / groups;
    for (int n = 0; n < b; n++) {
      for (int gr = 0; gr < groups; gr++) {
        double sum = 0;
        int count = hw * hw * per;
        for (int p = 0; p < hw * hw; p++) for (int c = gr * per; c < (gr + 1) * per; c++) sum += x[(n * hw * hw + p) * ch + c];
        double mean = sum / count;
        double var = 0;
        for (int p = 0; p < hw * hw; p++) {
          for (int c = gr * per; c < (gr + 1) * per; c++) {
            double d = x[(n * hw * hw + p) * ch + c] - mean;
            var += d * d;
          }
        }
        var /= count;
        for (int p = 0; p < hw * hw; p++) {
          for (int c = gr * per; c < (gr + 1) * per; c++) {
            int i = (n * hw * hw + p) * ch + c;
            double expected = (x[i] - mean) / Math.sqrt(var + 1e-5);
            // float32 holds 1e4 + u to about 1e-3: that, not the variance, bounds the error
            assertEquals(expected, out[i], 5e-3, "value " + i);
          }
        }
      }
    }
  }
}
