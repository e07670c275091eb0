package dev.ddpm4j.diffusion;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * SDE-DPM-Solver++(2M) (Lu et al. 2022, the solver of the reverse diffusion SDE in data prediction), multistep,
 * second order. Same notation as {@link DpmSolverPlusPlus} (h = lambda_s - lambda_t for the step from t to s, m0 and
 * m1 the current and the previous x_0 predictions), with fresh noise z per step:
 *
 * <pre>
 * first order:   x_s = (sigma_s / sigma_t) e^-h x_t + alpha_s (1 - e^-2h) m0 + sigma_s sqrt(1 - e^-2h) z
 * second order:  x_s = first order + 0.5 alpha_s (1 - e^-2h) (m0 - m1) / r0,   r0 = (lambda_t - lambda_prev) / h
 * </pre>
 * First order at the first step (no earlier prediction yet); the last step lands on x_0 (the shared loop's rule).
 * The noise it injects corrects errors of earlier steps, as the ancestral sampler's does, which the deterministic
 * solvers cannot: on an imperfect network it reaches the ancestral sampler's quality in far fewer calls.
 */
public final class DpmSolverPlusPlusSde extends Solver {
  public DpmSolverPlusPlusSde(Schedule schedule) {
    super(schedule);
  }

  @Override
  public int history() {
    return 1;
  }

  @Override
  public boolean stochastic() {
    return true;
  }

  @Override
  public double[] step(int[] ts, int j, double eta, double[] x, double[] x0, double[] fraction,
      List<double[]> previous, double[] z) {
    int t = ts[j];
    int s = ts[j + 1];
    double alphaS = Math.sqrt(schedule.alphaBar[s]);
    double sigmaS = Math.sqrt(1 - schedule.alphaBar[s]);
    double sigmaT = Math.sqrt(1 - schedule.alphaBar[t]);
    double h = lambda(s) - lambda(t);
    double decay = -Math.expm1(-2 * h); // 1 - e^-2h
    boolean second = orderAt(2, j, ts.length) == 2;
    double r0 = second ? (lambda(t) - lambda(ts[j - 1])) / h : 1;
    double[] m1 = second ? previous.get(0) : null;
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double v = sigmaS / sigmaT * Math.exp(-h) * x[i] + alphaS * decay * x0[i] + sigmaS * Math.sqrt(decay) * z[i];
      if (second) v += 0.5 * alphaS * decay * (x0[i] - m1[i]) / r0;
      out[i] = v;
    }
    return out;
  }

  @Override
  public Operand<TFloat32> step(At at, Operand<TFloat32> x, Operand<TFloat32> x0, Operand<TFloat32> fraction,
      List<Operand<TFloat32>> previous, Operand<TFloat32> z) {
    Ops tf = at.tf();
    Operand<TFloat64> one = at.c(1);
    Operand<TFloat64> a = at.alphaBar(at.t(0));
    Operand<TFloat64> as = at.alphaBar(at.t(1));
    Operand<TFloat64> alphaS = tf.math.sqrt(as);
    Operand<TFloat64> sigmaS = tf.math.sqrt(tf.math.sub(one, as));
    Operand<TFloat64> sigmaT = tf.math.sqrt(tf.math.sub(one, a));
    Operand<TFloat64> lt = at.lambda(a);
    Operand<TFloat64> h = tf.math.sub(at.lambda(as), lt);
    Operand<TFloat64> decay = tf.math.neg(tf.math.expm1(tf.math.mul(at.c(-2), h)));
    Operand<TFloat64> cx = tf.math.mul(tf.math.div(sigmaS, sigmaT), tf.math.exp(tf.math.neg(h)));
    Operand<TFloat64> b = tf.math.mul(alphaS, decay);
    Operand<TFloat64> cz = tf.math.mul(sigmaS, tf.math.sqrt(decay));
    Operand<TInt32> o = at.order(2);
    Operand<TFloat64> r0 = tf.math.div(tf.math.sub(lt, at.lambda(at.alphaBar(at.t(-1)))), h);
    // second order: b m0 + 0.5 b (m0 - m1) / r0 = (b + half) m0 - half m1
    Operand<TFloat64> half = tf.math.div(tf.math.mul(at.c(0.5), b), r0);
    Operand<org.tensorflow.types.TBool> second = tf.math.greaterEqual(o, tf.constant(2));
    Operand<TFloat64> c0 = tf.select(second, tf.math.add(b, half), b);
    Operand<TFloat64> c1 = tf.select(second, tf.math.neg(half), at.c(0));
    Operand<TFloat32> out = tf.math.add(at.times(cx, x), at.times(c0, x0));
    out = tf.math.add(out, at.times(c1, previous.get(0)));
    return tf.math.add(out, at.times(cz, z));
  }
}
