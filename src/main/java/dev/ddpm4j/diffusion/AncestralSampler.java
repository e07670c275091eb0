package dev.ddpm4j.diffusion;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.op.Operands;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The DDPM ancestral sampler as ONE graph op: a while loop from x_T ~ N(0, I) down to x_0. Each step predicts the
 * noise, forms x_0 (clipped to the data range), takes the posterior mean coef1 x_0 + coef2 x_t and adds sigma_t z,
 * with sigma_t^2 = beta_t or beta~_t and no noise at the last step. Noise comes from stateless random ops keyed by
 * (seed, step), so the same seed gives the same images bit for bit. Loop bodies cannot read variables: the network's
 * weights travel through the loop as loop variables.
 */
public final class AncestralSampler {
  /** Predicts eps from x_t [N,H,W,C] and timesteps t [N] with the given weights (inside the loop body). */
  public interface Denoiser {
    Operand<TFloat32> eps(Ops tf, Map<String, Operand<TFloat32>> weights, Operand<TFloat32> x, Operand<TInt32> t);
  }

  static final boolean LOWER_WHILE = !"false".equals(System.getProperty("ddpm4j.lowerWhile"));

  private final Schedule schedule;
  private final double[] sigma;
  private final double[] low;
  private final double[] high;

  /**
   * @param variance {@code beta} or {@code beta_tilde}
   * @param low per-channel lower end of the data range in model space (x_0 is clipped to it)
   * @param high per-channel upper end
   */
  public AncestralSampler(Schedule schedule, String variance, double[] low, double[] high) {
    this.schedule = schedule;
    double[] v = schedule.samplerVariance(variance);
    this.sigma = new double[v.length];
    for (int i = 1; i < v.length; i++) sigma[i] = Math.sqrt(v[i]);
    this.low = low.clone();
    this.high = high.clone();
  }

  /** Per-step noise scale sigma_t (0 at the last step, index 0). */
  public double[] sigma() {
    return sigma.clone();
  }

  /**
   * Adds the loop to {@code tf}'s graph and returns x_0 [N,H,W,C].
   *
   * @param weights the network's weights in a fixed order (variable reads or placeholders)
   */
  public Operand<TFloat32> sample(Ops tf, Denoiser denoiser, LinkedHashMap<String, Operand<TFloat32>> weights,
      Operand<TInt64> seed, Operand<TInt32> numImages, int height, int width, int channels) {
    int t = schedule.timesteps;
    Operand<TInt32> shape = tf.concat(List.of(tf.reshape(numImages, tf.constant(new int[] {1})),
        tf.constant(new int[] {height, width, channels})), tf.constant(0));
    Operand<TFloat32> xT = tf.random.statelessRandomNormal(shape, seedPair(tf, seed, tf.constant(t)), TFloat32.class);
    List<Operand<?>> init = new ArrayList<>();
    init.add(tf.constant(t - 1));
    init.add(xT);
    init.add(seed);
    init.addAll(weights.values());
    List<String> names = new ArrayList<>(weights.keySet());
    List<long[]> shapes = new ArrayList<>();
    for (Operand<TFloat32> w : weights.values()) shapes.add(w.shape().asArray());
    Shape imageShape = Shape.of(-1, height, width, channels);

    ConcreteFunction condFn = ConcreteFunction.create(ops -> {
      Loop l = new Loop(ops, imageShape, shapes);
      return l.builder.output("keep_going", ops.math.greaterEqual(l.i, ops.constant(0))).build();
    });
    ConcreteFunction bodyFn = ConcreteFunction.create(ops -> {
      Loop l = new Loop(ops, imageShape, shapes);
      Map<String, Operand<TFloat32>> w = new LinkedHashMap<>();
      for (int k = 0; k < names.size(); k++) w.put(names.get(k), l.weights.get(k));
      Operand<TFloat32> next = step(ops, denoiser, w, l.x, l.i, l.seed);
      Signature.Builder out = l.builder;
      out.output("o_i", ops.math.sub(l.i, ops.constant(1)));
      out.output("o_x", next);
      out.output("o_seed", ops.identity(l.seed));
      for (int k = 0; k < l.weights.size(); k++) out.output("o_w" + k, ops.identity(l.weights.get(k)));
      return out.build();
    });
    // The op is built by hand to set _lower_using_switch_merge, as TF Python does for its while loops: TF then
    // lowers the loop to Switch/Merge dataflow in the main graph, where the body gets the graph optimizations
    // (constant folding, fused kernels) and no per-iteration function call. -Dddpm4j.lowerWhile=false keeps the
    // functional loop (for comparison in benchmarks).
    OperationBuilder b = tf.scope().opBuilder("StatelessWhile", "ancestral_loop");
    b.addInputList(Operands.asOutputs(init));
    b.setAttr("cond", condFn);
    b.setAttr("body", bodyFn);
    b.setAttr("parallel_iterations", 10L);
    b.setAttr("_lower_using_switch_merge", LOWER_WHILE);
    Operation loop = b.build();
    @SuppressWarnings("unchecked")
    Operand<TFloat32> x0 = (Operand<TFloat32>) (Operand<?>) loop.output(1);
    return x0;
  }

