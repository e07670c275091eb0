package dev.ddpm4j.diffusion;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * DPM-Solver++ (Lu et al. 2022), multistep, on the data prediction x_0 of any parameterization. With alpha_t =
 * sqrt(ab_t), sigma_t = sqrt(1 - ab_t), lambda_t = log(alpha_t / sigma_t), h = lambda_s - lambda_t for the step from t
 * to s, and m0, m1, m2 the current and the two previous x_0 predictions (at t, t_prev1, t_prev2):
 *
 * <pre>
 * first order:   x_s = (sigma_s / sigma_t) x_t - alpha_s (e^-h - 1) m0                      (= DDIM with eta 0)
 * second order:  D1 = (m0 - m1) / r0,  r0 = h0 / h,  h0 = lambda_t - lambda_prev1
 *                x_s = first order - 0.5 alpha_s (e^-h - 1) D1                               (2M, midpoint form)
 * third order:   D1_0 = (m0 - m1) / r0, D1_1 = (m1 - m2) / r1, r1 = (lambda_prev1 - lambda_prev2) / h
 *                D1 = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1),  D2 = (D1_0 - D1_1) / (r0 + r1)
 *                x_s = first order + alpha_s ((e^-h - 1) / h + 1) D1 - alpha_s ((e^-h - 1 + h) / h^2 - 0.5) D2
 * </pre>
 * Step j of K uses order min(max order, j + 1, K - j): first order at the first step, lower orders towards the end;
 * the last step lands on x_0 (the shared loop's rule). The graph form folds the orders into scalar coefficients of x,
 * m0, m1 and m2; the plain-Java form follows the equations above as written.
 */
public final class DpmSolverPlusPlus extends Solver {
  private final int order;

  public DpmSolverPlusPlus(Schedule schedule, int order) {
    super(schedule);
    if (order < 1 || order > 3) throw new IllegalArgumentException("DPM-Solver++ order must be 1, 2 or 3, got " + order);
    this.order = order;
  }

  @Override
  public int history() {
    return order - 1;
  }

  @Override
  public boolean stochastic() {
    return false;
  }

  /** The order used at step j of k. */
  public int orderAt(int j, int k) {
    return orderAt(order, j, k);
  }


  @Override
  public double[] step(int[] ts, int j, double eta, double[] x, double[] x0, double[] fraction,
      List<double[]> previous, double[] z) {
    int t = ts[j];
    int s = ts[j + 1];
    double alphaS = Math.sqrt(schedule.alphaBar[s]);
    double ratio = Math.sqrt((1 - schedule.alphaBar[s]) / (1 - schedule.alphaBar[t]));
    double h = lambda(s) - lambda(t);
    double em1 = Math.expm1(-h);
    int o = orderAt(j, ts.length);
    double[] out = new double[x.length];
    double[] m0 = x0;
    double[] m1 = o >= 2 ? previous.get(0) : null;
    double[] m2 = o >= 3 ? previous.get(1) : null;
    double r0 = o >= 2 ? (lambda(t) - lambda(ts[j - 1])) / h : 0;
    double r1 = o >= 3 ? (lambda(ts[j - 1]) - lambda(ts[j - 2])) / h : 0;
    for (int i = 0; i < x.length; i++) {
      double v = ratio * x[i] - alphaS * em1 * m0[i];
      if (o == 2) {
        double d1 = (m0[i] - m1[i]) / r0;
        v -= 0.5 * alphaS * em1 * d1;
      } else if (o == 3) {
        double d10 = (m0[i] - m1[i]) / r0;
        double d11 = (m1[i] - m2[i]) / r1;
        double d1 = d10 + r0 / (r0 + r1) * (d10 - d11);
        double d2 = (d10 - d11) / (r0 + r1);
        v += alphaS * (em1 / h + 1) * d1 - alphaS * ((em1 + h) / (h * h) - 0.5) * d2;
      }
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
    Operand<TFloat64> ratio = tf.math.sqrt(tf.math.div(tf.math.sub(one, as), tf.math.sub(one, a)));
    Operand<TFloat64> lt = at.lambda(a);
    Operand<TFloat64> h = tf.math.sub(at.lambda(as), lt);
    Operand<TFloat64> em1 = tf.math.expm1(tf.math.neg(h));
    Operand<TFloat64> b = tf.math.neg(tf.math.mul(alphaS, em1)); // coefficient of m0 at first order
    Operand<TFloat64> c0 = b;
    Operand<TFloat64> c1 = at.c(0);
    Operand<TFloat64> c2 = at.c(0);
    if (order >= 2) {
      Operand<TInt32> o = at.order(order);
      Operand<TFloat64> lp1 = at.lambda(at.alphaBar(at.t(-1)));
      Operand<TFloat64> r0 = tf.math.div(tf.math.sub(lt, lp1), h);
      // second order: + 0.5 b (m0 - m1) / r0
      Operand<TFloat64> half = tf.math.div(tf.math.mul(at.c(0.5), b), r0);
      Operand<TFloat64> c0Second = tf.math.add(b, half);
      Operand<TFloat64> c1Second = tf.math.neg(half);
      c0 = tf.select(tf.math.greaterEqual(o, tf.constant(2)), c0Second, c0);
      c1 = tf.select(tf.math.greaterEqual(o, tf.constant(2)), c1Second, c1);
      if (order >= 3) {
        Operand<TFloat64> lp2 = at.lambda(at.alphaBar(at.t(-2)));
        Operand<TFloat64> r1 = tf.math.div(tf.math.sub(lp1, lp2), h);
        Operand<TFloat64> e = tf.math.mul(alphaS, tf.math.add(tf.math.div(em1, h), one));
        Operand<TFloat64> f = tf.math.mul(alphaS, tf.math.sub(tf.math.div(tf.math.add(em1, h), tf.math.square(h)),
            at.c(0.5)));
        Operand<TFloat64> sum = tf.math.add(r0, r1);
        Operand<TFloat64> q = tf.math.div(r0, sum);
        // E D1 - F D2 = u D1_0 + v D1_1, D1_0 = (m0 - m1) / r0, D1_1 = (m1 - m2) / r1
        Operand<TFloat64> u = tf.math.sub(tf.math.mul(e, tf.math.add(one, q)), tf.math.div(f, sum));
        Operand<TFloat64> v = tf.math.add(tf.math.neg(tf.math.mul(e, q)), tf.math.div(f, sum));
        Operand<org.tensorflow.types.TBool> isThird = tf.math.greaterEqual(o, tf.constant(3));
        c0 = tf.select(isThird, tf.math.add(b, tf.math.div(u, r0)), c0);
        c1 = tf.select(isThird, tf.math.add(tf.math.neg(tf.math.div(u, r0)), tf.math.div(v, r1)), c1);
        c2 = tf.select(isThird, tf.math.neg(tf.math.div(v, r1)), c2);
      }
    }
    Operand<TFloat32> out = tf.math.add(at.times(ratio, x), at.times(c0, x0));
    if (order >= 2) out = tf.math.add(out, at.times(c1, previous.get(0)));
    if (order >= 3) out = tf.math.add(out, at.times(c2, previous.get(1)));
    return out;
  }

}
