package dev.ddpm4j.diffusion;

import dev.ddpm4j.config.ExperimentConfig;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.family.TFloating;

/**
 * The forward process, the four parameterizations and the training losses as graph ops over a {@link Schedule}:
 * per-example coefficients are gathered (GatherV2) from constant tables by the integer timestep (0-based, the paper's
 * t - 1).
 *
 * <p>Parameterizations (what the network outputs): {@code eps} the noise; {@code x0} the clean image; {@code mean}
 * the posterior mean mu~(x_t, x_0) = coef1 x_0 + coef2 x_t; {@code v} = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar)
 * x_0. Each converts to x_0 and eps in closed form.
 */
public final class DiffusionOps<T extends TFloating> {
  private final Ops tf;
  private final Class<T> dtype;
  private final Schedule schedule;
  private final double[] vlbWeight;

  public DiffusionOps(Ops tf, Class<T> dtype, Schedule schedule) {
    this(tf, dtype, schedule, "beta");
  }

  /** @param variance the sampler variance sigma_t^2 the VLB terms are measured against: beta or beta_tilde */
  public DiffusionOps(Ops tf, Class<T> dtype, Schedule schedule, String variance) {
    this.tf = tf;
    this.dtype = dtype;
    this.schedule = schedule;
    this.vlbWeight = vlbX0Weights(schedule, variance);
  }

  /**
   * Per step, the factor w_t with L_{t-1} = w_t * mean((x_0 - x0_theta)^2) in nats per dimension: the KL between
   * q(x_{t-1}|x_t,x_0) and p(x_{t-1}|x_t) with fixed variance sigma_t^2 is ||mu~ - mu_theta||^2 / (2 sigma_t^2) and
   * mu~ - mu_theta = coef1_t (x_0 - x0_theta), so w_t = coef1_t^2 / (2 sigma_t^2). At the first step, where beta~
   * is 0, sigma^2 takes the clipped value (beta~ of the second step), as the DDPM reference does for its log.
   */
  public static double[] vlbX0Weights(Schedule s, String variance) {
    double[] sigma2 = s.samplerVariance(variance);
    double[] w = new double[s.timesteps];
    for (int i = 0; i < s.timesteps; i++) {
      double v = sigma2[i] > 0 ? sigma2[i] : Math.exp(s.posteriorLogVarianceClipped[i]);
      w[i] = s.posteriorMeanCoef1[i] * s.posteriorMeanCoef1[i] / (2 * v);
    }
    return w;
  }

  /** table[t] per example, shaped [B, 1, 1, 1] to broadcast over images. */
  public Operand<T> extract(double[] table, Operand<TInt32> t) {
    return tf.reshape(perExample(table, t), tf.constant(new long[] {-1, 1, 1, 1}));
  }

