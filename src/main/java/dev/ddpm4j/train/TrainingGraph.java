package dev.ddpm4j.train;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.Denoiser;
import dev.ddpm4j.diffusion.Guidance;
import dev.ddpm4j.diffusion.SamplerKind;
import dev.ddpm4j.diffusion.SamplerLoop;
import dev.ddpm4j.diffusion.DiffusionOps;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.model.Condition;
import dev.ddpm4j.model.FusedGroupNorm;
import dev.ddpm4j.model.WinogradConv;
import dev.ddpm4j.model.MapParams;
import dev.ddpm4j.model.UNet;
import dev.ddpm4j.model.RecordingParams;
import dev.ddpm4j.model.VariableParams;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * Everything one training step needs, in one graph run by one {@code Session.run}: q_sample with in-graph noise and
 * timesteps (stateless, keyed by (run seed, step)), the U-Net, the configured loss, gradients over the model weights
 * ({@link Graph#addGradients}), global-norm clipping, Adam (ApplyAdam) with linear warm-up, the EMA update and the step
 * counter. The EMA weights and counters are separate variables no gradient touches. The same graph also holds the
 * default sampler ({@link SamplerKind#DEFAULT}) over the EMA weights, for sample grids during training.
 *
 * <p>Variable names: {@code unet/<w>} (raw weights), {@code ema/<w>}, {@code adam_m/<w>}, {@code adam_v/<w>},
 * {@code global_step}.
 */
public final class TrainingGraph {
  /** Seed-stream tags so timesteps, noise and dropout never share random numbers. */
  static final long TAG_T = 0x7100L;
  static final long TAG_NOISE = 0x4E01L;
  static final long TAG_DROPOUT = 0xD400L;
  static final long TAG_LABEL = 0x1ABE1L;

  public final Graph graph;
  public final Placeholder<TFloat32> x0;
  /** Class labels of the batch (conditional models only; null otherwise). */
  public final Placeholder<TInt32> labels;
  /** The labels the network saw: each replaced by the no-label token with probability train.label_dropout. */
  public final Operand<TInt32> labelsSeen;
  /** This step's timesteps, noisy inputs and the network's output (feedable/fetchable for tests). */
  public final Operand<TInt32> t;
  public final Operand<TFloat32> xt;
  public final Operand<TFloat32> output;
  public final Operand<TFloat32> loss;
  public final Operand<TFloat32> gradNorm;
  public final Operand<TFloat32> learningRate;
  /**
   * The step counter as this step's random keys see it. Fetch it only without {@link #train}: an Identity of a ref
   * variable aliases its buffer, so in a training run it would show the value after the increment.
   */
  public final Operand<TInt64> stepRead;
  public final Op train;
  /** The step counter after this run's increment (fetch it with {@link #train}). */
  public final Operand<TInt64> stepAfter;
  private Sampler sampler;
  private final Ops ops;
  private final ExperimentConfig cfg;
  private final UNet unet;
  private final Schedule schedule;
  public final Variable<TInt64> globalStep;
  public final VariableParams<TFloat32> weights;
  /** The EMA shadow of each weight (the weights' {@code ema} slot). */
  public final Map<String, Variable<TFloat32>> ema;
  /** The clipped gradient of each weight, in weight order (what Adam receives). */
  public final List<Operand<TFloat32>> gradients = new ArrayList<>();
  /** The EMA decay used at this step: min(ema_decay, (1 + step) / (10 + step)). */
  public final Operand<TFloat32> emaDecay;

  /** How GroupNorm is computed (train.fused_group_norm): the fused op or TensorFlow's ops, and why. */
  public final String groupNorm;
  /** train.precision on this machine, and why. */
  public final TrainingPrecision precision;

  /** How the 3x3 convolutions are computed (train.conv3x3): Winograd or TensorFlow's Conv2D, and why. */
  public final String conv3x3;

  public TrainingGraph(ExperimentConfig cfg, Graph graph) {
    this.graph = graph;
    ExperimentConfig.Distributed dist = cfg.distributed();
    // distributed: everything but the replicas' forward and backward passes lives on the chief (task 0)
    Ops tf = dist.enabled() ? Ops.create(graph).withDevice(Cluster.device(0)) : Ops.create(graph);
    ExperimentConfig.Train tc = cfg.train();
    int size = cfg.data().imageSize();
    int ch = cfg.data().channels();
    long seed = cfg.run().seed();
    Schedule schedule = Schedule.of(cfg.diffusion());
    FusedGroupNorm.Choice fused = FusedGroupNorm.choose(tc, dist.enabled());
    groupNorm = fused.description();
    precision = TrainingPrecision.of(cfg);
    WinogradConv.Choice winograd = WinogradConv.choose(tc, dist.enabled(), precision.value());
    conv3x3 = winograd.description();
    UNet unet = winograd.apply(fused.apply(UNet.of(cfg).forTraining()));

    globalStep = tf.withName("global_step").variable(tf.withInitScope().constant(0L));
    stepRead = tf.withName("global_step_read").identity(globalStep);
    x0 = tf.withName("x0").placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, size, size, ch)));
    int classes = cfg.model().numClasses();
    if (classes > 0) {
      labels = tf.withName("labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      // label dropout keyed by (run seed, step): one network learns p(x | c) and p(x), and resume stays exact
      Operand<TFloat32> u = tf.random.statelessRandomUniform(tf.shape(labels), key(tf, seed ^ TAG_LABEL, stepRead),
          TFloat32.class);
      labelsSeen = tf.withName("labels_seen").select(tf.math.less(u, tf.constant((float) tc.labelDropout())),
          tf.fill(tf.shape(labels), tf.constant(classes)), labels);
    } else {
      labels = null;
      labelsSeen = null;
    }

    Operand<TInt32> batch = tf.slice(tf.shape(x0), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    t = tf.withName("t").random.statelessRandomUniformInt(batch, key(tf, seed ^ TAG_T, stepRead),
        tf.constant(0), tf.constant(schedule.timesteps));
    Operand<TFloat32> noise = tf.withName("noise").random.statelessRandomNormal(tf.shape(x0),
        key(tf, seed ^ TAG_NOISE, stepRead), TFloat32.class);
    DiffusionOps<TFloat32> diffusion = new DiffusionOps<>(tf, TFloat32.class, schedule, cfg.diffusion().variance());
    xt = diffusion.qSample(x0, t, noise);

    RecordingParams<TFloat32> spec = unet.weights();
    weights = Adam.slots(new VariableParams<>(tf, TFloat32.class, "unet", seed).withSlot("ema", true))
        .reserve(spec.shapes().size());
    ema = weights.slot("ema");
    Condition condition = classes > 0 ? Condition.labels(labelsSeen, null) : Condition.none();
    Normalizer bins = Normalizer.of(cfg.data());
    double[] binWidth = bins.scale().stream().mapToDouble(Double::doubleValue).toArray();
    List<Operand<TFloat32>> grads = new ArrayList<>();
    if (!dist.enabled()) {
      output = unet.apply(tf.withSubScope("forward"), TFloat32.class, weights, xt, t, condition,
          dropout(seed, cfg.model().dropout(), stepRead));
      loss = tf.withName("loss").identity(diffusion.loss(cfg.diffusion(), output, x0, noise, xt, t, binWidth,
          bins.lows(), bins.highs()));
      // Gradients over the raw weights only.
      List<String> names = new ArrayList<>(weights.variables().keySet());
      Output<?>[] wrt = new Output<?>[names.size()];
      for (int k = 0; k < names.size(); k++) wrt[k] = weights.reads().get(names.get(k)).asOutput();
      for (Output<?> g : graph.addGradients(loss.asOutput(), wrt)) grads.add(cast(g));
    } else {
      // data parallel: each replica's forward and backward pass on its own task, gradients averaged on the chief
      replica = new Replica(cfg, unet, spec, schedule, binWidth, bins.lows(), bins.highs());
      replica.shapes.forEach((n, shape) -> weights.get(n, shape, replica.inits.get(n)));
      int r = dist.replicas();
      int slice = tc.batchSize() / r;
      int first = dist.chiefReplica() ? 0 : 1;
      List<Operand<TFloat32>> losses = new ArrayList<>();
      List<List<Operand<TFloat32>>> perReplica = new ArrayList<>();
      for (int k = 0; k < r; k++) {
        Ops on = Ops.create(graph).withDevice(Cluster.device(first + k)).withSubScope("replica" + k);
        Map<String, Operand<?>> in = new LinkedHashMap<>();
        for (var e : weights.reads().entrySet()) in.put(e.getKey(), e.getValue());
        in.put("x0", rows(tf, x0, k * slice, slice));
        in.put("xt", rows(tf, xt, k * slice, slice));
        in.put("t", rows(tf, t, k * slice, slice));
        in.put("noise", rows(tf, noise, k * slice, slice));
        in.put("step", stepRead);
        in.put("first_row", tf.constant(k * slice));
        if (classes > 0) in.put("labels", rows(tf, labelsSeen, k * slice, slice));
        Map<String, Operand<?>> out = replica.function.call(on, in);
        losses.add(cast(out.get("loss")));
        List<Operand<TFloat32>> g = new ArrayList<>();
        for (int w = 0; w < replica.shapes.size(); w++) g.add(cast(out.get("g" + w)));
        perReplica.add(g);
      }
      output = null;
      Operand<TFloat32> inv = tf.constant(1f / r);
      loss = tf.withName("loss").math.mul(tf.math.addN(losses), inv);
      for (int w = 0; w < replica.shapes.size(); w++) {
        List<Operand<TFloat32>> parts = new ArrayList<>();
        for (List<Operand<TFloat32>> g : perReplica) parts.add(g.get(w));
        grads.add(tf.math.mul(tf.math.addN(parts), inv));
      }
    }
    List<String> names = new ArrayList<>(weights.variables().keySet());

    List<Operand<TFloat32>> squares = new ArrayList<>();
    for (Operand<TFloat32> g : grads) {
      squares.add(tf.sum(tf.math.square(tf.reshape(g, tf.constant(new long[] {-1}))), tf.constant(0)));
    }
    gradNorm = tf.withName("grad_norm").math.sqrt(tf.math.addN(squares));
    Operand<TFloat32> clipScale = tc.gradClip() > 0
        ? tf.math.div(tf.constant((float) tc.gradClip()), tf.math.maximum(gradNorm, tf.constant((float) tc.gradClip())))
        : tf.constant(1f);

    Operand<TFloat32> stepF = tf.dtypes.cast(tf.math.add(stepRead, tf.constant(1L)), TFloat32.class); // 1-based
    Operand<TFloat32> warm = tc.warmupSteps() > 0
        ? tf.math.minimum(tf.constant(1f), tf.math.div(stepF, tf.constant((float) tc.warmupSteps())))
        : tf.constant(1f);
    learningRate = tf.withName("lr").math.mul(tf.constant((float) tc.lr()), warm);
    // EMA decay warms up as (1 + step) / (10 + step), capped at ema_decay (TF's ExponentialMovingAverage num_updates).
    Operand<TFloat32> decay = tf.math.minimum(tf.constant((float) tc.emaDecay()),
        tf.math.div(stepF, tf.math.add(stepF, tf.constant(9f))));
    emaDecay = decay;
    Operand<TFloat32> oneMinusDecay = tf.math.sub(tf.constant(1f), decay);

    for (Operand<TFloat32> g : grads) gradients.add(tf.math.mul(g, clipScale));
    List<Operand<TFloat32>> updated = Adam.apply(tf, weights, gradients, learningRate, stepF);
    List<Op> updates = new ArrayList<>();
    for (int k = 0; k < names.size(); k++) {
      Variable<TFloat32> e = ema.get(names.get(k));
      Operand<TFloat32> delta = tf.math.mul(tf.math.sub(e, updated.get(k)), oneMinusDecay);
      updates.add(tf.assignSub(e, delta));
    }
    var increment = tf.withControlDependencies(updates).withName("train").assignAdd(globalStep, tf.constant(1L));
    train = increment;
    stepAfter = increment;

    this.ops = tf;
    this.cfg = cfg;
    this.unet = unet;
    this.schedule = schedule;
  }

  /** The grid sampler's inputs and output. */
  public record Sampler(Placeholder<TInt64> seed, Placeholder<TInt32> count, Operand<TFloat32> samples) {}

  /**
   * The default sampler ({@link SamplerKind#DEFAULT}) over the EMA weights, for sample grids, added to the graph the
   * first time it is asked for (TensorFlow sessions extend to ops added later): runs that never draw a grid do not
   * build its loop.
   */
  public synchronized Sampler sampler() {
    if (sampler != null) return sampler;
    Ops tf = ops;
    int size = cfg.data().imageSize();
    int ch = cfg.data().channels();
    int classes = cfg.model().numClasses();
    Placeholder<TInt64> sampleSeed = tf.withName("sample_seed").placeholder(TInt64.class,
        Placeholder.shape(Shape.scalar()));
    Placeholder<TInt32> sampleCount = tf.withName("sample_count").placeholder(TInt32.class,
        Placeholder.shape(Shape.scalar()));
    LinkedHashMap<String, Operand<TFloat32>> emaReads = new LinkedHashMap<>();
    for (var en : ema.entrySet()) emaReads.put(en.getKey(), tf.identity(en.getValue()));
    Normalizer norm = Normalizer.of(cfg.data());
    // grids during training use the default fast sampler: seconds instead of minutes per grid
    SamplerKind kind = SamplerKind.DEFAULT;
    SamplerLoop loop = new SamplerLoop(kind.solver(schedule, cfg.diffusion().variance()),
        denoiser(cfg, unet, schedule), norm.lows(), norm.highs(), size, size, ch);
    Operand<TInt32> gridSteps = tf.constant(kind.defaultSpacing().timesteps(schedule,
        Math.min(SamplerKind.DEFAULT_STEPS, schedule.timesteps)));
    // a conditional model's grid cycles through the classes (image i has label i mod num_classes), unguided
    Map<String, Operand<?>> gridCondition = classes > 0 ? Condition.labels(tf.math.mod(tf.range(tf.constant(0),
        sampleCount, tf.constant(1)), tf.constant(classes)), null).tensors() : Map.of();
    Operand<TFloat32> samples = tf.withName("samples").identity(loop.sample(tf.withSubScope("sampler"), "grid_loop",
        new SamplerLoop.Inputs(sampleSeed, tf.constant(0L), sampleCount, gridSteps, null, gridCondition), emaReads));
    sampler = new Sampler(sampleSeed, sampleCount, samples);
    return sampler;
  }

  /**
   * The U-Net as the samplers call it inside their loops: weights from the loop variables, no dropout, output of any
   * parameterization turned into x_0, classifier-free guidance for a conditional model. The export graph uses the
   * same one.
   */
  public static Denoiser denoiser(ExperimentConfig cfg, UNet unet, Schedule schedule) {
    String prediction = cfg.diffusion().prediction();
    String variance = cfg.diffusion().variance();
    Guidance.Network net = (o, w, x, t, condition) -> {
      DiffusionOps<TFloat32> d = new DiffusionOps<>(o, TFloat32.class, schedule, variance);
      DiffusionOps.Split<TFloat32> out = d.split(unet.apply(o, TFloat32.class, new MapParams<>(w), x, t,
          Condition.of(condition), null));
      return new Denoiser.Prediction(d.predictedX0(prediction, out.mean(), x, t), out.varianceFraction());
    };
    if (cfg.model().conditional()) return Guidance.classifierFree(net, cfg.model().numClasses());
    return net::predict;
  }

  /** Dropout with masks keyed by (run seed, layer, step): the same at the same step, so a resumed run repeats them. */
  static UNet.Dropout dropout(long seed, double rate, Operand<TInt64> step) {
    return dropout(seed, rate, step, null, 0);
  }

  /**
   * Dropout of one replica's rows of the global batch: the mask of the whole batch [batch, H, W, C] is drawn (keyed by
   * run seed, layer and step, as in one process) and rows [firstRow, firstRow + rows) are kept, so row i of the global
   * batch gets the same mask on whichever replica computes it, and R replicas train exactly as one process does.
   *
   * @param firstRow the replica's first row (int32 scalar), or null in one process (the mask has x's shape)
   * @param batch the global batch size when firstRow is set
   */
  static UNet.Dropout dropout(long seed, double rate, Operand<TInt64> step, Operand<TInt32> firstRow, int batch) {
    return new UNet.Dropout() {
      @Override
      public <T extends TFloating> Operand<T> apply(Ops o, Operand<T> x, int layer) {
        Operand<TInt64> k = key(o, seed ^ (TAG_DROPOUT + layer), step);
        Operand<TFloat32> u;
        if (firstRow == null) {
          u = o.random.statelessRandomUniform(o.shape(x), k, TFloat32.class);
        } else {
          Operand<TInt32> shape = o.shape(x);
          Operand<TInt32> rest = o.slice(shape, o.constant(new int[] {1}), o.constant(new int[] {-1}));
          Operand<TInt32> full = o.concat(List.of(o.constant(new int[] {batch}), rest), o.constant(0));
          Operand<TFloat32> all = o.random.statelessRandomUniform(full, k, TFloat32.class);
          Operand<TInt32> zeros = o.zerosLike(rest);
          Operand<TInt32> begin = o.concat(List.of(o.reshape(firstRow, o.constant(new int[] {1})), zeros),
              o.constant(0));
          Operand<TInt32> size = o.concat(List.of(o.slice(shape, o.constant(new int[] {0}), o.constant(new int[] {1})),
              o.fill(o.shape(rest), o.constant(-1))), o.constant(0));
          u = o.slice(all, begin, size);
        }
        Operand<TBool> keep = o.math.greaterEqual(u, o.constant((float) rate));
        // x times a mask of 1/(1-rate) or 0 (a select of two scalars): one pass over x forward and one backward (dy
        // times the mask), where select(keep, x / (1-rate), zerosLike(x)) cost four forward and three backward.
        Class<T> type = x.type();
        Operand<T> mask = o.select(keep, o.dtypes.cast(o.constant(1.0 / (1.0 - rate)), type),
            o.dtypes.cast(o.constant(0.0), type));
        return o.math.mul(x, mask);
      }

      // in one process the fused GroupNorm op may draw the mask from the same key (its own masks, not these)
      @Override
      public UNet.KeyedDropout keyed(Ops o, int layer) {
        return firstRow == null ? new UNet.KeyedDropout(rate, key(o, seed ^ (TAG_DROPOUT + layer), step)) : null;
      }
    };
  }

  /** Rows [from, from + count) of a batch-first tensor. */
  static <T extends org.tensorflow.types.family.TType> Operand<T> rows(Ops tf, Operand<T> a, int from, int count) {
    int rank = (int) a.shape().numDimensions();
    int[] begin = new int[rank];
    int[] size = new int[rank];
    java.util.Arrays.fill(size, -1);
    begin[0] = from;
    size[0] = count;
    return tf.slice(a, tf.constant(begin), tf.constant(size));
  }

  /**
   * One replica's forward and backward pass as a function (weights, its slice of x_0, x_t, t, noise and labels, the
   * step) -> (mean loss of the slice, one gradient per weight). Called once per replica with the replica's device, so
   * the whole pass runs on that task; the chief sends the weights and receives the gradients.
   */
  static final class Replica {
    final ConcreteFunction function;
    final Map<String, long[]> shapes;
    final Map<String, dev.ddpm4j.model.Init> inits;
    private final Graph graph;

    Replica(ExperimentConfig cfg, UNet unet, RecordingParams<TFloat32> spec, Schedule schedule, double[] binWidth,
        double[] lows, double[] highs) {
      shapes = new LinkedHashMap<>(spec.shapes());
      inits = new LinkedHashMap<>(spec.inits());
      graph = new Graph();
      Ops r = Ops.create(graph);
      int s = cfg.data().imageSize();
      int c = cfg.data().channels();
      Shape image = Shape.of(-1, s, s, c);
      Signature.Builder sig = Signature.builder();
      Map<String, Operand<TFloat32>> w = new LinkedHashMap<>();
      List<String> names = new ArrayList<>(shapes.keySet());
      for (String n : names) {
        Placeholder<TFloat32> ph = r.placeholder(TFloat32.class, Placeholder.shape(Shape.of(shapes.get(n))));
        sig.input(n, ph);
        w.put(n, r.identity(ph));
      }
      Placeholder<TFloat32> x0 = r.placeholder(TFloat32.class, Placeholder.shape(image));
      Placeholder<TFloat32> xt = r.placeholder(TFloat32.class, Placeholder.shape(image));
      Placeholder<TInt32> t = r.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      Placeholder<TFloat32> noise = r.placeholder(TFloat32.class, Placeholder.shape(image));
      Placeholder<TInt64> step = r.placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
      Placeholder<TInt32> firstRow = r.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      sig.input("x0", x0).input("xt", xt).input("t", t).input("noise", noise).input("step", step)
          .input("first_row", firstRow);
      Condition cond = Condition.none();
      if (cfg.model().conditional()) {
        Placeholder<TInt32> labels = r.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
        sig.input("labels", labels);
        cond = Condition.labels(labels, null);
      }
      Operand<TFloat32> out = unet.apply(r, TFloat32.class, new MapParams<>(w), xt, t, cond,
          dropout(cfg.run().seed(), cfg.model().dropout(), step, firstRow, cfg.train().batchSize()));
      DiffusionOps<TFloat32> d = new DiffusionOps<>(r, TFloat32.class, schedule, cfg.diffusion().variance());
      Operand<TFloat32> loss = d.loss(cfg.diffusion(), out, x0, noise, xt, t, binWidth, lows, highs);
      Output<?>[] wrt = new Output<?>[names.size()];
      for (int k = 0; k < names.size(); k++) wrt[k] = w.get(names.get(k)).asOutput();
      Output<?>[] g = graph.addGradients(loss.asOutput(), wrt);
      sig.output("loss", loss);
      for (int k = 0; k < g.length; k++) sig.output("g" + k, r.identity(cast(g[k])));
      function = ConcreteFunction.create(sig.build(), graph);
    }

    void close() {
      function.close();
      graph.close();
    }
  }

  /** The replicas' function (distributed training only; null otherwise). */
  Replica replica;

  /** Releases the replicas' function. */
  void close() {
    if (replica != null) replica.close();
  }

  /** A stateless-random key [stream, step]. */
  static Operand<TInt64> key(Ops tf, long stream, Operand<TInt64> step) {
    return tf.concat(List.of(tf.constant(new long[] {stream}), tf.reshape(step, tf.constant(new int[] {1}))),
        tf.constant(0));
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> cast(Output<?> o) {
    return (Operand<TFloat32>) o;
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> cast(Operand<?> o) {
    return (Operand<TFloat32>) o;
  }
}
