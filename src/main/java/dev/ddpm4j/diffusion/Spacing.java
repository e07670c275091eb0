package dev.ddpm4j.diffusion;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * Which K of the T timesteps a sampler visits, from the noisiest to the cleanest (0-based indices, strictly
 * decreasing; the step after the last one lands on x_0). Every spacing exists twice, in plain Java (double precision,
 * the reference) and as graph ops (float64) for a K fed at run time; tests require them to agree.
 *
 * <pre>
 * leading         t = floor(j T / K),                      j = K-1 .. 0      (DDIM's original choice)
 * trailing        t = round(T - j T / K) - 1,              j = 0 .. K-1      (first step at T-1; Lin et al. 2024)
 * linspace        t = round(j (T-1) / (K-1)),              j = K-1 .. 0      (K = 1: T-1)
 * karras          sigma_j = (smax^(1/7) + j/(K-1) (smin^(1/7) - smax^(1/7)))^7, sigma = sqrt((1 - ab) / ab)
 *                 (Karras et al. 2022, rho = 7), each sigma mapped to t by interpolating log sigma over the table
 * uniform_lambda  lambda = log(alpha / sigma) evenly spaced from lambda(T-1) to lambda(0), mapped the same way
 * </pre>
 * Rounding is half to even (numpy's and TensorFlow's). Where the two interpolated spacings round two steps to the same
 * timestep, the later one moves down so the list stays strictly decreasing (and at least K-1-j at position j).
 */
public enum Spacing {
  LEADING, TRAILING, LINSPACE, KARRAS, UNIFORM_LAMBDA;

  public static final double KARRAS_RHO = 7.0;

  /** The name in configs, CLI options and the SavedModel's {@code spacing} input. */
  public String key() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Spacing parse(String s) {
    for (Spacing v : values()) if (v.key().equals(s)) return v;
    throw new IllegalArgumentException("unknown spacing '" + s + "' (available: " + keys(List.of(values())) + ")");
  }

  public static String keys(List<Spacing> list) {
    List<String> k = new ArrayList<>();
    for (Spacing s : list) k.add(s.key());
    return String.join(", ", k);
  }

  /** The K timesteps, noisiest first. */
  public int[] timesteps(Schedule schedule, int k) {
    int total = schedule.timesteps;
    if (k < 1 || k > total) throw new IllegalArgumentException("steps must be in [1, " + total + "], got " + k);
    int[] t = new int[k];
    switch (this) {
      case LEADING -> {
        for (int j = 0; j < k; j++) t[j] = (int) ((long) (k - 1 - j) * total / k);
      }
      case TRAILING -> {
        double step = (double) total / k;
        for (int j = 0; j < k; j++) t[j] = (int) Math.rint(total - j * step) - 1;
      }
      case LINSPACE -> {
        if (k == 1) {
          t[0] = total - 1;
        } else {
          double step = (double) (total - 1) / (k - 1);
          for (int j = 0; j < k; j++) t[j] = (int) Math.rint((k - 1 - j) * step);
        }
      }
      default -> {
        double[] logSigma = logSigmas(schedule);
        double[] target = new double[k];
        for (int j = 0; j < k; j++) {
          double ramp = k == 1 ? 0 : (double) j / (k - 1);
          if (this == KARRAS) {
            double max = Math.pow(Math.exp(logSigma[total - 1]), 1 / KARRAS_RHO);
            double min = Math.pow(Math.exp(logSigma[0]), 1 / KARRAS_RHO);
            target[j] = Math.log(Math.pow(max + ramp * (min - max), KARRAS_RHO));
          } else {
            // lambda = -log sigma, evenly spaced from lambda(T-1) to lambda(0)
            target[j] = logSigma[total - 1] + ramp * (logSigma[0] - logSigma[total - 1]);
          }
        }
        for (int j = 0; j < k; j++) t[j] = (int) Math.rint(timestepOf(target[j], logSigma));
        strictlyDecreasing(t);
      }
    }
    return t;
  }

  /** log sigma_t with sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t): increasing in t. */
  static double[] logSigmas(Schedule s) {
    double[] out = new double[s.timesteps];
    for (int i = 0; i < out.length; i++) out[i] = 0.5 * Math.log((1 - s.alphaBar[i]) / s.alphaBar[i]);
    return out;
  }

  /** The fractional timestep whose log sigma is {@code logSigma}, by linear interpolation (clamped to [0, T-1]). */
  static double timestepOf(double logSigma, double[] table) {
    int count = 0;
    for (double v : table) if (v <= logSigma) count++;
    int low = Math.max(0, Math.min(table.length - 2, count - 1));
    double w = (table[low] - logSigma) / (table[low] - table[low + 1]);
    w = Math.max(0, Math.min(1, w));
    return (1 - w) * low + w * (low + 1);
  }

  static void strictlyDecreasing(int[] t) {
    int k = t.length;
    for (int j = 1; j < k; j++) t[j] = Math.min(t[j], t[j - 1] - 1);
    for (int j = 0; j < k; j++) t[j] = Math.max(t[j], k - 1 - j);
  }

  /**
   * The same list as graph ops, for a K fed at run time (int32 [K]). Karras and uniform-lambda interpolate in float64
   * over the schedule's table, like the plain-Java version.
   */
  public Operand<TInt32> timesteps(Ops tf, Schedule schedule, Operand<TInt32> k) {
    int total = schedule.timesteps;
    Operand<TInt32> j = tf.range(tf.constant(0), k, tf.constant(1));
    Operand<TFloat64> jd = tf.dtypes.cast(j, TFloat64.class);
    Operand<TFloat64> kd = tf.dtypes.cast(k, TFloat64.class);
    Operand<TFloat64> td = tf.constant((double) total);
    switch (this) {
      case LEADING:
        return tf.math.floorDiv(tf.math.mul(tf.math.sub(tf.math.sub(k, tf.constant(1)), j), tf.constant(total)), k);
      case TRAILING:
        return toInt(tf, tf.math.sub(tf.math.rint(tf.math.sub(td, tf.math.mul(jd, tf.math.div(td, kd)))),
            tf.constant(1.0)));
      case LINSPACE: {
        Operand<TFloat64> kMinus1 = tf.math.maximum(tf.math.sub(kd, tf.constant(1.0)), tf.constant(1.0));
        Operand<TFloat64> step = tf.math.div(tf.constant((double) (total - 1)), kMinus1);
        Operand<TFloat64> v = tf.math.rint(tf.math.mul(tf.math.sub(tf.math.sub(kd, tf.constant(1.0)), jd), step));
        return tf.select(tf.math.equal(k, tf.constant(1)), tf.fill(tf.reshape(k, tf.constant(new int[] {1})),
            tf.constant(total - 1)), toInt(tf, v));
      }
      default: {
        double[] logSigma = logSigmas(schedule);
        Operand<TFloat64> ramp = tf.math.div(jd, tf.math.maximum(tf.math.sub(kd, tf.constant(1.0)), tf.constant(1.0)));
        Operand<TFloat64> target;
        if (this == KARRAS) {
          double max = Math.pow(Math.exp(logSigma[total - 1]), 1 / KARRAS_RHO);
          double min = Math.pow(Math.exp(logSigma[0]), 1 / KARRAS_RHO);
          Operand<TFloat64> base = tf.math.add(tf.constant(max), tf.math.mul(ramp, tf.constant(min - max)));
          target = tf.math.log(tf.math.pow(base, tf.constant(KARRAS_RHO)));
        } else {
          target = tf.math.add(tf.constant(logSigma[total - 1]),
              tf.math.mul(ramp, tf.constant(logSigma[0] - logSigma[total - 1])));
        }
        Operand<TFloat64> table = tf.constant(logSigma);
        // count of table entries <= target, per target: [K, T] comparison summed over T
        Operand<TInt32> count = tf.sum(tf.dtypes.cast(tf.math.lessEqual(tf.expandDims(table, tf.constant(0)),
            tf.expandDims(target, tf.constant(1))), TInt32.class), tf.constant(1));
        Operand<TInt32> low = tf.math.maximum(tf.constant(0), tf.math.minimum(tf.constant(total - 2),
            tf.math.sub(count, tf.constant(1))));
        Operand<TFloat64> lowV = tf.gather(table, low, tf.constant(0));
        Operand<TFloat64> highV = tf.gather(table, tf.math.add(low, tf.constant(1)), tf.constant(0));
        Operand<TFloat64> w = tf.math.div(tf.math.sub(lowV, target), tf.math.sub(lowV, highV));
        w = tf.math.maximum(tf.constant(0.0), tf.math.minimum(tf.constant(1.0), w));
        Operand<TFloat64> lowD = tf.dtypes.cast(low, TFloat64.class);
        Operand<TFloat64> t = tf.math.add(tf.math.mul(tf.math.sub(tf.constant(1.0), w), lowD),
            tf.math.mul(w, tf.math.add(lowD, tf.constant(1.0))));
        return strictlyDecreasing(tf, toInt(tf, tf.math.rint(t)), j, k);
      }
    }
  }

  private static Operand<TInt32> toInt(Ops tf, Operand<TFloat64> v) {
    return tf.dtypes.cast(v, TInt32.class);
  }

  /** t_j = max(min_{i <= j} (t_i + i) - j, K-1-j): the graph form of {@link #strictlyDecreasing(int[])}. */
  private static Operand<TInt32> strictlyDecreasing(Ops tf, Operand<TInt32> t, Operand<TInt32> j, Operand<TInt32> k) {
    Operand<TInt32> u = tf.math.add(t, j); // [K]
    // prefix minimum through a [K, K] mask (K <= T): entry (a, b) is u_b where b <= a, else the largest int
    Operand<TInt32> rows = tf.expandDims(j, tf.constant(1));
    Operand<TInt32> cols = tf.expandDims(j, tf.constant(0));
    Operand<TInt32> masked = tf.select(tf.math.lessEqual(cols, rows), tf.expandDims(u, tf.constant(0)),
        tf.constant(Integer.MAX_VALUE)); // SelectV2 broadcasts to [K, K]
    Operand<TInt32> prefixMin = tf.min(masked, tf.constant(1));
    Operand<TInt32> floor = tf.math.sub(tf.math.sub(k, tf.constant(1)), j);
    return tf.math.maximum(tf.math.sub(prefixMin, j), floor);
  }
}
