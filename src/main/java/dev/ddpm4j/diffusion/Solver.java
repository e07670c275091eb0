package dev.ddpm4j.diffusion;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * One reverse-process solver: how x moves from the timestep ts[j] to ts[j+1] given the network's clipped x_0
 * prediction there (and, for multistep solvers, the predictions of earlier steps). Written twice: in plain Java with
 * double precision (the reference every test compares against) and as graph ops. The loop around it ({@link
 * SamplerLoop}, {@link ReferenceSampler}) is shared: it calls the network once per step, and the last step always
 * lands on the prediction itself (x_0), so a solver only describes the steps before it.
 */
public abstract class Solver {
  protected final Schedule schedule;

  protected Solver(Schedule schedule) {
    this.schedule = schedule;
  }

  /** How many earlier x_0 predictions the step needs (most recent first). */
  public int history() {
    return 0;
  }

  /** Whether the step adds fresh noise z (drawn per image by {@link Noise}). */
  public abstract boolean stochastic();

  /**
   * The next x, in double precision.
   *
   * @param ts the timesteps, noisiest first; the step goes from ts[j] to ts[j+1] (j + 1 < ts.length)
   * @param fraction a learned variance's interpolation f in [0, 1] per value (null for a fixed variance)
   * @param previous earlier predictions, most recent first (zeros before the first steps)
   * @param z standard-normal noise of this step (null for deterministic solvers)
   */
  public abstract double[] step(int[] ts, int j, double eta, double[] x, double[] x0, double[] fraction,
      List<double[]> previous, double[] z);

  /** The same step as graph ops; {@code at} gives this step's position and schedule values. */
  public abstract Operand<TFloat32> step(At at, Operand<TFloat32> x, Operand<TFloat32> x0, Operand<TFloat32> fraction,
      List<Operand<TFloat32>> previous, Operand<TFloat32> z);

  /** Where a graph step stands: step j of the timestep list ts (int32 [K]), with eta, and schedule lookups in float64. */
  public record At(Ops tf, Schedule schedule, Operand<TInt32> ts, Operand<TInt32> j, Operand<TFloat32> eta) {
    /** ts[j + offset], clamped into the list (offset -1 at the first step gives ts[0]). */
    public Operand<TInt32> t(int offset) {
      Operand<TInt32> k = tf.size(ts, TInt32.class);
      Operand<TInt32> i = tf.math.maximum(tf.constant(0), tf.math.minimum(tf.math.sub(k, tf.constant(1)),
          tf.math.add(j, tf.constant(offset))));
      return tf.gather(ts, i, tf.constant(0));
    }

    /** alpha_bar at timestep t. */
    public Operand<TFloat64> alphaBar(Operand<TInt32> t) {
      return tf.gather(tf.constant(schedule.alphaBar), t, tf.constant(0));
    }

    public Operand<TFloat64> eta64() {
      return tf.dtypes.cast(eta, TFloat64.class);
    }

    /** c * x for a float64 scalar c and a float32 image batch. */
    public Operand<TFloat32> times(Operand<TFloat64> c, Operand<TFloat32> x) {
      return tf.math.mul(tf.dtypes.cast(c, TFloat32.class), x);
    }

    public Operand<TFloat64> c(double v) {
      return tf.constant(v);
    }

    /**
     * The order a multistep solver of order {@code max} uses at this step: min(max, j + 1, K - j), so first order at
     * the first step and lower orders towards the end ({@link Solver#orderAt} in plain Java).
     */
    public Operand<TInt32> order(int max) {
      Operand<TInt32> k = tf.size(ts, TInt32.class);
      return tf.math.minimum(tf.constant(max), tf.math.minimum(tf.math.add(j, tf.constant(1)), tf.math.sub(k, j)));
    }

    /** lambda = log(alpha / sigma) = 0.5 log(ab / (1 - ab)), the half log-SNR, for an alpha_bar value. */
    public Operand<TFloat64> lambda(Operand<TFloat64> alphaBar) {
      return tf.math.mul(c(0.5), tf.math.log(tf.math.div(alphaBar, tf.math.sub(c(1), alphaBar))));
    }
  }

  /** The order a multistep solver of order {@code max} uses at step j of k timesteps: min(max, j + 1, k - j). */
  public static int orderAt(int max, int j, int k) {
    return Math.min(max, Math.min(j + 1, k - j));
  }

  /** The half log-SNR lambda_t = log(alpha_t / sigma_t) at timestep t, in double precision. */
  protected double lambda(int t) {
    double a = schedule.alphaBar[t];
    return 0.5 * Math.log(a / (1 - a));
  }

  /** a + b element-wise (plain Java helper). */
  protected static double[] axpby(double a, double[] x, double b, double[] y) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) out[i] = a * x[i] + b * y[i];
    return out;
  }
}
