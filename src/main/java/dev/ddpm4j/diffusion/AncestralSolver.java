package dev.ddpm4j.diffusion;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The DDPM ancestral step from t to the next visited timestep s < t, with the betas recomputed from alpha_bar (the
 * improved-DDPM respacing: over all T steps this is exactly Ho et al.'s sampler):
 *
 * <pre>
 * beta' = 1 - ab_t / ab_s
 * x_s = beta' sqrt(ab_s) / (1 - ab_t) x_0 + (1 - ab_s) sqrt(ab_t / ab_s) / (1 - ab_t) x_t + sigma z
 * sigma^2 = beta' (variance beta) or beta~' = beta' (1 - ab_s) / (1 - ab_t) (variance beta_tilde), or, learned
 * (improved DDPM, learned_range): log sigma^2 = f log beta' + (1 - f) log beta~' with the network's f in [0, 1]
 * </pre>
 */
public final class AncestralSolver extends Solver {
  private final boolean posteriorVariance;
  private final boolean learned;

  /** @param variance {@code beta}, {@code beta_tilde} or {@code learned_range} */
  public AncestralSolver(Schedule schedule, String variance) {
    super(schedule);
    if (!variance.equals("beta") && !variance.equals("beta_tilde") && !variance.equals("learned_range")) {
      throw new IllegalArgumentException("unknown variance " + variance);
    }
    this.posteriorVariance = variance.equals("beta_tilde");
    this.learned = variance.equals("learned_range");
  }

  @Override
  public boolean stochastic() {
    return true;
  }

  @Override
  public double[] step(int[] ts, int j, double eta, double[] x, double[] x0, double[] fraction,
      List<double[]> previous, double[] z) {
    double a = schedule.alphaBar[ts[j]];
    double as = schedule.alphaBar[ts[j + 1]];
    double beta = 1 - a / as;
    double tilde = beta * (1 - as) / (1 - a);
    double c1 = beta * Math.sqrt(as) / (1 - a);
    double c2 = (1 - as) * Math.sqrt(a / as) / (1 - a);
    double[] mean = axpby(c1, x0, c2, x);
    if (learned) {
      if (fraction == null) throw new IllegalArgumentException("a learned variance needs the network's fraction");
      double[] out = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        double logVar = fraction[i] * Math.log(beta) + (1 - fraction[i]) * Math.log(tilde);
        out[i] = mean[i] + Math.exp(0.5 * logVar) * z[i];
      }
      return out;
    }
    return axpby(1, mean, Math.sqrt(posteriorVariance ? tilde : beta), z);
  }

  @Override
  public Operand<TFloat32> step(At at, Operand<TFloat32> x, Operand<TFloat32> x0, Operand<TFloat32> fraction,
      List<Operand<TFloat32>> previous, Operand<TFloat32> z) {
    Ops tf = at.tf();
    Operand<TFloat64> a = at.alphaBar(at.t(0));
    Operand<TFloat64> as = at.alphaBar(at.t(1));
    Operand<TFloat64> one = at.c(1);
    Operand<TFloat64> beta = tf.math.sub(one, tf.math.div(a, as));
    Operand<TFloat64> oneMinusA = tf.math.sub(one, a);
    Operand<TFloat64> c1 = tf.math.div(tf.math.mul(beta, tf.math.sqrt(as)), oneMinusA);
    Operand<TFloat64> c2 = tf.math.div(tf.math.mul(tf.math.sub(one, as), tf.math.sqrt(tf.math.div(a, as))), oneMinusA);
    Operand<TFloat64> tilde = tf.math.div(tf.math.mul(beta, tf.math.sub(one, as)), oneMinusA);
    Operand<TFloat32> mean = tf.math.add(at.times(c1, x0), at.times(c2, x));
    if (learned) {
      Operand<TFloat32> logBeta = tf.dtypes.cast(tf.math.log(beta), TFloat32.class);
      Operand<TFloat32> logTilde = tf.dtypes.cast(tf.math.log(tilde), TFloat32.class);
      Operand<TFloat32> logVar = tf.math.add(tf.math.mul(fraction, logBeta),
          tf.math.mul(tf.math.sub(tf.constant(1f), fraction), logTilde));
      return tf.math.add(mean, tf.math.mul(tf.math.exp(tf.math.mul(tf.constant(0.5f), logVar)), z));
    }
    return tf.math.add(mean, at.times(tf.math.sqrt(posteriorVariance ? tilde : beta), z));
  }
}
