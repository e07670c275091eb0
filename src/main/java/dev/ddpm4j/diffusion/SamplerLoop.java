package dev.ddpm4j.diffusion;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.ConcreteFunction;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Operands;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * Any {@link Solver} as ONE graph op: x_T ~ N(0, I) per image ({@link Noise}), then a StatelessWhile over the K
 * timesteps ts (noisiest first). Each iteration calls the network once at (x, ts[j]), clips its x_0 to the data range,
 * and either takes the solver's step to ts[j+1] or, at the last step, returns that x_0. The loop carries the step
 * index, x, the seed and first image index (for per-image noise), ts, eta, the solver's earlier x_0 predictions, the
 * conditioning tensors and the network's weights (loop bodies cannot read variables).
 */
public final class SamplerLoop {
  static final boolean LOWER_WHILE = !"false".equals(System.getProperty("ddpm4j.lowerWhile"));

  /** What one sampling loop needs besides its solver and network. */
  public record Inputs(Operand<TInt64> seed, Operand<TInt64> firstIndex, Operand<TInt32> numImages,
      Operand<TInt32> timesteps, Operand<TFloat32> eta, Map<String, Operand<?>> condition) {}

  private final Solver solver;
  private final Denoiser denoiser;
  private final float[] low;
  private final float[] high;
  private final int height;
  private final int width;
  private final int channels;

  /**
   * @param low per-channel lower end of the data range in model space (x_0 is clipped to it)
   * @param high per-channel upper end
   */
  public SamplerLoop(Solver solver, Denoiser denoiser, double[] low, double[] high, int height, int width,
      int channels) {
    this.solver = solver;
    this.denoiser = denoiser;
    this.low = toFloat(low);
    this.high = toFloat(high);
    this.height = height;
    this.width = width;
    this.channels = channels;
  }

