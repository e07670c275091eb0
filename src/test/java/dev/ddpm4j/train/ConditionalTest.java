package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.SignatureCall;
import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ConfigException;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.diffusion.Denoiser;
import dev.ddpm4j.diffusion.Guidance;
import dev.ddpm4j.export.Exporter;
import dev.ddpm4j.model.Condition;
import dev.ddpm4j.model.MapParams;
import dev.ddpm4j.model.UNet;
import dev.ddpm4j.model.VariableParams;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.sampler.SamplerSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/** Class conditioning and classifier-free guidance, from the U-Net to a trained model's samples. */
class ConditionalTest {
  @TempDir static Path tmp;
  static ExperimentConfig cfg;
  static Path model;
  static DiffusionSampler sampler;

  /** Rings (label 0) and filled squares (label 1), centered: the center pixel tells them apart. */
  static ExperimentConfig rings(Path runs, String... extra) {
    List<String> o = new java.util.ArrayList<>(List.of("data.kind=synthetic", "data.synthetic.pattern=rings",
        "data.image_size=16", "data.synthetic.num_images=512", "model.base_channels=16", "model.channel_mults=[1,2]",
        "model.num_res_blocks=1", "model.attention_resolutions=[]", "model.groups=4", "model.dropout=0.0",
        "model.num_classes=2", "diffusion.timesteps=100", "diffusion.schedule.kind=cosine", "train.batch_size=32", "train.steps=700", "train.lr=0.002",
        "train.warmup_steps=20", "train.ema_decay=0.99", "train.log_every=100", "train.sample_every=0",
        "train.checkpoint_every=700", "train.label_dropout=0.1", "train.precision=fp32", "run.name=rings", "run.seed=1",
        "run.output_dir=" + runs, "export.dir=" + runs.resolve("exports")));
    o.addAll(List.of(extra));
    return ExperimentConfig.defaults(o);
  }

  @BeforeAll
  static void trainAndExport() {
    cfg = rings(tmp);
    new Trainer(cfg, false, new Progress(new PrintStream(new ByteArrayOutputStream()), false, 1), null).run();
    model = Exporter.export(cfg.runDir(), "latest", null, null, false).dir();
    sampler = DiffusionSampler.load(model);
  }

  @AfterAll
  static void close() {
    if (sampler != null) sampler.close();
  }

  /** Mean of the central 2x2 pixels of each 16x16 image (inside every ring's hole, inside every square). */
  static double[] centers(GeneratedImages g) {
    double[] out = new double[g.count()];
    for (int i = 0; i < g.count(); i++) {
      double s = 0;
      for (int y = 7; y < 9; y++) for (int x = 7; x < 9; x++) s += g.pixel(i, y, x, 0);
      out[i] = s / 4;
    }
    return out;
  }

  @Test
  void samplesTheRequestedClassAndTheNullLabelSamplesBoth() {
    int n = 40;
    for (int label = 0; label < 2; label++) {
      int[] labels = new int[n];
      java.util.Arrays.fill(labels, label);
      GeneratedImages g = sampler.sample(n, 5, 0, SamplerSpec.of("dpmpp_2m", 20), labels, 3f);
      int right = 0;
      for (double c : centers(g)) if (label == 0 ? c < 64 : c >= 64) right++;
      assertTrue(right >= 0.9 * n, "class " + label + " at guidance 3: " + right + " of " + n + " on the right side");
    }
    // guidance 0 is the unconditional model: the label does not matter, and both classes come out
    int[] zeros = new int[n];
    int[] ones = new int[n];
    java.util.Arrays.fill(ones, 1);
    GeneratedImages u0 = sampler.sample(n, 6, 0, SamplerSpec.of("dpmpp_2m", 20), zeros, 0f);
    GeneratedImages u1 = sampler.sample(n, 6, 0, SamplerSpec.of("dpmpp_2m", 20), ones, 0f);
    assertArrayEquals(u0.pixels(), u1.pixels());
    assertArrayEquals(u0.pixels(), sampler.sample(n, 6, 0, SamplerSpec.of("dpmpp_2m", 20), null, 1f).pixels(),
        "no labels = the no-label token");
    int dark = 0;
    for (double c : centers(u0)) if (c < 64) dark++;
    assertTrue(dark >= n / 5 && dark <= 4 * n / 5, "unconditional samples hold both classes: " + dark + " rings of " + n);
  }

