package dev.ddpm4j.diffusion;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * DDIM (Song et al. 2021) as one graph loop over K of the T steps, t_j = floor(j T / K) for j = K-1 .. 0, with the
 * sub-sequence computed in the graph from the K fed at run time. Each step predicts x_0 (clipped), recomputes eps from
 * it and moves to t_{j-1}:
 *
 * <pre>
 * sigma = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev)
 * x_prev = sqrt(a_prev) x_0 + sqrt(1 - a_prev - sigma^2) eps + sigma z        (a = alpha_bar, a_prev = 1 after t_0)
 * </pre>
 * eta = 0 is deterministic given x_T; eta = 1 with K = T gives sigma^2 = beta~_t, the ancestral sampler with the
 * posterior variance.
 */
public final class DdimSampler {
  private final Schedule schedule;
  private final double[] low;
  private final double[] high;

  public DdimSampler(Schedule schedule, double[] low, double[] high) {
    this.schedule = schedule;
    this.low = low.clone();
    this.high = high.clone();
  }

  /** Adds the loop; {@code numSteps} (K, in [1, T]) and {@code eta} are fed at run time. */
  public Operand<TFloat32> sample(Ops tf, AncestralSampler.Denoiser denoiser,
      LinkedHashMap<String, Operand<TFloat32>> weights, Operand<TInt64> seed, Operand<TInt32> numImages,
      Operand<TInt32> numSteps, Operand<TFloat32> eta, int height, int width, int channels) {
    Shape image = Shape.of(-1, height, width, channels);
    Operand<TFloat32> xT = SamplerLoop.gaussianImages(tf, seed, schedule.timesteps, numImages, image);
    return SamplerLoop.run(tf, "ddim_loop", tf.math.sub(numSteps, tf.constant(1)), xT, seed, List.of(numSteps, eta),
        weights, image, (o, w, x, j, s, extras) -> step(o, denoiser, w, x, j, s, cast(extras.get(0)),
            castF(extras.get(1))));
  }

  @SuppressWarnings("unchecked")
  private static Operand<TInt32> cast(Operand<?> o) {
    return (Operand<TInt32>) o;
  }

  @SuppressWarnings("unchecked")
  private static Operand<TFloat32> castF(Operand<?> o) {
    return (Operand<TFloat32>) o;
  }

  Operand<TFloat32> step(Ops tf, AncestralSampler.Denoiser denoiser, Map<String, Operand<TFloat32>> w,
      Operand<TFloat32> x, Operand<TInt32> j, Operand<TInt64> seed, Operand<TInt32> k, Operand<TFloat32> eta) {
    int total = schedule.timesteps;
    Operand<TInt32> t = tf.math.floorDiv(tf.math.mul(j, tf.constant(total)), k);
    Operand<TInt32> tPrev = tf.math.floorDiv(tf.math.mul(tf.math.sub(j, tf.constant(1)), tf.constant(total)), k);
    Operand<TFloat32> table = tf.constant(AncestralSampler.toFloat(schedule.alphaBar));
    Operand<TFloat32> aT = tf.gather(table, t, tf.constant(0));
    Operand<TFloat32> aPrev = tf.select(tf.math.greaterEqual(j, tf.constant(1)),
        tf.gather(table, tf.math.maximum(tPrev, tf.constant(0)), tf.constant(0)), tf.constant(1f));
    Operand<TInt32> n = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TFloat32> x0 = denoiser.x0(tf, w, x, tf.fill(n, t));
    x0 = tf.math.minimum(tf.math.maximum(x0, tf.constant(AncestralSampler.toFloat(low))),
        tf.constant(AncestralSampler.toFloat(high)));
    Operand<TFloat32> one = tf.constant(1f);
    Operand<TFloat32> eps = tf.math.div(tf.math.sub(x, tf.math.mul(tf.math.sqrt(aT), x0)),
        tf.math.sqrt(tf.math.sub(one, aT)));
    Operand<TFloat32> sigma = tf.math.mul(eta, tf.math.sqrt(tf.math.mul(
        tf.math.div(tf.math.sub(one, aPrev), tf.math.sub(one, aT)), tf.math.sub(one, tf.math.div(aT, aPrev)))));
    Operand<TFloat32> dir = tf.math.sqrt(tf.math.maximum(tf.math.sub(tf.math.sub(one, aPrev), tf.math.square(sigma)),
        tf.constant(0f)));
    Operand<TFloat32> z = tf.random.statelessRandomNormal(tf.shape(x), SamplerLoop.seedPair(tf, seed, j),
        TFloat32.class);
    return tf.math.add(tf.math.add(tf.math.mul(tf.math.sqrt(aPrev), x0), tf.math.mul(dir, eps)),
        tf.math.mul(sigma, z));
  }
}
