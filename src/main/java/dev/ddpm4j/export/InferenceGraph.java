package dev.ddpm4j.export;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.Denoiser;
import dev.ddpm4j.diffusion.SamplerKind;
import dev.ddpm4j.diffusion.SamplerLoop;
import dev.ddpm4j.diffusion.Spacing;
import dev.ddpm4j.diffusion.DiffusionOps;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.model.Condition;
import dev.ddpm4j.model.UNet;
import dev.ddpm4j.model.VariableParams;
import dev.ddpm4j.train.TrainingGraph;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * The graph a SavedModel is exported from: only the U-Net's weights (named like the training checkpoint's
 * {@code ema/*} or {@code unet/*} variables, so {@code Session.restore} fills them), no gradients or optimizer state,
 * and the public signatures {@code sample}, {@code denoise} and {@code q_sample}.
 */
public final class InferenceGraph {
  public static final String SAMPLE = "sample";
  public static final String DENOISE = "denoise";
  public static final String Q_SAMPLE = "q_sample";

  /** The full ancestral sampler over all T steps (null where {@link Samplers#full} is off). */
  public final Signature sample;
  public final Signature denoise;
  public final Signature qSample;
  /** {@link #sample} under TensorFlow Serving's default key (null where {@link Samplers#full} is off). */
  public final Signature servingDefault;
  /** One signature per sampler kind asked for: {@code sample_<key>}. */
  public final Map<SamplerKind, Signature> samplers = new EnumMap<>(SamplerKind.class);

  /**
   * Which sampling loops to build: {@code full} the {@code sample} (and {@code serving_default}) signature, {@code
   * kinds} a {@code sample_<key>} signature each. Each loop holds its own copy of the network, so a graph that needs one
   * sampler builds and loads in a fraction of the time; an export gets {@link #ALL}.
   */
  public record Samplers(boolean full, Set<SamplerKind> kinds) {
    public static final Samplers ALL = new Samplers(true, EnumSet.allOf(SamplerKind.class));

    public Samplers {
      kinds = kinds.isEmpty() ? EnumSet.noneOf(SamplerKind.class) : EnumSet.copyOf(kinds);
    }

    /** The full ancestral loop alone ({@code sample} and {@code serving_default}). */
    public static final Samplers FULL_ANCESTRAL = new Samplers(true, Set.of());

    /** One sampler's {@code sample_<key>} loop alone. */
    public static Samplers only(SamplerKind kind) {
      return new Samplers(false, Set.of(kind));
    }

    /** What a sampler choice calls: the full ancestral loop for ancestral with all T steps, else its kind's. */
    public static Samplers of(dev.ddpm4j.sampler.SamplerSpec spec) {
      return spec.isFullAncestral() ? FULL_ANCESTRAL : only(SamplerKind.parse(spec.sampler()));
    }
  }

  /** @param weights {@code ema} or {@code raw}: which training variables the export's weights are restored from */
  public InferenceGraph(ExperimentConfig cfg, Graph graph, String weights) {
    this(cfg, graph, weights, UnaryOperator.identity(), Samplers.ALL);
  }

  /**
   * @param net how the network computes its layers (the identity for an export; {@link FastSampling} asks for ddpm4j's
   *     Winograd convolutions and fused GroupNorm, for a graph that stays in this process)
   * @param which the sampling signatures to build ({@link Samplers#ALL} for an export)
   */
  public InferenceGraph(ExperimentConfig cfg, Graph graph, String weights, UnaryOperator<UNet> net, Samplers which) {
    Ops tf = Ops.create(graph);
    int size = cfg.data().imageSize();
    int ch = cfg.data().channels();
    Shape image = Shape.of(-1, size, size, ch);
    Schedule schedule = Schedule.of(cfg.diffusion());
    UNet unet = net.apply(UNet.of(cfg));
    Normalizer norm = Normalizer.of(cfg.data());
    VariableParams<TFloat32> params = new VariableParams<>(tf, TFloat32.class, weights.equals("ema") ? "ema" : "unet", 0)
        .reserve(unet.weights().shapes().size());
    DiffusionOps<TFloat32> diffusion = new DiffusionOps<>(tf, TFloat32.class, schedule, cfg.diffusion().variance());

    // denoise: eps and the implied x0 at (x_t, t).
    Placeholder<TFloat32> xt = tf.withName("denoise_x_t").placeholder(TFloat32.class, Placeholder.shape(image));
    Placeholder<TInt32> t = tf.withName("denoise_t").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    Operand<TInt32> tChecked = checkedTimesteps(tf, t, xt, schedule.timesteps);
    String prediction = cfg.diffusion().prediction();
    int classes = cfg.model().numClasses();
    Placeholder<TInt32> dLabels = classes > 0
        ? tf.withName("denoise_labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1))) : null;
    Condition dCondition = classes > 0
        ? Condition.labels(noLabelToken(tf, checkedLabels(tf, dLabels, tf.size(t, TInt32.class), classes), classes),
            null)
        : Condition.none();
    DiffusionOps.Split<TFloat32> out = diffusion.split(unet.apply(tf, TFloat32.class, params, xt, tChecked, dCondition,
        null));
    Operand<TFloat32> eps = tf.withName("denoise_eps").identity(diffusion.predictedEps(prediction, out.mean(), xt,
        tChecked));
    Operand<TFloat32> x0 = tf.withName("denoise_x0").identity(diffusion.predictedX0(prediction, out.mean(), xt,
        tChecked));
    Signature.Builder dSig = Signature.builder(DENOISE).input("x_t", xt).input("t", t);
    if (dLabels != null) dSig.input("labels", dLabels);
    dSig.output("eps", eps).output("x0", x0);
    if (out.varianceFraction() != null) {
      dSig.output("log_variance", tf.withName("denoise_log_variance").identity(
          diffusion.learnedLogVariance(out.varianceFraction(), tChecked)));
    }
    denoise = dSig.build();

    // q_sample: noise real images.
    Placeholder<TFloat32> qx0 = tf.withName("q_x0").placeholder(TFloat32.class, Placeholder.shape(image));
    Placeholder<TInt32> qt = tf.withName("q_t").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    Placeholder<TFloat32> qn = tf.withName("q_noise").placeholder(TFloat32.class, Placeholder.shape(image));
    Operand<TFloat32> qxt = tf.withName("q_x_t").identity(diffusion.qSample(qx0, checkedTimesteps(tf, qt, qx0,
        schedule.timesteps), qn));
    qSample = Signature.builder(Q_SAMPLE).input("x0", qx0).input("t", qt).input("noise", qn).output("x_t", qxt).build();

    LinkedHashMap<String, Operand<TFloat32>> reads = new LinkedHashMap<>(params.reads());
    // a Winograd network's filter transforms, once per sampling run instead of once per network call
    reads.putAll(unet.winogradFilters(tf, params.reads()));
    Denoiser denoiser = TrainingGraph.denoiser(cfg, unet, schedule);
    Graphs g = new Graphs(tf, cfg, schedule, denoiser, reads, norm);

    if (which.full()) {
      // sample (= serving_default): the whole DDPM reverse process over all T steps in one while loop.
      Placeholder<TInt64> seed = g.seed("sample");
      Placeholder<TInt32> num = g.numImages("sample");
      Placeholder<TInt64> first = g.firstIndex("sample");
      Operand<TInt32> all = tf.constant(Spacing.LEADING.timesteps(schedule, schedule.timesteps));
      Conditioning sc = g.conditioning("sample", num);
      Outputs full = g.loop("sample", SamplerKind.ANCESTRAL, seed, first, g.checkedCount(num), all, null, sc.tensors);
      sample = sc.inputs(Signature.builder(SAMPLE).input("seed", seed).input("num_images", num)
          .input("first_index", first)).output("images", full.images).output("samples", full.samples).build();
      servingDefault = sc.inputs(Signature.builder(Signature.DEFAULT_KEY).input("seed", seed).input("num_images", num)
          .input("first_index", first)).output("images", full.images).output("samples", full.samples).build();
    } else {
      sample = null;
      servingDefault = null;
    }

    // sample_<sampler>: K of the T steps with a spacing, one signature per sampler kind.
    for (SamplerKind kind : which.kinds()) {
      String p = kind.key();
      Placeholder<TInt64> s = g.seed(p);
      Placeholder<TInt32> n = g.numImages(p);
      Placeholder<TInt64> f = g.firstIndex(p);
      Placeholder<TInt32> k = tf.withName(p + "_num_steps").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TString> spacing = tf.withName(p + "_spacing").placeholder(TString.class,
          Placeholder.shape(Shape.scalar()));
      Placeholder<TFloat32> eta = kind.takesEta()
          ? tf.withName(p + "_eta").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar())) : null;
      List<Op> checks = new ArrayList<>();
      checks.add(tf.assertThat(tf.math.logicalAnd(tf.math.greaterEqual(k, tf.constant(1)),
          tf.math.lessEqual(k, tf.constant(schedule.timesteps))),
          List.of(tf.constant("num_steps must be in [1, " + schedule.timesteps + "], got"), k)));
      if (eta != null) {
        checks.add(tf.assertThat(tf.math.logicalAnd(tf.math.greaterEqual(eta, tf.constant(0f)),
            tf.math.lessEqual(eta, tf.constant(1f))), List.of(tf.constant("eta must be in [0, 1], got"), eta)));
      }
      Operand<TInt32> checkedK = tf.withControlDependencies(checks).identity(k);
      Operand<TInt32> ts = g.timesteps(kind, spacing, checkedK);
      Conditioning c = g.conditioning(p, n);
      Outputs o = g.loop(p, kind, s, f, g.checkedCount(n), ts,
          eta == null ? null : tf.withControlDependencies(checks).identity(eta), c.tensors);
      Signature.Builder sig = Signature.builder(kind.signature()).input("seed", s).input("num_images", n)
          .input("first_index", f).input("num_steps", k).input("spacing", spacing);
      if (eta != null) sig.input("eta", eta);
      c.inputs(sig);
      samplers.put(kind, sig.output("images", o.images).output("samples", o.samples).build());
    }
  }

  /** Samples and their pixels. */
  private record Outputs(Operand<TFloat32> samples, Operand<TUint8> images) {}

  /** A conditional model's extra inputs of one sampling signature (none for an unconditional model). */
  private record Conditioning(Placeholder<TInt32> labels, Placeholder<TFloat32> guidance,
      Map<String, Operand<?>> tensors) {
    Signature.Builder inputs(Signature.Builder b) {
      if (labels != null) b.input("labels", labels).input("guidance_scale", guidance);
      return b;
    }
  }

  /** Fails the run unless labels has {@code count} entries, each in [-1, classes] (-1 and classes: no label). */
  static Operand<TInt32> checkedLabels(Ops tf, Operand<TInt32> labels, Operand<TInt32> count, int classes) {
    var inRange = tf.math.logicalAnd(
        tf.reduceAll(tf.math.greaterEqual(labels, tf.constant(-1)), tf.constant(0)),
        tf.reduceAll(tf.math.lessEqual(labels, tf.constant(classes)), tf.constant(0)));
    var ok = tf.assertThat(inRange, List.of(tf.constant("labels must be in [-1, " + classes + "] (-1 and " + classes
        + " = no label), got"), labels));
    var sameCount = tf.assertThat(tf.math.equal(tf.size(labels, TInt32.class), count),
        List.of(tf.constant("labels must have one entry per image: got, expected"), tf.size(labels, TInt32.class),
            count));
    return tf.withControlDependencies(List.of(ok, sameCount)).identity(labels);
  }

  /** -1 becomes the no-label index. */
  static Operand<TInt32> noLabelToken(Ops tf, Operand<TInt32> labels, int classes) {
    return tf.select(tf.math.less(labels, tf.constant(0)), tf.fill(tf.shape(labels), tf.constant(classes)), labels);
  }

  /** Builders shared by the sampling signatures. */
  private static final class Graphs {
    final Ops tf;
    final ExperimentConfig cfg;
    final Schedule schedule;
    final Denoiser denoiser;
    final LinkedHashMap<String, Operand<TFloat32>> weights;
    final Normalizer norm;

    Graphs(Ops tf, ExperimentConfig cfg, Schedule schedule, Denoiser denoiser,
        LinkedHashMap<String, Operand<TFloat32>> weights, Normalizer norm) {
      this.tf = tf;
      this.cfg = cfg;
      this.schedule = schedule;
      this.denoiser = denoiser;
      this.weights = weights;
      this.norm = norm;
    }

    Placeholder<TInt64> seed(String p) {
      return tf.withName(p + "_seed").placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
    }

    Placeholder<TInt32> numImages(String p) {
      return tf.withName(p + "_num_images").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    }

    Placeholder<TInt64> firstIndex(String p) {
      return tf.withName(p + "_first_index").placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
    }

    Operand<TInt32> checkedCount(Operand<TInt32> num) {
      var ok = tf.assertThat(tf.math.greater(num, tf.constant(0)),
          List.of(tf.constant("num_images must be >= 1, got"), num));
      return tf.withControlDependencies(List.of(ok)).identity(num);
    }

    /** The timestep list of the spacing named by a string input; an unknown or unsupported name fails the run. */
    Operand<TInt32> timesteps(SamplerKind kind, Operand<TString> spacing, Operand<TInt32> k) {
      Operand<TInt32> ts = null;
      Operand<TBool> known = tf.constant(false);
      for (Spacing sp : kind.spacings()) {
        Operand<TBool> is = tf.math.equal(spacing, tf.constant(sp.key()));
        Operand<TInt32> list = sp.timesteps(tf.withSubScope(kind.key() + "_" + sp.key()), schedule, k);
        ts = ts == null ? list : tf.select(is, list, ts);
        known = tf.math.logicalOr(known, is);
      }
      var ok = tf.assertThat(known, List.of(tf.constant(kind.key() + ": spacing must be one of ["
          + Spacing.keys(kind.spacings()) + "], got"), spacing));
      return tf.withControlDependencies(List.of(ok)).identity(ts);
    }

    Conditioning conditioning(String p, Operand<TInt32> numImages) {
      int classes = cfg.model().numClasses();
      if (classes == 0) return new Conditioning(null, null, Map.of());
      Placeholder<TInt32> labels = tf.withName(p + "_labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      Placeholder<TFloat32> guidance = tf.withName(p + "_guidance_scale").placeholder(TFloat32.class,
          Placeholder.shape(Shape.scalar()));
      var finite = tf.assertThat(tf.math.isFinite(guidance),
          List.of(tf.constant("guidance_scale must be finite, got"), guidance));
      Operand<TFloat32> g = tf.withControlDependencies(List.of(finite)).identity(guidance);
      Operand<TInt32> l = checkedLabels(tf, labels, numImages, classes);
      return new Conditioning(labels, guidance, Condition.labels(l, g).tensors());
    }

    Outputs loop(String p, SamplerKind kind, Operand<TInt64> seed, Operand<TInt64> first, Operand<TInt32> n,
        Operand<TInt32> ts, Operand<TFloat32> eta, Map<String, Operand<?>> condition) {
      int size = cfg.data().imageSize();
      int ch = cfg.data().channels();
      SamplerLoop loop = new SamplerLoop(kind.solver(schedule, cfg.diffusion().variance()), denoiser, norm.lows(),
          norm.highs(), size, size, ch);
      // TensorFlow runs a batch of one image through other kernels, which moved a lone image's bytes
      // (docs/BENCHMARKS.md, "bf16 sampling"): it is drawn beside the next one of its sequence (no label), which is
      // dropped, so every client gets a lone image's bytes from the batch path
      Operand<TInt32> drawn = tf.math.maximum(n, tf.constant(2));
      Map<String, Operand<?>> cond = new LinkedHashMap<>(condition);
      if (cond.containsKey(Condition.LABELS)) {
        @SuppressWarnings("unchecked")
        Operand<TInt32> labels = (Operand<TInt32>) cond.get(Condition.LABELS);
        Operand<TInt32> extra = tf.fill(tf.reshape(tf.math.sub(drawn, n), tf.constant(new int[] {1})), tf.constant(-1));
        cond.put(Condition.LABELS, tf.concat(List.of(labels, extra), tf.constant(0)));
      }
      Operand<TFloat32> all = loop.sample(tf.withSubScope(p), p + "_loop",
          new SamplerLoop.Inputs(seed, first, drawn, ts, eta, cond), weights);
      Operand<TInt32> count = tf.stack(List.of(n, tf.constant(size), tf.constant(size), tf.constant(ch)));
      Operand<TFloat32> samples = tf.withName(p + "_samples").slice(all, tf.constant(new int[4]), count);
      Operand<TUint8> images = tf.withName(p + "_images").dtypes.cast(toPixels(tf, samples, norm), TUint8.class);
      return new Outputs(samples, images);
    }
  }

  /** Pixels: the exact inverse of the training normalization, rounded and clipped to [0, 255]. */
  static Operand<TFloat32> toPixels(Ops tf, Operand<TFloat32> x, Normalizer norm) {
    float[] scale = new float[norm.channels()];
    float[] shift = new float[norm.channels()];
    for (int c = 0; c < scale.length; c++) {
      scale[c] = (float) (double) norm.scale().get(c);
      shift[c] = (float) (double) norm.shift().get(c);
    }
    Operand<TFloat32> px = tf.math.round(tf.math.div(tf.math.sub(x, tf.constant(shift)), tf.constant(scale)));
    return tf.math.minimum(tf.math.maximum(px, tf.constant(0f)), tf.constant(255f));
  }

  /** Fails the run with a clear message when a timestep is outside [0, T) or t and x disagree in batch size. */
  private static Operand<TInt32> checkedTimesteps(Ops tf, Operand<TInt32> t, Operand<TFloat32> x, int timesteps) {
    var inRange = tf.math.logicalAnd(
        tf.reduceAll(tf.math.greaterEqual(t, tf.constant(0)), tf.constant(0)),
        tf.reduceAll(tf.math.less(t, tf.constant(timesteps)), tf.constant(0)));
    var ok = tf.assertThat(inRange, List.of(tf.constant("t must be in [0, " + timesteps + "), got"), t));
    Operand<TInt32> n = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    var sameBatch = tf.assertThat(tf.reduceAll(tf.math.equal(tf.shape(t), n), tf.constant(0)),
        List.of(tf.constant("t must have one entry per image; shapes of t and x:"), tf.shape(t), tf.shape(x)));
    return tf.withControlDependencies(List.of(ok, sameBatch)).identity(t);
  }
}
