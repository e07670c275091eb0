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
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * A reverse-process loop as one StatelessWhile: counts i from {@code start} down to 0, carrying x, the seed, scalar
 * extras (such as DDIM's step count and eta) and the network's weights, which loop bodies cannot read as variables.
 */
final class SamplerLoop {
  /** One step: the next x from the current one at loop index i. */
  interface Step {
    Operand<TFloat32> next(Ops tf, Map<String, Operand<TFloat32>> weights, Operand<TFloat32> x, Operand<TInt32> i,
        Operand<TInt64> seed, List<Operand<?>> extras);
  }

  static final boolean LOWER_WHILE = !"false".equals(System.getProperty("ddpm4j.lowerWhile"));

  private SamplerLoop() {}

  static Operand<TFloat32> run(Ops tf, String name, Operand<TInt32> start, Operand<TFloat32> x, Operand<TInt64> seed,
      List<Operand<?>> extras, LinkedHashMap<String, Operand<TFloat32>> weights, Shape imageShape, Step step) {
    List<Operand<?>> init = new ArrayList<>();
    init.add(start);
    init.add(x);
    init.add(seed);
    init.addAll(extras);
    init.addAll(weights.values());
    List<String> names = new ArrayList<>(weights.keySet());
    List<long[]> shapes = new ArrayList<>();
    for (Operand<TFloat32> w : weights.values()) shapes.add(w.shape().asArray());
    List<Class<? extends TType>> extraTypes = new ArrayList<>();
    for (Operand<?> e : extras) extraTypes.add(e.type());

    ConcreteFunction cond = ConcreteFunction.create(ops -> {
      Vars v = new Vars(ops, imageShape, extraTypes, shapes);
      return v.builder.output("keep_going", ops.math.greaterEqual(v.i, ops.constant(0))).build();
    });
    ConcreteFunction body = ConcreteFunction.create(ops -> {
      Vars v = new Vars(ops, imageShape, extraTypes, shapes);
      Map<String, Operand<TFloat32>> w = new LinkedHashMap<>();
      for (int k = 0; k < names.size(); k++) w.put(names.get(k), v.weights.get(k));
      Operand<TFloat32> next = step.next(ops, w, v.x, v.i, v.seed, v.extras);
      Signature.Builder out = v.builder;
      out.output("o_i", ops.math.sub(v.i, ops.constant(1)));
      out.output("o_x", next);
      out.output("o_seed", ops.identity(v.seed));
      for (int k = 0; k < v.extras.size(); k++) out.output("o_e" + k, identity(ops, v.extras.get(k)));
      for (int k = 0; k < v.weights.size(); k++) out.output("o_w" + k, ops.identity(v.weights.get(k)));
      return out.build();
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
    @SuppressWarnings("unchecked")
    Operand<TFloat32> result = (Operand<TFloat32>) (Operand<?>) loop.output(1);
    return result;
  }

  private static <U extends TType> Operand<U> identity(Ops ops, Operand<U> o) {
    return ops.identity(o);
  }

  private static <U extends TType> Operand<U> scalar(Ops ops, Class<U> type) {
    return ops.placeholder(type, Placeholder.shape(Shape.scalar()));
  }

  /** The placeholders of one loop function, in loop-variable order. */
  private static final class Vars {
    final Signature.Builder builder = Signature.builder();
    final Operand<TInt32> i;
    final Operand<TFloat32> x;
    final Operand<TInt64> seed;
    final List<Operand<?>> extras = new ArrayList<>();
    final List<Operand<TFloat32>> weights = new ArrayList<>();

    Vars(Ops ops, Shape imageShape, List<Class<? extends TType>> extraTypes, List<long[]> shapes) {
      i = scalar(ops, TInt32.class);
      x = ops.placeholder(TFloat32.class, Placeholder.shape(imageShape));
      seed = scalar(ops, TInt64.class);
      builder.input("i", i).input("x", x).input("seed", seed);
      for (int k = 0; k < extraTypes.size(); k++) {
        Operand<?> e = scalar(ops, extraTypes.get(k));
        extras.add(e);
        builder.input("e" + k, e);
      }
      for (int k = 0; k < shapes.size(); k++) {
        Operand<TFloat32> w = ops.placeholder(TFloat32.class, Placeholder.shape(Shape.of(shapes.get(k))));
        weights.add(w);
        builder.input("w" + k, w);
      }
    }
  }

  /** A stateless-random key [seed, i]. */
  static Operand<TInt64> seedPair(Ops tf, Operand<TInt64> seed, Operand<TInt32> i) {
    return tf.concat(List.of(tf.reshape(seed, tf.constant(new int[] {1})),
        tf.reshape(tf.dtypes.cast(i, TInt64.class), tf.constant(new int[] {1}))), tf.constant(0));
  }

  /** Standard-normal images [numImages, H, W, C] keyed by (seed, key). */
  static Operand<TFloat32> gaussianImages(Ops tf, Operand<TInt64> seed, int key, Operand<TInt32> numImages,
      Shape imageShape) {
    long[] s = imageShape.asArray();
    Operand<TInt32> shape = tf.concat(List.of(tf.reshape(numImages, tf.constant(new int[] {1})),
        tf.constant(new int[] {(int) s[1], (int) s[2], (int) s[3]})), tf.constant(0));
    return tf.random.statelessRandomNormal(shape, seedPair(tf, seed, tf.constant(key)), TFloat32.class);
  }
}
