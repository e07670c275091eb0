package dev.ddpm4j.diffusion;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The forward process and the noise-prediction loss as graph ops over a {@link Schedule}: per-example coefficients are
 * gathered (GatherV2) from constant tables by the integer timestep.
 */
public final class DiffusionOps<T extends TFloating> {
  private final Ops tf;
  private final Class<T> dtype;
  private final Schedule schedule;

  public DiffusionOps(Ops tf, Class<T> dtype, Schedule schedule) {
    this.tf = tf;
    this.dtype = dtype;
    this.schedule = schedule;
  }

  /** table[t] per example, shaped [B, 1, 1, 1] to broadcast over images. */
  public Operand<T> extract(double[] table, Operand<TInt32> t) {
    Operand<T> c = tf.dtypes.cast(tf.constant(table), dtype);
    Operand<T> g = tf.gather(c, t, tf.constant(0));
    return tf.reshape(g, tf.constant(new long[] {-1, 1, 1, 1}));
  }

  /** x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps. */
  public Operand<T> qSample(Operand<T> x0, Operand<TInt32> t, Operand<T> noise) {
    return tf.math.add(
        tf.math.mul(extract(schedule.sqrtAlphaBar, t), x0),
        tf.math.mul(extract(schedule.sqrtOneMinusAlphaBar, t), noise));
  }

  /** x_0 implied by a noise prediction: sqrt(1/alpha_bar_t) x_t - sqrt(1/alpha_bar_t - 1) eps. */
  public Operand<T> x0FromEps(Operand<T> xt, Operand<TInt32> t, Operand<T> eps) {
    return tf.math.sub(
        tf.math.mul(extract(schedule.sqrtRecipAlphaBar, t), xt),
        tf.math.mul(extract(schedule.sqrtRecipM1AlphaBar, t), eps));
  }

  /** The simplified objective: mean over all elements of (eps - eps_theta)^2. */
  public Operand<T> simpleLoss(Operand<T> epsPred, Operand<T> noise) {
    Operand<T> sq = tf.math.squaredDifference(epsPred, noise);
    return tf.math.mean(tf.reshape(sq, tf.constant(new long[] {-1})), tf.constant(0));
  }
}