  /** table[t] per example, shaped [B]. */
  public Operand<T> perExample(double[] table, Operand<TInt32> t) {
    Operand<T> c = tf.dtypes.cast(tf.constant(table), dtype);
    return tf.gather(c, t, tf.constant(0));
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

  /** eps implied by an x_0: (sqrt(1/alpha_bar_t) x_t - x_0) / sqrt(1/alpha_bar_t - 1). */
  public Operand<T> epsFromX0(Operand<T> xt, Operand<TInt32> t, Operand<T> x0) {
    return tf.math.div(tf.math.sub(tf.math.mul(extract(schedule.sqrtRecipAlphaBar, t), xt), x0),
        extract(schedule.sqrtRecipM1AlphaBar, t));
  }

  /** What a network of the given parameterization is trained to output. */
  public Operand<T> target(String prediction, Operand<T> x0, Operand<T> noise, Operand<T> xt, Operand<TInt32> t) {
    return switch (prediction) {
      case "eps" -> noise;
      case "x0" -> x0;
      case "mean" -> tf.math.add(tf.math.mul(extract(schedule.posteriorMeanCoef1, t), x0),
          tf.math.mul(extract(schedule.posteriorMeanCoef2, t), xt));
      case "v" -> tf.math.sub(tf.math.mul(extract(schedule.sqrtAlphaBar, t), noise),
          tf.math.mul(extract(schedule.sqrtOneMinusAlphaBar, t), x0));
      default -> throw new IllegalArgumentException("unknown prediction " + prediction);
    };
  }

  /** x_0 implied by a network output of the given parameterization. */
  public Operand<T> predictedX0(String prediction, Operand<T> out, Operand<T> xt, Operand<TInt32> t) {
    return switch (prediction) {
      case "eps" -> x0FromEps(xt, t, out);
      case "x0" -> out;
      case "mean" -> tf.math.div(tf.math.sub(out, tf.math.mul(extract(schedule.posteriorMeanCoef2, t), xt)),
          extract(schedule.posteriorMeanCoef1, t));
      // x_0 = sqrt(alpha_bar) x_t - sqrt(1 - alpha_bar) v
      case "v" -> tf.math.sub(tf.math.mul(extract(schedule.sqrtAlphaBar, t), xt),
          tf.math.mul(extract(schedule.sqrtOneMinusAlphaBar, t), out));
      default -> throw new IllegalArgumentException("unknown prediction " + prediction);
    };
  }

  /** eps implied by a network output of the given parameterization. */
  public Operand<T> predictedEps(String prediction, Operand<T> out, Operand<T> xt, Operand<TInt32> t) {
    return switch (prediction) {
      case "eps" -> out;
      // eps = sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v
      case "v" -> tf.math.add(tf.math.mul(extract(schedule.sqrtOneMinusAlphaBar, t), xt),
          tf.math.mul(extract(schedule.sqrtAlphaBar, t), out));
      default -> epsFromX0(xt, t, predictedX0(prediction, out, xt, t));
    };
  }

  /**
   * The training loss of {@code diffusion.loss}: {@code simple} = mean over examples of the per-example MSE between
   * output and target (times the min-SNR-gamma weight when snr_gamma > 0); {@code weighted_vlb} = mean over examples
   * of L_{t-1} (nats per dimension, see {@link #vlbX0Weights}); {@code hybrid} = simple + vlb_weight * weighted_vlb.
   */
  public Operand<T> loss(ExperimentConfig.Diffusion cfg, Operand<T> out, Operand<T> x0, Operand<T> noise,
      Operand<T> xt, Operand<TInt32> t) {
    Operand<TInt32> dims = tf.constant(new int[] {1, 2, 3});
    Operand<T> simple = null;
    if (!cfg.loss().equals("weighted_vlb")) {
      Operand<T> mse = tf.math.mean(tf.math.squaredDifference(out, target(cfg.prediction(), x0, noise, xt, t)), dims);
      if (cfg.snrGamma() > 0) mse = tf.math.mul(mse, perExample(minSnrWeights(cfg.prediction(), cfg.snrGamma()), t));
      simple = tf.math.mean(mse, tf.constant(0));
      if (cfg.loss().equals("simple")) return simple;
    }
    Operand<T> x0Err = tf.math.mean(tf.math.squaredDifference(x0, predictedX0(cfg.prediction(), out, xt, t)), dims);
    Operand<T> vlb = tf.math.mean(tf.math.mul(x0Err, perExample(vlbWeight, t)), tf.constant(0));
    if (cfg.loss().equals("weighted_vlb")) return vlb;
    return tf.math.add(simple, tf.math.mul(vlb, tf.dtypes.cast(tf.constant(cfg.vlbWeight()), dtype)));
  }

  /**
   * Min-SNR-gamma weights (Hang et al. 2023) per step, expressed for the parameterization's own MSE: x0 min(SNR,
   * gamma); eps min(SNR, gamma) / SNR; v min(SNR, gamma) / (SNR + 1).
   */
  public double[] minSnrWeights(String prediction, double gamma) {
    double[] snr = schedule.snr();
    double[] w = new double[snr.length];
    for (int i = 0; i < snr.length; i++) {
      double m = Math.min(snr[i], gamma);
      w[i] = switch (prediction) {
        case "x0" -> m;
        case "eps" -> m / snr[i];
        case "v" -> m / (snr[i] + 1);
        default -> throw new IllegalArgumentException("min-SNR weighting is not defined for prediction " + prediction);
      };
    }
    return w;
  }
}
