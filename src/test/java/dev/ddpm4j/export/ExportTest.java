package dev.ddpm4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.SignatureCall;
import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.train.Checkpoints;
import dev.ddpm4j.train.Progress;
import dev.ddpm4j.train.Trainer;
import dev.ddpm4j.train.TrainingSession;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.exceptions.TFInvalidArgumentException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/** One tiny trained run, exported once with EMA and once with raw weights, shared by the tests below. */
class ExportTest {
  @TempDir static Path tmp;
  static ExperimentConfig cfg;
  static Path ema;
  static Path raw;
  static DiffusionSampler sampler;

  @BeforeAll
  static void trainAndExport() {
    cfg = TinyConfigs.config(tmp, "export.dir=" + tmp.resolve("exports"), "diffusion.variance=beta_tilde",
        "model.dropout=0.2");
    new Trainer(cfg, false, new Progress(new PrintStream(new ByteArrayOutputStream()), false, 1), null).run();
    ema = Exporter.export(cfg.runDir(), "latest", null, null, false).dir();
    raw = Exporter.export(cfg.runDir(), "10", tmp.resolve("raw10"), "raw", false).dir();
    sampler = DiffusionSampler.load(ema);
  }

  @AfterAll
  static void close() {
    if (sampler != null) sampler.close();
  }