  /** The placeholders of one loop function, in loop-variable order. */
  private static final class Loop {
    final Signature.Builder builder = Signature.builder();
    final Operand<TInt32> i;
    final Operand<TFloat32> x;
    final Operand<TInt64> seed;
    final List<Operand<TFloat32>> weights = new ArrayList<>();

    Loop(Ops ops, Shape imageShape, List<long[]> shapes) {
      i = ops.placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
      x = ops.placeholder(TFloat32.class, Placeholder.shape(imageShape));
      seed = ops.placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
      builder.input("i", i).input("x", x).input("seed", seed);
      for (int k = 0; k < shapes.size(); k++) {
        Operand<TFloat32> w = ops.placeholder(TFloat32.class, Placeholder.shape(Shape.of(shapes.get(k))));
        weights.add(w);
        builder.input("w" + k, w);
      }
    }
  }

  /** One reverse step at 0-based index i (the paper's t = i + 1). */
  Operand<TFloat32> step(Ops tf, Denoiser denoiser, Map<String, Operand<TFloat32>> w, Operand<TFloat32> x,
      Operand<TInt32> i, Operand<TInt64> seed) {
    Operand<TInt32> n = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> t = tf.fill(n, i);
    Operand<TFloat32> eps = denoiser.eps(tf, w, x, t);
    Operand<TFloat32> x0 = tf.math.sub(tf.math.mul(at(tf, schedule.sqrtRecipAlphaBar, i), x),
        tf.math.mul(at(tf, schedule.sqrtRecipM1AlphaBar, i), eps));
    x0 = tf.math.minimum(tf.math.maximum(x0, tf.constant(toFloat(low))), tf.constant(toFloat(high)));
    Operand<TFloat32> mean = tf.math.add(tf.math.mul(at(tf, schedule.posteriorMeanCoef1, i), x0),
        tf.math.mul(at(tf, schedule.posteriorMeanCoef2, i), x));
    Operand<TFloat32> z = tf.random.statelessRandomNormal(tf.shape(x), seedPair(tf, seed, i), TFloat32.class);
    return tf.math.add(mean, tf.math.mul(at(tf, sigma, i), z));
  }

  private static Operand<TFloat32> at(Ops tf, double[] table, Operand<TInt32> i) {
    return tf.gather(tf.constant(toFloat(table)), i, tf.constant(0));
  }

  private static Operand<TInt64> seedPair(Ops tf, Operand<TInt64> seed, Operand<TInt32> i) {
    return tf.concat(List.of(tf.reshape(seed, tf.constant(new int[] {1})),
        tf.reshape(tf.dtypes.cast(i, TInt64.class), tf.constant(new int[] {1}))), tf.constant(0));
  }

  static float[] toFloat(double[] d) {
    float[] f = new float[d.length];
    for (int k = 0; k < d.length; k++) f[k] = (float) d[k];
    return f;
  }
}
