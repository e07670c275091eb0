package dev.ddpm4j.diffusion;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Classifier-free guidance (Ho and Salimans 2022) around a class-conditional network:
 *
 * <pre>
 * eps_guided = eps(x, no label) + w (eps(x, c) - eps(x, no label))
 * </pre>
 * w = 1 is the plain conditional prediction, w = 0 the unconditional one. At a fixed x_t, eps and x_0 are affine in
 * each other (eps = (x_t - sqrt(ab) x_0) / sqrt(1 - ab)) with the same coefficients for both predictions, so
 * combining the x_0 predictions with the same w is the same guidance for every parameterization; that is what is
 * computed, and the sampler then clips the guided x_0 as usual. Both predictions come from ONE network call over a
 * batch of 2N (x and the labels, then x and the no-label token); when w is 0 or 1 only the N rows that matter are
 * run. Labels of -1 mean "no label" too. A learned variance comes from the conditional rows.
 */
public final class Guidance {
  /** The conditional network's prediction for x at t, given the condition (whose labels this class sets). */
  public interface Network {
    Denoiser.Prediction predict(Ops tf, Map<String, Operand<TFloat32>> weights, Operand<TFloat32> x, Operand<TInt32> t,
        Map<String, Operand<?>> condition);
  }

  public static final String LABELS = "labels";
  public static final String GUIDANCE = "guidance_scale";

  private Guidance() {}

  /** A denoiser over a conditional network with {@code numClasses} classes (label numClasses = no label). */
  public static Denoiser classifierFree(Network net, int numClasses) {
    return (tf, w, x, t, condition) -> {
      @SuppressWarnings("unchecked")
      Operand<TInt32> labels = (Operand<TInt32>) condition.get(LABELS);
      if (labels == null) throw new IllegalArgumentException("a conditional model needs labels in its condition");
      Operand<TInt32> none = tf.constant(numClasses);
      Operand<TInt32> lab = tf.select(tf.math.less(labels, tf.constant(0)), tf.fill(tf.shape(labels), none), labels);
      @SuppressWarnings("unchecked")
      Operand<TFloat32> scale = (Operand<TFloat32>) condition.get(GUIDANCE);
      if (scale == null) return net.predict(tf, w, x, t, with(condition, lab));

      Operand<TBool> isOne = tf.math.equal(scale, tf.constant(1f));
      Operand<TBool> isZero = tf.math.equal(scale, tf.constant(0f));
      Operand<TInt32> n = tf.reshape(tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1})),
          tf.constant(new int[0]));
      Operand<TInt32> m = tf.select(tf.math.logicalOr(isOne, isZero), n, tf.math.mul(n, tf.constant(2)));
      Operand<TInt32> nullLabels = tf.fill(tf.shape(labels), none);
      Operand<TInt32> first = tf.select(isZero, nullLabels, lab);
      Operand<TFloat32> xx = rows(tf, tf.concat(List.of(x, x), tf.constant(0)), tf.constant(0), m);
      Operand<TInt32> tt = rows(tf, tf.concat(List.of(t, t), tf.constant(0)), tf.constant(0), m);
      Operand<TInt32> ll = rows(tf, tf.concat(List.of(first, nullLabels), tf.constant(0)), tf.constant(0), m);
      Denoiser.Prediction out = net.predict(tf, w, xx, tt, with(condition, ll));
      Operand<TFloat32> conditional = rows(tf, out.x0(), tf.constant(0), n);
      Operand<TInt32> second = tf.select(tf.math.equal(m, n), tf.constant(0), n);
      Operand<TFloat32> unconditional = rows(tf, out.x0(), second, n);
      Operand<TFloat32> guided = tf.math.add(unconditional, tf.math.mul(scale, tf.math.sub(conditional, unconditional)));
      // a learned variance is taken from the first rows (the conditional prediction, as GLIDE does)
      Operand<TFloat32> f = out.varianceFraction() == null ? null : rows(tf, out.varianceFraction(), tf.constant(0), n);
      return new Denoiser.Prediction(guided, f);
    };
  }

  private static Map<String, Operand<?>> with(Map<String, Operand<?>> condition, Operand<TInt32> labels) {
    Map<String, Operand<?>> m = new LinkedHashMap<>(condition);
    m.put(LABELS, labels);
    m.remove(GUIDANCE);
    return m;
  }

  /** Rows [begin, begin + count) of a tensor whose first dimension is the batch. */
  private static <T extends org.tensorflow.types.family.TType> Operand<T> rows(Ops tf, Operand<T> a,
      Operand<TInt32> begin, Operand<TInt32> count) {
    Operand<TInt32> rank = tf.rank(a);
    Operand<TInt32> zeros = tf.fill(tf.reshape(tf.math.sub(rank, tf.constant(1)), tf.constant(new int[] {1})),
        tf.constant(0));
    Operand<TInt32> minusOnes = tf.fill(tf.reshape(tf.math.sub(rank, tf.constant(1)), tf.constant(new int[] {1})),
        tf.constant(-1));
    Operand<TInt32> b = tf.concat(List.of(tf.reshape(begin, tf.constant(new int[] {1})), zeros), tf.constant(0));
    Operand<TInt32> size = tf.concat(List.of(tf.reshape(count, tf.constant(new int[] {1})), minusOnes), tf.constant(0));
    return tf.slice(a, b, size);
  }
}