  @Test
  void exportHasTheContractLayoutAndMetadata() throws Exception {
    assertEquals(tmp.resolve("exports").resolve("tiny").toAbsolutePath(), ema);
    assertTrue(Files.isRegularFile(ema.resolve("saved_model.pb")));
    assertTrue(Files.isDirectory(ema.resolve("variables")));
    var m = sampler.metadata();
    assertEquals(8, m.imageSize());
    assertEquals(1, m.channels());
    assertEquals(20, m.timesteps());
    assertEquals(20, m.trainingSteps());
    assertEquals("eps", m.prediction());
    assertArrayEquals(new double[] {1 / 127.5}, m.normalizationScale(), 1e-15);
    assertArrayEquals(new double[] {-1}, m.normalizationShift(), 0);
    @SuppressWarnings("unchecked")
    Map<String, Object> config = (Map<String, Object>) m.asMap().get("config");
    assertEquals("synthetic", ((Map<?, ?>) config.get("data")).get("kind"));
    try (var s = Files.list(ema.getParent())) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".tmp-")), "no temporary folders left");
    }
  }

  @Test
  void exportRefusesToOverwriteWithoutForce() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Exporter.export(cfg.runDir(), "latest", null, null, false));
    assertTrue(e.getMessage().contains("--force"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Exporter.export(cfg.runDir(), "7", tmp.resolve("x"), null, false));
    assertTrue(e.getMessage().contains("no checkpoint at step 7") && e.getMessage().contains("[10, 20]"), e.getMessage());
  }

  @Test
  void aShippedModelIsNeverReplacedEvenWithForce() throws Exception {
    Path shipped = tmp.resolve("shipped");
    java.nio.file.Files.createDirectories(shipped);
    java.nio.file.Files.writeString(shipped.resolve(Exporter.SHIPPED), "shipped\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Exporter.export(cfg.runDir(), "latest", shipped, null, true));
    assertTrue(e.getMessage().contains("shipped with ddpm4j") && e.getMessage().contains("--force included"),
        e.getMessage());
    try (var files = java.nio.file.Files.list(shipped)) {
      assertEquals(List.of(shipped.resolve(Exporter.SHIPPED)), files.toList(), "nothing written");
    }
  }

  @Test
  void exportReplacesOnlyAnEarlierExportEvenWithForce() throws Exception {
    Path other = tmp.resolve("not-an-export");
    Files.createDirectories(other);
    Files.writeString(other.resolve("notes.txt"), "keep me\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Exporter.export(cfg.runDir(), "latest", other, null, true));
    assertTrue(e.getMessage().contains("not an earlier ddpm4j export") && e.getMessage().contains(other.toString()),
        e.getMessage());
    assertEquals("keep me\n", Files.readString(other.resolve("notes.txt")));
    // a SavedModel that is not a ddpm4j export (a feature network, say) is not replaced either
    Path foreign = tmp.resolve("foreign-savedmodel");
    Files.createDirectories(foreign);
    Files.copy(ema.resolve("saved_model.pb"), foreign.resolve("saved_model.pb"));
    e = assertThrows(IllegalArgumentException.class, () -> Exporter.export(cfg.runDir(), "latest", foreign, null, true));
    assertTrue(e.getMessage().contains("not an earlier ddpm4j export"), e.getMessage());
    assertTrue(Files.isRegularFile(foreign.resolve("saved_model.pb")));
    for (Path target : List.of(cfg.runDir(), cfg.runDir().getParent())) {
      e = assertThrows(IllegalArgumentException.class, () -> Exporter.export(cfg.runDir(), "latest", target, null, true));
      assertTrue(e.getMessage().contains("would delete the run"), e.getMessage());
    }
    assertTrue(Files.isRegularFile(cfg.runDir().resolve("config.yaml")), "the run is intact");
    assertEquals(2, new dev.ddpm4j.train.Checkpoints(cfg.runDir().resolve("checkpoints"), 99).list().size());
    Path again = tmp.resolve("again");
    Exporter.export(cfg.runDir(), "10", again, "raw", false);
    Files.writeString(again.resolve("stale.txt"), "an earlier export's extra file\n");
    Exporter.export(cfg.runDir(), "20", again, "raw", true); // an earlier export is replaced, whole
    assertTrue(Files.isRegularFile(again.resolve("saved_model.pb")));
    assertFalse(Files.exists(again.resolve("stale.txt")));
  }

  @Test
  void sampleIsDeterministicPerSeedWithPixelsFromTheExactInverse() {
    GeneratedImages a = sampler.sample(3, 5);
    GeneratedImages b = sampler.sample(3, 5);
    GeneratedImages c = sampler.sample(3, 6);
    assertArrayEquals(a.pixels(), b.pixels());
    assertFalse(java.util.Arrays.equals(a.pixels(), c.pixels()));
    assertEquals(3 * 64, a.pixels().length);
    float[] x = a.samples();
    byte[] px = a.pixels();
    for (int i = 0; i < x.length; i++) {
      long expected = Math.max(0, Math.min(255, Math.round((x[i] + 1.0) * 127.5)));
      assertEquals(expected, px[i] & 0xff, 1, "pixel " + i + " from x=" + x[i]);
    }
    assertEquals(3, a.toBufferedImages().size());
  }

  @Test
  void theExampleProgramWritesAGrid() throws Exception {
    Path grid = tmp.resolve("example/grid.png");
    examples.SampleImages.main(new String[] {ema.toString(), grid.toString(), "4", "1"});
    java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(grid.toFile());
    assertEquals(2 * 8 + 3 * 2, img.getWidth()); // 2x2 grid of 8-pixel images with 2-pixel gaps
  }

  @Test
  void ddimWithEtaOneOverAllStepsIsTheAncestralSamplerWithPosteriorVariance() {
    // Same seed: the same x_T and the same per-step noise keys, so the two loops agree up to float rounding.
    float[] ancestral = sampler.sample(4, 9).samples();
    float[] ddim = sampler.sampleDdim(4, 9, 20, 1f).samples();
    double maxDiff = 0;
    for (int i = 0; i < ancestral.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ancestral[i] - ddim[i]));
    assertTrue(maxDiff < 1e-3, "max |ancestral - ddim(eta=1, K=T)| = " + maxDiff);
  }

  @Test
  void ddimWithEtaZeroIsDeterministicGivenXtAndFewerStepsDiffer() {
    GeneratedImages a = sampler.sampleDdim(3, 4, 5, 0f);
    GeneratedImages b = sampler.sampleDdim(3, 4, 5, 0f);
    assertArrayEquals(a.samples(), b.samples());
    assertFalse(java.util.Arrays.equals(a.samples(), sampler.sampleDdim(3, 4, 10, 0f).samples()));
    // eta = 0 adds no noise after x_T: a different seed changes only x_T, and so the result
    assertFalse(java.util.Arrays.equals(a.samples(), sampler.sampleDdim(3, 5, 5, 0f).samples()));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sampler.sampleDdim(1, 0, 21, 0f));
    assertTrue(e.getMessage().contains("steps must be in [1, 20]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> sampler.sampleDdim(1, 0, 5, 1.5f));
    assertTrue(e.getMessage().contains("eta must be in [0, 1]"), e.getMessage());
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void everySamplersImagesDependOnSeedAndIndexOnly() {
    List<dev.ddpm4j.sampler.SamplerSpec> specs = new ArrayList<>();
    specs.add(dev.ddpm4j.sampler.SamplerSpec.ancestral());
    for (String name : sampler.metadata().samplers().keySet()) {
      specs.add(dev.ddpm4j.sampler.SamplerSpec.of(name, 4).withEta(name.equals("ddim") ? 0.5f : 0f));
    }
    assertEquals(1 + dev.ddpm4j.diffusion.SamplerKind.values().length, specs.size(),
        "ancestral over all steps plus every sampler: " + specs);
    for (var spec : specs) {
      byte[] all = sampler.sample(5, 7, 0, spec).pixels();
      byte[] head = sampler.sample(2, 7, 0, spec).pixels();
      byte[] tail = sampler.sample(3, 7, 2, spec).pixels();
      byte[] alone = sampler.sample(1, 7, 3, spec).pixels();
      assertArrayEquals(all, concat(head, tail), spec + ": a batch of 5 = batches of 2 and 3");
      assertArrayEquals(java.util.Arrays.copyOfRange(all, 3 * 64, 4 * 64), alone, spec + ": image 3 drawn alone");
      assertFalse(java.util.Arrays.equals(java.util.Arrays.copyOfRange(all, 0, 64),
          java.util.Arrays.copyOfRange(all, 64, 128)), spec + ": images differ");
    }
  }

  /**
   * Four threads, batches of 2-5 images, ten rounds, on one sampler: without DiffusionSampler's lock this gave wrong
   * pixels or aborted the JVM in TensorFlow's oneDNN convolution (three of three tries).
   */
  @Test
  void callersOnSeveralThreadsShareOneSampler() throws Exception {
    assertCallsAtOnceMatch(4, 100, i -> sampler);
  }

  /** What the README offers for parallel sampling: one sampler per thread, each with its own session. */
  @Test
  void samplersOnSeveralThreadsRunAtOnce() throws Exception {
    List<DiffusionSampler> own = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) own.add(DiffusionSampler.load(ema));
      assertCallsAtOnceMatch(3, 200, own::get);
    } finally {
      own.forEach(DiffusionSampler::close);
    }
  }

  /**
   * Ten rounds of k calls at once, call i drawing 2 + i ancestral images of seed base + i on samplerOf(i): each gets
   * the bytes the same call gets alone.
   */
  static void assertCallsAtOnceMatch(int k, int base, java.util.function.IntFunction<DiffusionSampler> samplerOf)
      throws Exception {
    var spec = dev.ddpm4j.sampler.SamplerSpec.ancestral();
    byte[][] alone = new byte[k][];
    for (int i = 0; i < k; i++) alone[i] = sampler.sample(2 + i, base + i, 0, spec).pixels();
    var pool = java.util.concurrent.Executors.newFixedThreadPool(k);
    try {
      List<java.util.concurrent.Future<byte[]>> got = new ArrayList<>();
      for (int round = 0; round < 10; round++) {
        for (int i = 0; i < k; i++) {
          DiffusionSampler s = samplerOf.apply(i);
          int n = 2 + i;
          int seed = base + i;
          got.add(pool.submit(() -> s.sample(n, seed, 0, spec).pixels()));
        }
      }
      for (int j = 0; j < got.size(); j++) assertArrayEquals(alone[j % k], got.get(j).get(), "call " + j);
    } finally {
      pool.shutdown();
      pool.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
    }
  }

  @Test
  void theSavedModelsSignaturesEqualTheInProcessGraph() {
    var ckpt = new Checkpoints(cfg.runDir().resolve("checkpoints"), 5).latest().orElseThrow();
    try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
      InferenceGraph ig = new InferenceGraph(cfg, g, "ema");
      try (org.tensorflow.Session s = new org.tensorflow.Session(g)) {
        s.initialize();
        s.restore(ckpt.variablesPrefix());
        for (var e : ig.samplers.entrySet()) {
          var kind = e.getKey();
          var sig = e.getValue();
          String spacing = kind.spacings().get(kind.spacings().size() - 1).key();
          var call = SignatureCall.sampling(11, 2, 3, 5, spacing);
          if (kind.takesEta()) call.eta(1f);
          try (Result r = call.run(s, sig, "images")) {
            byte[] inProcess = new byte[2 * 64];
            r.get(0).asRawTensor().data().read(inProcess);
            var spec = dev.ddpm4j.sampler.SamplerSpec.of(kind.key(), 5).withSpacing(spacing)
                .withEta(kind.takesEta() ? 1f : 0f);
            assertArrayEquals(inProcess, sampler.sample(2, 11, 3, spec).pixels(), kind + " export = graph");
          }
        }
      }
    }
  }

  /**
   * Every client gets a lone image's batch bytes from the export itself: a sampling signature asked for one image
   * draws it beside the next one and returns only it, with the signature's static shape [-1, H, W, C] kept.
   * (TensorFlow's one-image kernels moved the shipped model's lone images: docs/BENCHMARKS.md, "bf16 sampling".)
   */
  @Test
  void aSamplingSignatureDrawsALoneImageBesideTheNextOne() {
    try (var bundle = org.tensorflow.SavedModelBundle.load(ema.toString(), "serve")) {
      var sig = bundle.function("sample_ddim").signature();
      assertArrayEquals(new long[] {-1, 8, 8, 1}, sig.getOutputs().get("images").shape.asArray());
      byte[][] images = new byte[2][];
      float[][] samples = new float[2][];
      for (int n = 1; n <= 2; n++) {
        try (Result r = SignatureCall.sampling(7, n, 3, 4, "leading").eta(0f)
            .run(bundle.session(), sig, "images", "samples")) {
          assertEquals(Shape.of(n, 8, 8, 1), r.get(0).shape(), n + " images asked for");
          images[n - 1] = new byte[n * 64];
          r.get(0).asRawTensor().data().read(images[n - 1]);
          samples[n - 1] = new float[n * 64];
          r.get(1).asRawTensor().data().asFloats().read(samples[n - 1]);
        }
      }
      assertArrayEquals(java.util.Arrays.copyOf(images[1], 64), images[0], "image 3 alone = beside image 4");
      // the floats too, to the last bit: the same computation, not one that happens to round to the same bytes
      assertArrayEquals(java.util.Arrays.copyOf(samples[1], 64), samples[0], "samples of image 3");
    }
  }

  @Test
  void numImagesFromOneToSixtyFour() {
    assertEquals(1, sampler.sample(1, 0).count());
    GeneratedImages g = sampler.sample(64, 0);
    assertEquals(64 * 64, g.pixels().length);
    assertEquals(8 * 8 + 9 * 2, g.toGrid().getHeight()); // an 8x8 grid of 8-pixel images with 2-pixel gaps
  }

  @Test
  void denoiseAgreesWithTheTrainingGraphsUNetAndSampleWithItsSampler() {
    int n = 2;
    float[] xt = new float[n * 64];
    for (int i = 0; i < xt.length; i++) xt[i] = (float) Math.cos(i * 0.21);
    int[] t = {3, 17};
    float[] trainingEps;
    // the run trained with dropout; its weights, in a training graph without dropout, are the network the export runs
    ExperimentConfig noDropout = TinyConfigs.config(tmp, "export.dir=" + tmp.resolve("exports"),
        "diffusion.variance=beta_tilde", "model.dropout=0.0");
    try (TrainingSession ts = new TrainingSession(cfg)) {
      ts.restore(new Checkpoints(cfg.runDir().resolve("checkpoints"), 5).latest().orElseThrow().variablesPrefix());
      // the training graph's own sampler (the default one, EMA weights, no dropout) draws what the export draws
      float[] inGraph = ts.sample(7, 3);
      var kind = dev.ddpm4j.diffusion.SamplerKind.DEFAULT;
      float[] exported = sampler.sample(3, 7, dev.ddpm4j.sampler.SamplerSpec.of(kind.key(),
          Math.min(dev.ddpm4j.diffusion.SamplerKind.DEFAULT_STEPS, 20))).samples();
      for (int i = 0; i < inGraph.length; i++) assertEquals(inGraph[i], exported[i], 1e-5f, "sample value " + i);
    }
    try (TrainingSession ts = new TrainingSession(noDropout)) {
      ts.restore(new Checkpoints(cfg.runDir().resolve("checkpoints"), 5).at(10).orElseThrow().variablesPrefix());
      try (TFloat32 x = TFloat32.tensorOf(Shape.of(n, 8, 8, 1)); TInt32 tt = TInt32.vectorOf(t)) {
        x.asRawTensor().data().asFloats().write(xt);
        // feed the training graph's noisy input and timesteps directly, fetch its U-Net output
        try (Result r = ts.session.runner().feed(ts.net.xt, x).feed(ts.net.t, tt).fetch(ts.net.output).run()) {
          trainingEps = new float[n * 64];
          ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(trainingEps);
        }
      }
    }
    try (DiffusionSampler s = DiffusionSampler.load(raw)) {
      DiffusionSampler.Denoised d = s.denoise(xt, t);
      double maxDiff = 0;
      for (int i = 0; i < xt.length; i++) maxDiff = Math.max(maxDiff, Math.abs(d.eps()[i] - trainingEps[i]));
      assertTrue(maxDiff <= 1e-5, "max |eps_export - eps_train| = " + maxDiff);
      assertTrue(java.util.Arrays.stream(box(trainingEps)).anyMatch(v -> Math.abs(v) > 1e-3), "a trained, non-zero output");
      // x0 = sqrt(1/abar) x_t - sqrt(1/abar - 1) eps, from the schedule in double precision
      var sch = dev.ddpm4j.diffusion.Schedule.of(cfg.diffusion());
      for (int i = 0; i < xt.length; i++) {
        int k = t[i / 64];
        double x0 = sch.sqrtRecipAlphaBar[k] * xt[i] - sch.sqrtRecipM1AlphaBar[k] * d.eps()[i];
        assertEquals(x0, d.x0()[i], 1e-4 * Math.max(1, Math.abs(x0)));
      }
    }
  }

  private static double[] box(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) d[i] = a[i];
    return d;
  }

  @Test
  void aJvmWithOnlyTensorFlowJavaGetsTheSameBytes() throws Exception {
    Path out = dev.ddpm4j.TfOnlyChild.run(tmp, ema.toString(), "5", "3", "8", "1");
    assertArrayEquals(sampler.sample(3, 5).pixels(), Files.readAllBytes(out.resolve("images.bin")));
    assertEquals("[3, 8, 8, 1]", Files.readString(out.resolve("images.shape")));
    assertArrayEquals(sampler.sample(3, 5, 4, dev.ddpm4j.sampler.SamplerSpec.of("dpmpp_2m", 6).withSpacing("karras"))
        .pixels(), Files.readAllBytes(out.resolve("dpm.bin")));
    float[] xt = new float[2 * 64];
    for (int i = 0; i < xt.length; i++) xt[i] = (float) Math.sin(i * 0.37);
    float[] eps = sampler.denoise(xt, new int[] {1, 7}).eps();
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(out.resolve("eps.bin"))).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : eps) assertEquals(v, b.getFloat(), 1e-6f);
  }

  @Test
  void badModelsAndBadArgumentsGiveClearErrors() throws Exception {
    SamplerException e = assertThrows(SamplerException.class, () -> DiffusionSampler.load(tmp.resolve("nowhere")));
    assertTrue(e.getMessage().contains("no such directory"), e.getMessage());
    Path notModel = Files.createDirectories(tmp.resolve("not-a-model"));
    e = assertThrows(SamplerException.class, () -> DiffusionSampler.load(notModel));
    assertTrue(e.getMessage().contains("no saved_model.pb"), e.getMessage());
    Path corrupt = Files.createDirectories(tmp.resolve("corrupt"));
    Files.write(corrupt.resolve("saved_model.pb"), "definitely not a protobuf".getBytes());
    e = assertThrows(SamplerException.class, () -> DiffusionSampler.load(corrupt));
    assertTrue(e.getMessage().contains("cannot load"), e.getMessage());
    Path foreign = tmp.resolve("foreign");
    try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
      var tf = org.tensorflow.op.Ops.create(g);
      var x = tf.placeholder(TFloat32.class);
      var y = tf.math.mul(x, tf.constant(2f));
      try (org.tensorflow.Session s = new org.tensorflow.Session(g)) {
        org.tensorflow.SavedModelBundle.exporter(foreign.toString()).withSession(s)
            .withSignature(org.tensorflow.Signature.builder("double").input("x", x).output("y", y).build()).export();
      }
    }
    e = assertThrows(SamplerException.class, () -> DiffusionSampler.load(foreign));
    assertTrue(e.getMessage().contains("missing signatures [sample, denoise, q_sample]"), e.getMessage());

    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> sampler.sample(-1, 0));
    assertTrue(bad.getMessage().contains("numImages must be >= 1"));
    bad = assertThrows(IllegalArgumentException.class, () -> sampler.denoise(new float[10], new int[] {1}));
    assertTrue(bad.getMessage().contains("need 64"), bad.getMessage());
    bad = assertThrows(IllegalArgumentException.class, () -> sampler.denoise(new float[64], new int[] {20}));
    assertTrue(bad.getMessage().contains("outside [0, 20)"), bad.getMessage());
    // The graph itself refuses a negative count with a TensorFlow error, not a native crash.
    TFInvalidArgumentException tfe = assertThrows(TFInvalidArgumentException.class, () -> {
      try (TInt64 s = TInt64.scalarOf(1); TInt32 n = TInt32.scalarOf(-1); TInt64 f = TInt64.scalarOf(0);
          Result r = sampler.bundle().function("sample").call(Map.of("seed", s, "num_images", n, "first_index", f))) {
        r.size();
      }
    });
    assertTrue(tfe.getMessage().contains("num_images must be >= 1"), tfe.getMessage());
    // ... and a spacing the sampler does not take, naming the ones it does
    tfe = assertThrows(TFInvalidArgumentException.class, () -> {
      try (TInt64 s = TInt64.scalarOf(1); TInt32 n = TInt32.scalarOf(1); TInt64 f = TInt64.scalarOf(0);
          TInt32 k = TInt32.scalarOf(3); org.tensorflow.types.TString sp = org.tensorflow.types.TString.scalarOf("karras");
          TFloat32 eta = TFloat32.scalarOf(0f);
          Result r = sampler.bundle().function("sample_ddim").call(Map.of("seed", s, "num_images", n,
              "first_index", f, "num_steps", k, "spacing", sp, "eta", eta))) {
        r.size();
      }
    });
    assertTrue(tfe.getMessage().contains("ddim: spacing must be one of [leading, trailing, linspace]"),
        tfe.getMessage());
    bad = assertThrows(IllegalArgumentException.class,
        () -> sampler.sample(1, 0, dev.ddpm4j.sampler.SamplerSpec.of("ddim", 3).withSpacing("karras")));
    assertTrue(bad.getMessage().contains("ddim: spacing must be one of [leading, trailing, linspace]"),
        bad.getMessage());
  }
}
