package dev.ddpm4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.ModelInfo;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Speed of the training step against the machine's own ceiling: a large float32 MatMul run in a session with the same
 * thread settings. Training FLOPs are counted as 3x the forward FLOPs (forward + backward for inputs and weights).
 */
public final class Benchmark {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Benchmark() {}

  /** Median and min of per-step times (seconds) and the RSS before and after. */
  public record Timing(double median, double min, double[] all, long rssBeforeKb, long rssAfterKb) {}

  public static ObjectNode train(ExperimentConfig cfg, int batch, int steps) {
    return train(cfg, batch, steps, false);
  }

  /** As {@link #train(ExperimentConfig, int, int)}; with {@code profile}, also where one traced step spends its time. */
  public static ObjectNode train(ExperimentConfig cfg, int batch, int steps, boolean profile) {
    ExperimentConfig.Train tc = cfg.train();
    ModelInfo info = ModelInfo.of(cfg);
    int s = cfg.data().imageSize();
    int c = cfg.data().channels();
    float[] x = new float[batch * s * s * c];
    SplittableRandom r = new SplittableRandom(cfg.run().seed());
    for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
    // a class-conditional model trains on labels: random classes, as a real batch would carry
    int[] labels = null;
    if (cfg.model().conditional()) {
      labels = new int[batch];
      for (int i = 0; i < batch; i++) labels[i] = r.nextInt(cfg.model().numClasses());
    }
    int[] y = labels;
    long t0 = System.nanoTime();
    Timing timing;
    double buildSeconds;
    ObjectNode profileNode = null;
    String precision;
    String groupNorm;
    String conv3x3;
    try (TrainingSession ts = new TrainingSession(cfg)) {
      precision = ts.precision;
      groupNorm = ts.net.groupNorm;
      conv3x3 = ts.net.conv3x3;
      buildSeconds = (System.nanoTime() - t0) / 1e9;
      for (int i = 0; i < 3; i++) ts.step(x, y); // warm-up: the first runs optimize and allocate
      timing = time(steps, () -> ts.step(x, y));
      if (profile) profileNode = profile(ts, x, y);
    }
    double ceiling = matmulGflops(2048, 5, tc.intraOpThreads(), tc.interOpThreads(), "fp32");
    double ceilingBf16 = precision.equals("bf16")
        ? matmulGflops(2048, 5, tc.intraOpThreads(), tc.interOpThreads(), "bf16") : Double.NaN;
    double fwd = info.forwardFlops() / 1e9;
    double achieved = 3 * fwd * batch / timing.median();
    ObjectNode o = JSON.createObjectNode();
    o.put("mode", "train");
    o.put("batch", batch);
    o.put("steps", steps);
    o.put("params", info.totalParams());
    o.put("graph_build_s", round(buildSeconds, 2));
    o.put("step_time_median_s", round(timing.median(), 4));
    o.put("step_time_min_s", round(timing.min(), 4));
    o.put("images_per_s", round(batch / timing.median(), 1));
    o.put("forward_gflops_per_image", round(fwd, 4));
    o.put("achieved_gflops_per_s", round(achieved, 1));
    o.put("matmul_ceiling_gflops_per_s", round(ceiling, 1));
    o.put("ratio_to_ceiling", round(achieved / ceiling, 3));
    o.put("precision", precision);
    o.put("group_norm", groupNorm);
    o.put("conv3x3", conv3x3);
    if (!Double.isNaN(ceilingBf16)) {
      o.put("matmul_ceiling_bf16_gflops_per_s", round(ceilingBf16, 1));
      o.put("ratio_to_bf16_ceiling", round(achieved / ceilingBf16, 3));
    }
    o.put("cpu", dev.ddpm4j.platform.Platform.cpuModel());
    o.put("cpu_flags", String.join(" ", dev.ddpm4j.platform.Platform.keyFlags()));
    o.put("intra_op_threads", tc.intraOpThreads());
    o.put("inter_op_threads", tc.interOpThreads());
    o.put("rss_before_mb", timing.rssBeforeKb() / 1024);
    o.put("rss_after_mb", timing.rssAfterKb() / 1024);
    o.put("peak_rss_mb", peakRssKb() / 1024);
    if (profileNode != null) o.set("profile", profileNode);
    return o;
  }

