package dev.ddpm4j.diffusion;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TBool;
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
  /** log sigma_t^2 of a fixed variance (the first step clipped, {@link Schedule#fixedVariance}); null if learned. */
  private final double[] fixedLogVariance;
  private final boolean learned;

  public DiffusionOps(Ops tf, Class<T> dtype, Schedule schedule) {
    this(tf, dtype, schedule, "beta");
  }

  /**
   * @param variance the reverse-process variance the bound is measured against: beta, beta_tilde, or learned_range
   *     (the network's own)
   */
  public DiffusionOps(Ops tf, Class<T> dtype, Schedule schedule, String variance) {
    this.tf = tf;
    this.dtype = dtype;
    this.schedule = schedule;
    this.learned = variance.equals("learned_range");
    if (learned) {
      this.fixedLogVariance = null;
    } else {
      double[] v = schedule.fixedVariance(variance);
      this.fixedLogVariance = new double[v.length];
      for (int i = 0; i < v.length; i++) fixedLogVariance[i] = Math.log(v[i]);
    }
  }

  /** A network output split into the parameterization's channels and, for a learned variance, f = (v + 1) / 2. */
  public record Split<T extends TFloating>(Operand<T> mean, Operand<T> varianceFraction) {}

  /** The first C channels are the parameterization's; with a learned variance the last C are v in [-1, 1]. */
  public Split<T> split(Operand<T> out) {
    if (!learned) return new Split<>(out, null);
    Operand<TInt32> c = tf.math.floorDiv(tf.slice(tf.shape(out), tf.constant(new int[] {3}), tf.constant(new int[] {1})),
        tf.constant(2));
    Operand<TInt32> zero3 = tf.constant(new int[] {0, 0, 0});
    Operand<TInt32> all3 = tf.constant(new int[] {-1, -1, -1});
    Operand<T> mean = tf.slice(out, tf.concat(List.of(zero3, tf.constant(new int[] {0})), tf.constant(0)),
        tf.concat(List.of(all3, c), tf.constant(0)));
    Operand<T> v = tf.slice(out, tf.concat(List.of(zero3, c), tf.constant(0)),
        tf.concat(List.of(all3, c), tf.constant(0)));
    Operand<T> f = tf.math.mul(tf.math.add(v, c(1)), c(0.5));
    return new Split<>(mean, f);
  }

  /** log sigma_t^2 = f log beta_t + (1 - f) log beta~_t (clipped) for a learned variance. */
  public Operand<T> learnedLogVariance(Operand<T> fraction, Operand<TInt32> t) {
    double[] logBeta = new double[schedule.timesteps];
    for (int i = 0; i < logBeta.length; i++) logBeta[i] = Math.log(schedule.betas[i]);
    Operand<T> max = extract(logBeta, t);
    Operand<T> min = extract(schedule.posteriorLogVarianceClipped, t);
    return tf.math.add(tf.math.mul(fraction, max), tf.math.mul(tf.math.sub(c(1), fraction), min));
  }

  /**
   * The bound's term at t per example, in nats per dimension (mean over H, W, C): KL(q(x_{t-1}|x_t,x_0) ||
   * N(mu~(x_t, x0_theta), exp(logVar))) for t >= 1 (0-based), and the discretized-Gaussian decoder's -log p(x_0|x_1)
   * over the 8-bit pixel bins at t = 0 (bins {@code scale[c]} wide, the lowest and highest open-ended).
   *
   * @param low per-channel model-space value of pixel 0; {@code high} of pixel 255
   */
  public Operand<T> vlbTerm(Operand<T> x0Pred, Operand<T> logVar, Operand<T> x0, Operand<T> xt, Operand<TInt32> t,
      double[] scale, double[] low, double[] high) {
    Operand<T> c1 = extract(schedule.posteriorMeanCoef1, t);
    Operand<T> c2 = extract(schedule.posteriorMeanCoef2, t);
    Operand<T> muP = tf.math.add(tf.math.mul(c1, x0Pred), tf.math.mul(c2, xt));
    Operand<T> muQ = tf.math.add(tf.math.mul(c1, x0), tf.math.mul(c2, xt));
    Operand<T> logVarQ = extract(schedule.posteriorLogVarianceClipped, t);
    Operand<T> kl = tf.math.mul(c(0.5), tf.math.add(tf.math.add(tf.math.sub(tf.math.sub(logVar, logVarQ), c(1)),
        tf.math.exp(tf.math.sub(logVarQ, logVar))),
        tf.math.mul(tf.math.squaredDifference(muQ, muP), tf.math.exp(tf.math.neg(logVar)))));
    // decoder: N(mu_p, exp(logVar)) mass on x_0's pixel bin
    Operand<T> half = cast(halves(scale));
    Operand<T> invSigma = tf.math.exp(tf.math.mul(c(-0.5), logVar));
    Operand<T> upper = normalCdf(tf.math.mul(tf.math.sub(tf.math.add(x0, half), muP), invSigma));
    Operand<T> lower = normalCdf(tf.math.mul(tf.math.sub(tf.math.sub(x0, half), muP), invSigma));
    Operand<TBool> lowest = tf.math.less(x0, tf.math.add(cast(low), half));
    Operand<TBool> highest = tf.math.greater(x0, tf.math.sub(cast(high), half));
    Operand<T> mass = tf.select(lowest, upper, tf.select(highest, tf.math.sub(c(1), lower), tf.math.sub(upper, lower)));
    Operand<T> nll = tf.math.neg(tf.math.log(tf.math.maximum(mass, c(1e-12))));
    Operand<TBool> first = tf.math.equal(tf.reshape(t, tf.constant(new long[] {-1, 1, 1, 1})), tf.constant(0));
    Operand<T> term = tf.select(first, nll, kl);
    return tf.math.mean(term, tf.constant(new int[] {1, 2, 3}));
  }

  private static double[] halves(double[] scale) {
    double[] h = new double[scale.length];
    for (int i = 0; i < h.length; i++) h[i] = scale[i] / 2;
    return h;
  }

  private Operand<T> cast(double[] perChannel) {
    return tf.dtypes.cast(tf.constant(perChannel), dtype);
  }

  private Operand<T> c(double v) {
    return tf.dtypes.cast(tf.constant(v), dtype);
  }

  /** Phi(z) = (1 + erf(z / sqrt 2)) / 2. */
  private Operand<T> normalCdf(Operand<T> z) {
    return tf.math.mul(c(0.5), tf.math.add(c(1), tf.math.erf(tf.math.mul(z, c(Math.sqrt(0.5))))));
  }

  /**
   * Per step, the factor w_t with L_{t-1} = w_t * mean((x_0 - x0_theta)^2) in nats per dimension: the KL between
   * q(x_{t-1}|x_t,x_0) and p(x_{t-1}|x_t) with fixed variance sigma_t^2 is ||mu~ - mu_theta||^2 / (2 sigma_t^2) and
   * mu~ - mu_theta = coef1_t (x_0 - x0_theta), so w_t = coef1_t^2 / (2 sigma_t^2). At the first step, where beta~
   * is 0, sigma^2 takes the clipped value (beta~ of the second step), as the DDPM reference does for its log.
   */
  public static double[] vlbX0Weights(Schedule s, String variance) {
    double[] sigma2 = s.fixedVariance(variance);
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
   * The training loss of {@code diffusion.loss} for a fixed variance (see the full form for a learned one).
   */
  public Operand<T> loss(ExperimentConfig.Diffusion cfg, Operand<T> out, Operand<T> x0, Operand<T> noise,
      Operand<T> xt, Operand<TInt32> t) {
    if (learned || cfg.loss().equals("weighted_vlb")) {
      throw new IllegalArgumentException(cfg.loss() + " with variance " + cfg.variance()
          + " needs the pixel bins (scale, low, high) for the bound's decoder term");
    }
    return loss(cfg, out, x0, noise, xt, t, null, null, null);
  }

  /**
   * The training loss of {@code diffusion.loss}, a mean over examples:
   * <ul>
   *   <li>{@code simple}: the MSE between the parameterization's output and its target (times the min-SNR-gamma
   *       weight when snr_gamma > 0);
   *   <li>{@code weighted_vlb}: the bound's term L_{t-1} of {@link #vlbTerm} in nats per dimension: the KL for t
   *       &gt;= 1 (with a fixed variance sigma_t^2 that is w_t ||x_0 - x0_theta||^2 plus a constant, see {@link
   *       #vlbX0Weights}) and the discretized decoder -log p(x_0|x_1) at t = 0, as improved-diffusion's {@code
   *       _vb_terms_bpd}; with a learned variance it trains mean and variance;
   *   <li>{@code hybrid} (learned variance only; Nichol and Dhariwal 2021): simple + vlb_weight * T * L_t in bits per
   *       dimension, with the mean's gradient stopped inside L_t so that only the variance learns from the bound. With
   *       T uniform timesteps, T * L_t estimates the whole bound L_vlb, so vlb_weight is the paper's lambda (0.001).
   * </ul>
   *
   * @param scale per-channel pixel bin width in model space (the decoder term of a learned variance)
   */
  public Operand<T> loss(ExperimentConfig.Diffusion cfg, Operand<T> out, Operand<T> x0, Operand<T> noise,
      Operand<T> xt, Operand<TInt32> t, double[] scale, double[] low, double[] high) {
    Split<T> split = split(out);
    Operand<T> mean = split.mean();
    Operand<TInt32> dims = tf.constant(new int[] {1, 2, 3});
    Operand<T> simple = null;
    if (!cfg.loss().equals("weighted_vlb")) {
      Operand<T> mse = tf.math.mean(tf.math.squaredDifference(mean, target(cfg.prediction(), x0, noise, xt, t)), dims);
      if (cfg.snrGamma() > 0) mse = tf.math.mul(mse, perExample(minSnrWeights(cfg.prediction(), cfg.snrGamma()), t));
      simple = tf.math.mean(mse, tf.constant(0));
      if (cfg.loss().equals("simple")) return simple;
    }
    if (!learned) {
      if (scale == null) throw new IllegalArgumentException("weighted_vlb needs the pixel bins (scale, low, high)");
      return tf.math.mean(vlbTerm(predictedX0(cfg.prediction(), mean, xt, t), extract(fixedLogVariance, t), x0, xt, t,
          scale, low, high), tf.constant(0));
    }
    boolean hybrid = cfg.loss().equals("hybrid");
    Operand<T> meanForBound = hybrid ? tf.stopGradient(mean) : mean;
    Operand<T> x0Pred = predictedX0(cfg.prediction(), meanForBound, xt, t);
    Operand<T> vb = tf.math.mean(vlbTerm(x0Pred, learnedLogVariance(split.varianceFraction(), t), x0, xt, t, scale,
        low, high), tf.constant(0));
    if (!hybrid) return vb;
    double weight = cfg.vlbWeight() * schedule.timesteps / Math.log(2); // nats to bits, L_t to T L_t
    return tf.math.add(simple, tf.math.mul(vb, c(weight)));
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