  @Test
  void aJvmWithOnlyTensorFlowJavaGetsTheSameConditionalImages() throws Exception {
    Path out = dev.ddpm4j.TfOnlyChild.run(tmp, model.toString(), "8", "3", "16", "1", "1,0,-1", "2.5");
    int[] labels = {1, 0, -1};
    assertArrayEquals(sampler.sample(3, 8, 0, SamplerSpec.ancestral(), labels, 2.5f).pixels(),
        java.nio.file.Files.readAllBytes(out.resolve("images.bin")));
    assertArrayEquals(sampler.sample(3, 8, 4, SamplerSpec.of("dpmpp_2m", 6).withSpacing("karras"), labels, 2.5f)
        .pixels(), java.nio.file.Files.readAllBytes(out.resolve("dpm.bin")));
    float[] xt = new float[2 * 256];
    for (int i = 0; i < xt.length; i++) xt[i] = (float) Math.sin(i * 0.37);
    float[] eps = sampler.denoise(xt, new int[] {1, 7}, new int[] {1, -1}).eps();
    var b = java.nio.ByteBuffer.wrap(java.nio.file.Files.readAllBytes(out.resolve("eps.bin")))
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float v : eps) assertEquals(v, b.getFloat(), 1e-6f);
  }

  @Test
  void sampleCommandDrawsAClassOrAGridWithOneRowPerClass() throws Exception {
    Path grid = tmp.resolve("classes.png");
    var o = dev.ddpm4j.cli.Main.run(new String[] {"sample", "--model", model.toString(), "--class", "all", "--num", "5",
        "--out", grid.toString(), "--sampler", "ddim", "--steps", "10"}, new java.io.PrintWriter(System.out, true),
        new java.io.PrintWriter(System.err, true));
    assertEquals(0, o);
    var png = dev.ddpm4j.PngBytes.read(grid);
    assertEquals(5 * 16 + 6 * 2, png.width(), "5 images per row");
    assertEquals(2 * 16 + 3 * 2, png.height(), "one row per class");
    GeneratedImages g = GeneratedImages.ofPixels(png.samples(), 1, png.height(), png.width(), 1);
    int[] dark = new int[2];
    for (int row = 0; row < 2; row++) {
      for (int col = 0; col < 5; col++) {
        int y = 2 + row * 18 + 7;
        int x = 2 + col * 18 + 7;
        double c = (g.pixel(0, y, x, 0) + g.pixel(0, y + 1, x, 0) + g.pixel(0, y, x + 1, 0) + g.pixel(0, y + 1, x + 1, 0))
            / 4.0;
        if (c < 64) dark[row]++;
      }
    }
    assertTrue(dark[0] >= 4 && dark[1] <= 1, "row 0 rings, row 1 squares: dark centers " + java.util.Arrays.toString(dark));
    int bad = dev.ddpm4j.cli.Main.run(new String[] {"sample", "--model", model.toString(), "--class", "disc"},
        new java.io.PrintWriter(new java.io.StringWriter()), new java.io.PrintWriter(new java.io.StringWriter()));
    assertEquals(2, bad);
  }

  @Test
  void badLabelsAreRefusedBeforeTensorFlow() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> sampler.sample(2, 0, new int[] {0, 3}, 1f));
    assertTrue(e.getMessage().contains("label 3 is outside [-1, 2]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> sampler.sample(3, 0, new int[] {0, 1}, 1f));
    assertTrue(e.getMessage().contains("2 labels for 3 images"), e.getMessage());
    assertEquals(List.of("ring", "square"), sampler.metadata().classNames());
    assertEquals(2, sampler.metadata().numClasses());
    assertEquals(1, sampler.label("square"));
    assertEquals(0, sampler.label("0"));
    e = assertThrows(IllegalArgumentException.class, () -> sampler.label("disc"));
    assertTrue(e.getMessage().contains("unknown class 'disc' (classes: [ring, square])"), e.getMessage());
  }

  @Test
  void theNullLabelIsTheUnconditionalForwardShiftedByEmbeddingRowN() {
    ExperimentConfig c = rings(tmp);
    ExperimentConfig u = rings(tmp, "model.num_classes=0");
    Map<String, long[]> shapes;
    try (Graph probe = new Graph()) {
      Ops pt = Ops.create(probe);
      VariableParams<TFloat32> vp = new VariableParams<>(pt, TFloat32.class, "unet", 0);
      UNet.of(c).apply(pt, TFloat32.class, vp, pt.zeros(pt.constant(new long[] {1, 16, 16, 1}), TFloat32.class),
          pt.constant(new int[] {0}), Condition.labels(pt.constant(new int[] {0}), null), null);
      shapes = new LinkedHashMap<>(vp.shapes());
    }
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.random.statelessRandomNormal(tf.constant(new long[] {2, 16, 16, 1}), tf.constant(new long[] {3, 4}));
      var t = tf.constant(new int[] {5, 70});
      // every weight random (no zero-initialized layer hides the embedding's effect)
      Map<String, Operand<TFloat32>> w = new LinkedHashMap<>();
      long key = 0;
      for (var e : shapes.entrySet()) {
        w.put(e.getKey(), tf.math.mul(tf.random.statelessRandomNormal(tf.constant(e.getValue()),
            tf.constant(new long[] {7, key++})), tf.constant(0.2f)));
      }
      Operand<TFloat32> conditional = UNet.of(c).apply(tf, TFloat32.class, new MapParams<>(w), x, t,
          Condition.labels(tf.constant(new int[] {2, 2}), null), null);
      // the same weights without the class table, with row N of it folded into the bias of the last time layer
      Map<String, Operand<TFloat32>> w2 = new LinkedHashMap<>(w);
      Operand<TFloat32> table = w2.remove("class.embedding");
      Operand<TFloat32> rowN = tf.reshape(tf.slice(table, tf.constant(new int[] {2, 0}), tf.constant(new int[] {1, -1})),
          tf.constant(new long[] {-1}));
      w2.put("time.dense1.b", tf.math.add(w2.get("time.dense1.b"), rowN));
      Operand<TFloat32> unconditional = UNet.of(u).apply(tf, TFloat32.class, new MapParams<>(w2), x, t,
          Condition.none(), null);
      Operand<TFloat32> otherLabel = UNet.of(c).apply(tf, TFloat32.class, new MapParams<>(w), x, t,
          Condition.labels(tf.constant(new int[] {0, 0}), null), null);
      try (Session s = new Session(g);
          Result r = s.runner().fetch(conditional).fetch(unconditional).fetch(otherLabel).run()) {
        float[] a = floats((TFloat32) r.get(0));
        float[] b = floats((TFloat32) r.get(1));
        float[] o = floats((TFloat32) r.get(2));
        double maxOther = 0;
        for (int i = 0; i < a.length; i++) {
          assertEquals(a[i], b[i], 1e-4f * Math.max(1, Math.abs(a[i])));
          maxOther = Math.max(maxOther, Math.abs(a[i] - o[i]));
        }
        assertTrue(maxOther > 1e-2, "another label changes the output: " + maxOther);
      }
    }
  }

  @Test
  void labelDropoutHitsItsFractionDeterministically() {
    ExperimentConfig c = rings(tmp, "train.label_dropout=0.25");
    int n = 20000;
    float[] images = new float[n * 256];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) labels[i] = i % 2;
    try (TrainingSession ts = new TrainingSession(c); TFloat32 x = TFloat32.tensorOf(Shape.of(n, 16, 16, 1));
        TInt32 y = TInt32.vectorOf(labels)) {
      x.asRawTensor().data().asFloats().write(images);
      int[] first = seen(ts, x, y);
      int[] again = seen(ts, x, y);
      assertArrayEquals(first, again, "keyed by (seed, step): the same at the same step");
      int dropped = 0;
      for (int i = 0; i < n; i++) {
        if (first[i] == 2) dropped++;
        else assertEquals(labels[i], first[i], "a kept label is unchanged");
      }
      double sd = Math.sqrt(0.25 * 0.75 / n);
      assertEquals(0.25, (double) dropped / n, 4 * sd, "dropped share");
    }
  }

  static int[] seen(TrainingSession ts, TFloat32 x, TInt32 y) {
    try (Result r = ts.session.runner().feed(ts.net.x0, x).feed(ts.net.labels, y).fetch(ts.net.labelsSeen).run()) {
      TInt32 t = (TInt32) r.get(0);
      int[] out = new int[(int) t.size()];
      for (int i = 0; i < out.length; i++) out[i] = t.getInt(i);
      return out;
    }
  }

  /**
   * A fake network whose x_0 is 0.1 (label + 1) + 100 M, with M the rows of its batch: the guided result shows the
   * combination and how many rows the network saw.
   */
  static final Guidance.Network REVEALING = (tf, w, x, t, condition) -> {
    @SuppressWarnings("unchecked")
    Operand<TInt32> labels = (Operand<TInt32>) condition.get(Guidance.LABELS);
    Operand<TFloat32> rows = tf.dtypes.cast(tf.size(labels, TInt32.class), TFloat32.class);
    Operand<TFloat32> v = tf.math.add(tf.math.mul(tf.dtypes.cast(tf.math.add(labels, tf.constant(1)), TFloat32.class),
        tf.constant(0.1f)), tf.math.mul(rows, tf.constant(100f)));
    return new Denoiser.Prediction(tf.math.add(tf.math.mul(x, tf.constant(0f)),
        tf.reshape(v, tf.constant(new long[] {-1, 1, 1, 1}))));
  };

  @Test
  void guidanceCombinesBothPredictionsFromOneBatchAndSkipsWhatItDoesNotNeed() {
    int classes = 5;
    int[] labels = {0, 3, -1};
    Denoiser d = Guidance.classifierFree(REVEALING, classes);
    for (float w : new float[] {0f, 1f, 3f}) {
      try (Graph g = new Graph()) {
        Ops tf = Ops.create(g);
        Map<String, Operand<?>> cond = Condition.labels(tf.constant(labels), tf.constant(w)).tensors();
        Operand<TFloat32> out = d.predict(tf, Map.of(), tf.zeros(tf.constant(new long[] {3, 1, 1, 1}), TFloat32.class),
            tf.constant(new int[] {1, 1, 1}), cond).x0();
        try (Session s = new Session(g); Result r = s.runner().fetch(out).run()) {
          float[] got = floats((TFloat32) r.get(0));
          int rows = w == 0 || w == 1 ? 3 : 6; // one pass of N rows when w is 0 or 1, else 2N
          for (int i = 0; i < 3; i++) {
            int label = labels[i] < 0 ? classes : labels[i];
            double cond1 = 0.1 * ((w == 0 ? classes : label) + 1) + 100 * rows;
            double uncond = 0.1 * (classes + 1) + 100 * rows;
            double expected = w == 0 || w == 1 ? cond1 : uncond + w * (cond1 - uncond);
            assertEquals(expected, got[i], 1e-3, "w = " + w + ", image " + i);
          }
        }
      }
    }
  }

  static float[] floats(TFloat32 t) {
    float[] a = new float[(int) t.size()];
    t.asRawTensor().data().asFloats().read(a);
    return a;
  }

  @Test
  void aStrayImageAtTheFolderRootIsNamed() throws Exception {
    Path root = tmp.resolve("stray");
    byte[] px = new byte[16];
    dev.ddpm4j.PngBytes.write(root.resolve("cats/a.png"), 4, 4, 1, px);
    dev.ddpm4j.PngBytes.write(root.resolve("dogs/b.png"), 4, 4, 1, px);
    dev.ddpm4j.PngBytes.write(root.resolve("oops.png"), 4, 4, 1, px);
    ExperimentConfig cfg = ExperimentConfig.defaults(List.of("data.kind=image_folder", "data.path=" + root,
        "data.image_size=4", "data.channels=1", "data.split=all", "model.channel_mults=[1]",
        "model.attention_resolutions=[]", "model.num_classes=2"));
    dev.ddpm4j.data.Dataset d = dev.ddpm4j.data.ImageFolder.load(cfg.data());
    ConfigException e = assertThrows(ConfigException.class, () -> Trainer.checkLabels(cfg, d));
    assertTrue(e.getMessage().contains("1 image file lies directly under data.path") && e.getMessage().contains("oops.png")
        && e.getMessage().contains("move them into a class folder"), e.getMessage());
  }

  @Test
  void configsRefuseClassCountsTheDataDoesNotHave() {
    ConfigException e = assertThrows(ConfigException.class, () -> rings(tmp, "model.num_classes=3"));
    assertTrue(e.getMessage().contains("model.num_classes = 3: data.kind synthetic (pattern rings) has 2 classes"),
        e.getMessage());
    e = assertThrows(ConfigException.class, () -> ExperimentConfig.defaults(List.of("model.num_classes=4")));
    assertTrue(e.getMessage().contains("data.kind fashion_mnist has 10 classes"), e.getMessage());
  }

  /**
   * A conditional signature asked for one image draws it beside an unlabelled next one (InferenceGraph pads the
   * labels): the lone image, floats and all, is image 0 of a call of two with any second label. Guidance 1, so that
   * the network sees the images themselves (other scales double the batch); without the padding this differed.
   */
  @Test
  void aConditionalSignatureDrawsALoneImageBesideTheNextOne() {
    try (var bundle = org.tensorflow.SavedModelBundle.load(model.toString(), "serve")) {
      var sig = bundle.function("sample_ddim").signature();
      float[][] samples = new float[2][];
      int[][] labels = {{1}, {1, 0}};
      for (int j = 0; j < 2; j++) {
        int n = labels[j].length;
        try (var r = SignatureCall.sampling(5, n, 2, 3, "leading").eta(0f).with("labels", TInt32.vectorOf(labels[j]))
            .with("guidance_scale", TFloat32.scalarOf(1f)).run(bundle.session(), sig, "samples")) {
          assertEquals(n, r.get(0).shape().get(0));
          samples[j] = floats((TFloat32) r.get(0));
        }
      }
      int per = samples[0].length;
      assertArrayEquals(java.util.Arrays.copyOf(samples[1], per), samples[0], "image 2 alone = beside image 3");
    }
  }

  @Test
  void benchProfilesAConditionalModelsDenoiseCall() {
    ObjectNode o;
    try (var s = DiffusionSampler.load(model, "fp32")) {
      o = Benchmark.sample(model, s, 0.5, 2, SamplerSpec.of("ddim", 2), true);
    }
    assertEquals(0.5, o.get("load_s").asDouble());
    assertEquals(2, o.get("network_calls").asInt());
    assertTrue(o.get("denoise_profile").get("summed_op_ms").asDouble() > 0, o.toString());
  }
}