  /**
   * One fully traced training step (RunMetadata step stats): op time summed per op type, in milliseconds, largest
   * first, with each type's share of the summed op time. Ops run on two threads, so the sum exceeds the wall time.
   */
  static ObjectNode profile(TrainingSession ts, float[] batch, int[] labels) {
    int s = ts.config.data().imageSize();
    int c = ts.config.data().channels();
    try (TFloat32 x = TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(batch.length / (s * s * c), s, s, c));
        org.tensorflow.types.TInt32 y = labels != null ? org.tensorflow.types.TInt32.vectorOf(labels) : null) {
      x.asRawTensor().data().asFloats().write(batch);
      Session.Runner r = ts.session.runner().feed(ts.net.x0, x).addTarget(ts.net.train).setOptions(FULL_TRACE);
      if (y != null) r.feed(ts.net.labels, y);
      try (org.tensorflow.Result res = r.runAndFetchMetadata()) {
        return opTimes(res.getMetadata().orElseThrow());
      }
    }
  }

  private static final org.tensorflow.proto.RunOptions FULL_TRACE = org.tensorflow.proto.RunOptions.newBuilder()
      .setTraceLevel(org.tensorflow.proto.RunOptions.TraceLevel.FULL_TRACE).build();

  /**
   * Op time of one traced run, in milliseconds, summed over all ops (and over threads, so it can exceed the wall
   * time): per op type, the twelve largest first, and the twelve costliest single ops, each named "node (type,
   * output shape)" so a layer can be found in the graph.
   */
  static ObjectNode opTimes(org.tensorflow.proto.RunMetadata meta) {
    java.util.Map<String, Long> micros = new java.util.HashMap<>();
    java.util.Map<String, Long> nodes = new java.util.HashMap<>();
    for (var dev : meta.getStepStats().getDevStatsList()) {
      for (var n : dev.getNodeStatsList()) {
        String label = n.getTimelineLabel();
        String type = label.contains("(") ? label.substring(label.indexOf('=') + 1, label.indexOf('(')).trim()
            : n.getNodeName();
        if (type.isEmpty()) type = n.getNodeName();
        micros.merge(type, n.getAllEndRelMicros(), Long::sum);
        String shape = n.getOutputCount() == 0 ? "" : n.getOutput(0).getTensorDescription().getShape().getDimList()
            .stream().map(d -> Long.toString(d.getSize())).collect(java.util.stream.Collectors.joining("x"));
        nodes.merge(n.getNodeName() + " (" + type + (shape.isEmpty() ? "" : ", " + shape) + ")",
            n.getAllEndRelMicros(), Long::sum);
      }
    }
    long total = micros.values().stream().mapToLong(Long::longValue).sum();
    ObjectNode o = JSON.createObjectNode();
    o.put("summed_op_ms", round(total / 1000.0, 1));
    putLargest(o.putObject("top_op_types_ms"), micros);
    putLargest(o.putObject("top_ops_ms"), nodes);
    return o;
  }

  private static void putLargest(ObjectNode into, java.util.Map<String, Long> micros) {
    micros.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(12)
        .forEach(e -> into.put(e.getKey(), round(e.getValue() / 1000.0, 1)));
  }

  /**
   * One fully traced {@code denoise} call of an export on n noisy images at t = T/2: where one network call of a
   * sampler spends its time.
   */
  static ObjectNode profileDenoise(DiffusionSampler s, float[] x, int[] t) {
    var sig = s.bundle().function("denoise").signature();
    int size = s.metadata().imageSize();
    try (TFloat32 xt = TFloat32.tensorOf(org.tensorflow.ndarray.Shape.of(t.length, size, size, s.metadata().channels()));
        TInt32 tt = TInt32.vectorOf(t);
        TInt32 labels = s.metadata().numClasses() > 0 ? TInt32.vectorOf(noLabels(t.length)) : null) {
      xt.asRawTensor().data().asFloats().write(x);
      Session.Runner r = s.bundle().session().runner()
          .feed(sig.getInputs().get("x_t").name, xt)
          .feed(sig.getInputs().get("t").name, tt)
          .fetch(sig.getOutputs().get("eps").name)
          .setOptions(FULL_TRACE);
      if (labels != null) r.feed(sig.getInputs().get("labels").name, labels);
      try (org.tensorflow.Result res = r.runAndFetchMetadata()) {
        return opTimes(res.getMetadata().orElseThrow());
      }
    }
  }

  /** -1 for each image: a conditional model's "no label" input. */
  private static int[] noLabels(int n) {
    int[] a = new int[n];
    Arrays.fill(a, -1);
    return a;
  }

  /**
   * Sampling speed of an export with one sampler: one in-graph run of {@code num} images (after a 1-image warm-up), its
   * time per network call against a single {@code denoise} call on a batch of the same size (the loop's overhead);
   * with {@code profile}, also one traced denoise call's op times.
   *
   * @param s the export, open in the precision to measure
   * @param load the seconds it took to open ({@code load_s})
   */
  public static ObjectNode sample(Path model, DiffusionSampler s, double load, int num, SamplerSpec spec,
      boolean profile) {
    int size = s.metadata().imageSize();
    int c = s.metadata().channels();
    int calls = spec.isFullAncestral() || spec.steps() == 0 ? s.metadata().timesteps() : spec.steps();
    float[] x = new float[num * size * size * c];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    int[] t = new int[num];
    java.util.Arrays.fill(t, s.metadata().timesteps() / 2);
    s.denoise(x, t);
    s.sample(1, 0, spec);
    Timing denoise = time(5, () -> s.denoise(x, t));
    Timing loop = time(1, () -> s.sample(num, 0, spec));
    ObjectNode o = JSON.createObjectNode();
    o.put("mode", "sample");
    o.put("model", model.toString());
    o.put("sampler", spec.toString());
    o.put("precision", s.precision());
    o.put("num_images", num);
    o.put("network_calls", calls);
    o.put("load_s", round(load, 2));
    o.put("sample_s", round(loop.median(), 3));
    o.put("seconds_per_image", round(loop.median() / num, 4));
    o.put("seconds_per_1000_images", round(loop.median() / num * 1000, 1));
    o.put("loop_step_s", round(loop.median() / calls, 5));
    o.put("denoise_call_s", round(denoise.median(), 5));
    o.put("loop_overhead_ratio", round(loop.median() / calls / denoise.median(), 3));
    o.put("peak_rss_mb", peakRssKb() / 1024);
    if (profile) o.set("denoise_profile", profileDenoise(s, x, t));
    return o;
  }

  /** Times {@code steps} runs of {@code body}, each separately. */
  public static Timing time(int steps, Runnable body) {
    long before = rssKb();
    double[] t = new double[steps];
    for (int i = 0; i < steps; i++) {
      long s = System.nanoTime();
      body.run();
      t[i] = (System.nanoTime() - s) / 1e9;
    }
    double[] sorted = t.clone();
    Arrays.sort(sorted);
    double median = steps % 2 == 1 ? sorted[steps / 2] : (sorted[steps / 2 - 1] + sorted[steps / 2]) / 2;
    return new Timing(median, sorted[0], t, before, rssKb());
  }

  /** GFLOP/s of an n x n float32 MatMul (median of {@code reps} runs after one warm-up) in a session like training's. */
  /** As above, in fp32 or with oneDNN's bfloat16 mixed precision (the MatMul then runs in bfloat16). */
  public static double matmulGflops(int n, int reps, int intra, int inter, String precision) {
    try (Graph g = new Graph()) {
      Operand<TFloat32> mm = ceilingProduct(Ops.create(g), n);
      try (Session s = new Session(g, TrainingSession.sessionConfig(intra, inter, precision))) {
        s.initialize();
        s.runner().fetch(mm).run().close();
        Timing t = time(reps, () -> s.runner().fetch(mm).run().close());
        return 2.0 * n * n * n / t.median() / 1e9;
      }
    }
  }

  /**
   * The ceiling's product of two n x n variables, fetched through a one-element slice: grappler keeps the dtype of
   * an op that is fetched or run as a target, so a bare MatMul stayed float32 under bf16 mixed precision and the
   * "bf16 ceiling" was the float32 one (2026-12-02, Intel Xeon with AMX: 300 against 650 GFLOP/s).
   */
  static Operand<TFloat32> ceilingProduct(Ops tf, int n) {
    Ops init = tf.withInitScope();
    Variable<TFloat32> a = tf.variable(init.random.statelessRandomNormal(init.constant(new long[] {n, n}),
        init.constant(new long[] {1, 2})));
    Variable<TFloat32> b = tf.variable(init.random.statelessRandomNormal(init.constant(new long[] {n, n}),
        init.constant(new long[] {3, 4})));
    return tf.slice(tf.linalg.matMul(a, b), tf.constant(new int[] {0, 0}), tf.constant(new int[] {1, 1}));
  }

  /** Resident set size of this process in KiB (Linux), or -1. */
  public static long rssKb() {
    return statusField("VmRSS:");
  }

  /** Peak resident set size of this process in KiB (Linux), or -1. */
  public static long peakRssKb() {
    return statusField("VmHWM:");
  }

  private static long statusField(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(key)) return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux
    }
    return -1;
  }

  static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }
}
