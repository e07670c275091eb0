package dev.ddpm4j.diffusion;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;

/**
 * The DDIM step (Song et al. 2021) from t to s with eta from 0 (deterministic) to 1:
 *
 * <pre>
 * eps = (x_t - sqrt(ab_t) x_0) / sqrt(1 - ab_t)
 * sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s)
 * x_s = sqrt(ab_s) x_0 + sqrt(1 - ab_s - sigma^2) eps + sigma z
 * </pre>
 * eta = 1 over all T steps is the ancestral sampler with the posterior variance.
 */
public final class DdimSolver extends Solver {
  public DdimSolver(Schedule schedule) {
    super(schedule);
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
    double sigma = eta * Math.sqrt((1 - as) / (1 - a)) * Math.sqrt(1 - a / as);
    double dir = Math.sqrt(Math.max(0, 1 - as - sigma * sigma));
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double eps = (x[i] - Math.sqrt(a) * x0[i]) / Math.sqrt(1 - a);
      out[i] = Math.sqrt(as) * x0[i] + dir * eps + (z == null ? 0 : sigma * z[i]);
    }
    return out;
  }

  @Override
  public Operand<TFloat32> step(At at, Operand<TFloat32> x, Operand<TFloat32> x0, Operand<TFloat32> fraction,
      List<Operand<TFloat32>> previous, Operand<TFloat32> z) {
    Ops tf = at.tf();
    Operand<TFloat64> a = at.alphaBar(at.t(0));
    Operand<TFloat64> as = at.alphaBar(at.t(1));
    Operand<TFloat64> one = at.c(1);
    Operand<TFloat64> sigma = tf.math.mul(at.eta64(), tf.math.sqrt(tf.math.mul(
        tf.math.div(tf.math.sub(one, as), tf.math.sub(one, a)), tf.math.sub(one, tf.math.div(a, as)))));
    Operand<TFloat64> dir = tf.math.sqrt(tf.math.maximum(at.c(0), tf.math.sub(tf.math.sub(one, as),
        tf.math.square(sigma))));
    Operand<TFloat64> sqrtOneMinusA = tf.math.sqrt(tf.math.sub(one, a));
    // x_s = (dir / sqrt(1 - a)) x + (sqrt(as) - dir sqrt(a) / sqrt(1 - a)) x_0 + sigma z
    Operand<TFloat64> cx = tf.math.div(dir, sqrtOneMinusA);
    Operand<TFloat64> c0 = tf.math.sub(tf.math.sqrt(as), tf.math.div(tf.math.mul(dir, tf.math.sqrt(a)), sqrtOneMinusA));
    return tf.math.add(tf.math.add(at.times(cx, x), at.times(c0, x0)), at.times(sigma, z));
  }
}