  /** Adds the loop to {@code tf}'s graph; returns x_0 [N,H,W,C]. */
  public Operand<TFloat32> sample(Ops tf, String name, Inputs in, LinkedHashMap<String, Operand<TFloat32>> weights) {
    Shape image = Shape.of(-1, height, width, channels);
    Operand<TFloat32> xT = Noise.images(tf, in.seed(), in.firstIndex(), in.numImages(), tf.constant(0L), height, width,
        channels);
    List<Operand<?>> init = new ArrayList<>();
    init.add(tf.constant(0));
    init.add(xT);
    init.add(in.seed());
    init.add(in.firstIndex());
    init.add(in.timesteps());
    init.add(in.eta() != null ? in.eta() : tf.constant(0f));
    for (int h = 0; h < solver.history(); h++) init.add(tf.zerosLike(xT));
    List<String> condNames = new ArrayList<>(in.condition().keySet());
    for (String c : condNames) init.add(in.condition().get(c));
    init.addAll(weights.values());
    List<String> names = new ArrayList<>(weights.keySet());
    List<Shape> shapes = new ArrayList<>();
    List<Class<? extends TType>> types = new ArrayList<>();
    shapes.add(Shape.scalar());
    types.add(TInt32.class);
    shapes.add(image);
    types.add(TFloat32.class);
    shapes.add(Shape.scalar());
    types.add(TInt64.class);
    shapes.add(Shape.scalar());
    types.add(TInt64.class);
    shapes.add(Shape.of(-1));
    types.add(TInt32.class);
    shapes.add(Shape.scalar());
    types.add(TFloat32.class);
    for (int h = 0; h < solver.history(); h++) {
      shapes.add(image);
      types.add(TFloat32.class);
    }
    for (String c : condNames) {
      shapes.add(Shape.unknown());
      types.add(in.condition().get(c).type());
    }
    for (Operand<TFloat32> w : weights.values()) {
      shapes.add(w.shape());
      types.add(TFloat32.class);
    }
    int hist = solver.history();
    int firstCond = 6 + hist;
    int firstWeight = firstCond + condNames.size();

    ConcreteFunction cond = ConcreteFunction.create(ops -> {
      List<Operand<?>> v = placeholders(ops, types, shapes);
      Signature.Builder b = signature(v);
      Operand<TInt32> j = cast(v.get(0));
      Operand<TInt32> k = ops.size(castInt(v.get(4)), TInt32.class);
      return b.output("keep_going", ops.math.less(j, k)).build();
    });
    ConcreteFunction body = ConcreteFunction.create(ops -> {
      List<Operand<?>> v = placeholders(ops, types, shapes);
      Signature.Builder b = signature(v);
      Operand<TInt32> j = cast(v.get(0));
      Operand<TFloat32> x = castF(v.get(1));
      Operand<TInt64> seed = castL(v.get(2));
      Operand<TInt64> first = castL(v.get(3));
      Operand<TInt32> ts = castInt(v.get(4));
      Operand<TFloat32> eta = castF(v.get(5));
      List<Operand<TFloat32>> previous = new ArrayList<>();
      for (int h = 0; h < hist; h++) previous.add(castF(v.get(6 + h)));
      Map<String, Operand<?>> condition = new LinkedHashMap<>();
      for (int c = 0; c < condNames.size(); c++) condition.put(condNames.get(c), v.get(firstCond + c));
      Map<String, Operand<TFloat32>> w = new LinkedHashMap<>();
      for (int k = 0; k < names.size(); k++) w.put(names.get(k), castF(v.get(firstWeight + k)));

      Solver.At at = new Solver.At(ops, solver.schedule, ts, j, eta);
      Operand<TInt32> n = ops.slice(ops.shape(x), ops.constant(new int[] {0}), ops.constant(new int[] {1}));
      Operand<TInt32> t = at.t(0);
      Denoiser.Prediction prediction = denoiser.predict(ops, w, x, ops.fill(n, t), condition);
      Operand<TFloat32> x0 = ops.math.minimum(ops.math.maximum(prediction.x0(), ops.constant(low)),
          ops.constant(high));
      Operand<TFloat32> z = null;
      if (solver.stochastic()) {
        Operand<TInt64> stream = ops.math.add(ops.dtypes.cast(j, TInt64.class), ops.constant(1L));
        z = Noise.images(ops, seed, first, ops.reshape(n, ops.constant(new int[0])), stream, height, width, channels);
      }
      Operand<TInt32> k = ops.size(ts, TInt32.class);
      Operand<TBool> last = ops.math.equal(j, ops.math.sub(k, ops.constant(1)));
      Operand<TFloat32> next = ops.select(last, x0, solver.step(at, x, x0, prediction.varianceFraction(), previous, z));
      List<Operand<?>> out = new ArrayList<>();
      out.add(ops.math.add(j, ops.constant(1)));
      out.add(next);
      out.add(ops.identity(seed));
      out.add(ops.identity(first));
      out.add(ops.identity(ts));
      out.add(ops.identity(eta));
      if (hist > 0) {
        out.add(ops.identity(x0));
        for (int h = 0; h < hist - 1; h++) out.add(ops.identity(previous.get(h)));
      }
      for (int c = 0; c < condNames.size(); c++) out.add(identity(ops, v.get(firstCond + c)));
      for (int k2 = 0; k2 < names.size(); k2++) out.add(ops.identity(castF(v.get(firstWeight + k2))));
      for (int i = 0; i < out.size(); i++) b.output("o" + i, out.get(i));
      return b.build();
    });
    // Built by hand to set _lower_using_switch_merge, as TF Python does for its while loops: TF then lowers the loop
    // to Switch/Merge dataflow in the main graph, where the body gets the graph optimizations and no per-iteration
    // function call. -Dddpm4j.lowerWhile=false keeps the functional loop (for comparison in benchmarks).
    OperationBuilder b = tf.scope().opBuilder("StatelessWhile", name);
    b.addInputList(Operands.asOutputs(init));
    b.setAttr("cond", cond);
    b.setAttr("body", body);
    b.setAttr("parallel_iterations", 10L);
    b.setAttr("_lower_using_switch_merge", LOWER_WHILE);
    Operation loop = b.build();
    return castF(loop.output(1));
  }

  private static List<Operand<?>> placeholders(Ops ops, List<Class<? extends TType>> types, List<Shape> shapes) {
    List<Operand<?>> v = new ArrayList<>();
    for (int i = 0; i < types.size(); i++) v.add(placeholder(ops, types.get(i), shapes.get(i)));
    return v;
  }

  private static <U extends TType> Operand<U> placeholder(Ops ops, Class<U> type, Shape shape) {
    return shape.isUnknown() ? ops.placeholder(type) : ops.placeholder(type, Placeholder.shape(shape));
  }

  private static Signature.Builder signature(List<Operand<?>> v) {
    Signature.Builder b = Signature.builder();
    for (int i = 0; i < v.size(); i++) b.input("i" + i, v.get(i));
    return b;
  }

  private static <U extends TType> Operand<U> identity(Ops ops, Operand<U> o) {
    return ops.identity(o);
  }

  @SuppressWarnings("unchecked")
  private static Operand<TInt32> cast(Operand<?> o) {
    return (Operand<TInt32>) o;
  }

  private static Operand<TInt32> castInt(Operand<?> o) {
    return cast(o);
  }

  @SuppressWarnings("unchecked")
  private static Operand<TInt64> castL(Operand<?> o) {
    return (Operand<TInt64>) o;
  }

  @SuppressWarnings("unchecked")
  static Operand<TFloat32> castF(Object o) {
    return (Operand<TFloat32>) o;
  }

  static float[] toFloat(double[] d) {
    float[] f = new float[d.length];
    for (int k = 0; k < d.length; k++) f[k] = (float) d[k];
    return f;
  }
}
