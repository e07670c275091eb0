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
 * The DDPM ancestral sampler as ONE graph op: a while loop from x_T ~ N(0, I) down to x_0. Each step predicts
 * x_0 (clipped to the data range), takes the posterior mean coef1 x_0 + coef2 x_t and adds sigma_t z,
 * with sigma_t^2 = beta_t or beta~_t and no noise at the last step. Noise comes from stateless random ops keyed by
 * (seed, step), so the same seed gives the same images bit for bit. Loop bodies cannot read variables: the network's
 * weights travel through the loop as loop variables.
 */
public final class AncestralSampler {
  /**
   * Predicts x_0 from x_t [N,H,W,C] and timesteps t [N] with the given weights (inside the loop body), whatever the
   * network's parameterization.
   */
  public interface Denoiser {
    Operand<TFloat32> x0(Ops tf, Map<String, Operand<TFloat32>> weights, Operand<TFloat32> x, Operand<TInt32> t);
  }

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

  /**
   * Adds the loop to {@code tf}'s graph and returns x_0 [N,H,W,C].
   *
   * @param weights the network's weights in a fixed order (variable reads or placeholders)
   */
  public Operand<TFloat32> sample(Ops tf, Denoiser denoiser, LinkedHashMap<String, Operand<TFloat32>> weights,
      Operand<TInt64> seed, Operand<TInt32> numImages, int height, int width, int channels) {
    int t = schedule.timesteps;
    Shape image = Shape.of(-1, height, width, channels);
    Operand<TFloat32> xT = SamplerLoop.gaussianImages(tf, seed, t, numImages, image);
    return SamplerLoop.run(tf, "ancestral_loop", tf.constant(t - 1), xT, seed, List.of(), weights, image,
        (o, w, x, i, s, extras) -> step(o, denoiser, w, x, i, s));
  }

  /** One reverse step at 0-based index i (the paper's t = i + 1). */
  Operand<TFloat32> step(Ops tf, Denoiser denoiser, Map<String, Operand<TFloat32>> w, Operand<TFloat32> x,
      Operand<TInt32> i, Operand<TInt64> seed) {
    Operand<TInt32> n = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> t = tf.fill(n, i);
    Operand<TFloat32> x0 = denoiser.x0(tf, w, x, t);
    x0 = tf.math.minimum(tf.math.maximum(x0, tf.constant(toFloat(low))), tf.constant(toFloat(high)));
    Operand<TFloat32> mean = tf.math.add(tf.math.mul(at(tf, schedule.posteriorMeanCoef1, i), x0),
        tf.math.mul(at(tf, schedule.posteriorMeanCoef2, i), x));
    Operand<TFloat32> z = tf.random.statelessRandomNormal(tf.shape(x), SamplerLoop.seedPair(tf, seed, i), TFloat32.class);
    return tf.math.add(mean, tf.math.mul(at(tf, sigma, i), z));
  }

  private static Operand<TFloat32> at(Ops tf, double[] table, Operand<TInt32> i) {
    return tf.gather(tf.constant(toFloat(table)), i, tf.constant(0));
  }

  static float[] toFloat(double[] d) {
    float[] f = new float[d.length];
    for (int k = 0; k < d.length; k++) f[k] = (float) d[k];
    return f;
  }
}
