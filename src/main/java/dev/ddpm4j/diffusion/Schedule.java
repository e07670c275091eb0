package dev.ddpm4j.diffusion;

import dev.ddpm4j.config.ExperimentConfig;

/**
 * A beta schedule and every table derived from it, in double precision. Index i = 0..T-1 stands for the paper's
 * t = i + 1. The tables become graph constants (cast to the graph's dtype).
 *
 * <pre>
 * alpha_t = 1 - beta_t                 alpha_bar_t = prod_{s<=t} alpha_s      alpha_bar_prev_t = alpha_bar_{t-1} (1 at t=1)
 * posterior variance beta~_t = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)
 * posterior mean = coef1_t x_0 + coef2_t x_t, coef1 = beta_t sqrt(alpha_bar_{t-1}) / (1 - alpha_bar_t),
 *                                             coef2 = (1 - alpha_bar_{t-1}) sqrt(alpha_t) / (1 - alpha_bar_t)
 * log beta~ clipped: beta~_1 = 0, so its log uses beta~_2 there (as the DDPM reference)
 * </pre>
 */
public final class Schedule {
  public final int timesteps;
  public final double[] betas;
  public final double[] alphas;
  public final double[] alphaBar;
  public final double[] alphaBarPrev;
  public final double[] sqrtAlphaBar;
  public final double[] sqrtOneMinusAlphaBar;
  public final double[] sqrtRecipAlphaBar;
  public final double[] sqrtRecipM1AlphaBar;
  public final double[] posteriorVariance;
  public final double[] posteriorLogVarianceClipped;
  public final double[] posteriorMeanCoef1;
  public final double[] posteriorMeanCoef2;

  public Schedule(double[] betas) {
    int n = betas.length;
    this.timesteps = n;
    this.betas = betas.clone();
    alphas = new double[n];
    alphaBar = new double[n];
    alphaBarPrev = new double[n];
    sqrtAlphaBar = new double[n];
    sqrtOneMinusAlphaBar = new double[n];
    sqrtRecipAlphaBar = new double[n];
    sqrtRecipM1AlphaBar = new double[n];
    posteriorVariance = new double[n];
    posteriorLogVarianceClipped = new double[n];
    posteriorMeanCoef1 = new double[n];
    posteriorMeanCoef2 = new double[n];
    double prod = 1.0;
    for (int i = 0; i < n; i++) {
      if (!(betas[i] > 0 && betas[i] < 1)) throw new IllegalArgumentException("beta[" + i + "] = " + betas[i] + " is not in (0, 1)");
      alphas[i] = 1.0 - betas[i];
      alphaBarPrev[i] = prod;
      prod *= alphas[i];
      alphaBar[i] = prod;
      sqrtAlphaBar[i] = Math.sqrt(prod);
      sqrtOneMinusAlphaBar[i] = Math.sqrt(1.0 - prod);
      sqrtRecipAlphaBar[i] = Math.sqrt(1.0 / prod);
      sqrtRecipM1AlphaBar[i] = Math.sqrt(1.0 / prod - 1.0);
      posteriorVariance[i] = betas[i] * (1.0 - alphaBarPrev[i]) / (1.0 - prod);
      posteriorMeanCoef1[i] = betas[i] * Math.sqrt(alphaBarPrev[i]) / (1.0 - prod);
      posteriorMeanCoef2[i] = (1.0 - alphaBarPrev[i]) * Math.sqrt(alphas[i]) / (1.0 - prod);
    }
    for (int i = 0; i < n; i++) {
      double v = (i == 0 && n > 1) ? posteriorVariance[1] : posteriorVariance[i];
      posteriorLogVarianceClipped[i] = Math.log(v);
    }
  }

  /** Linearly spaced betas from {@code start} to {@code end} (inclusive) over T steps. */
  public static Schedule linear(double start, double end, int timesteps) {
    double[] b = new double[timesteps];
    for (int i = 0; i < timesteps; i++) {
      b[i] = timesteps == 1 ? start : start + (end - start) * i / (timesteps - 1);
    }
    return new Schedule(b);
  }

  /** Betas whose square roots are evenly spaced: (sqrt(start) + (sqrt(end) - sqrt(start)) i / (T-1))^2. */
  public static Schedule quadratic(double start, double end, int timesteps) {
    double a = Math.sqrt(start);
    double b = Math.sqrt(end);
    double[] betas = new double[timesteps];
    for (int i = 0; i < timesteps; i++) {
      double r = timesteps == 1 ? a : a + (b - a) * i / (timesteps - 1);
      betas[i] = r * r;
    }
    return new Schedule(betas);
  }

  /** start + (end - start) * sigmoid(x_i), x evenly spaced over [-6, 6] (as diffusers' "sigmoid" schedule). */
  public static Schedule sigmoid(double start, double end, int timesteps) {
    double[] betas = new double[timesteps];
    for (int i = 0; i < timesteps; i++) {
      double x = timesteps == 1 ? 0 : -6 + 12.0 * i / (timesteps - 1);
      betas[i] = start + (end - start) / (1 + Math.exp(-x));
    }
    return new Schedule(betas);
  }

  /**
   * The cosine schedule (Nichol and Dhariwal 2021): alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t/T) + s) / (1 + s) *
   * pi/2), beta_i = min(1 - alpha_bar(i+1) / alpha_bar(i), maxBeta).
   */
  public static Schedule cosine(double s, double maxBeta, int timesteps) {
    double[] betas = new double[timesteps];
    for (int i = 0; i < timesteps; i++) {
      double a1 = cosineAlphaBar(i, timesteps, s);
      double a2 = cosineAlphaBar(i + 1, timesteps, s);
      betas[i] = Math.min(1 - a2 / a1, maxBeta);
    }
    return new Schedule(betas);
  }

  private static double cosineAlphaBar(double t, int timesteps, double s) {
    double f = Math.cos((t / timesteps + s) / (1 + s) * Math.PI / 2);
    double f0 = Math.cos(s / (1 + s) * Math.PI / 2);
    return (f * f) / (f0 * f0);
  }

  public static Schedule of(ExperimentConfig.Diffusion cfg) {
    ExperimentConfig.Schedule s = cfg.schedule();
    return switch (s.kind()) {
      case "linear" -> linear(s.betaStart(), s.betaEnd(), cfg.timesteps());
      case "quadratic" -> quadratic(s.betaStart(), s.betaEnd(), cfg.timesteps());
      case "sigmoid" -> sigmoid(s.betaStart(), s.betaEnd(), cfg.timesteps());
      case "cosine" -> cosine(s.cosineS(), s.maxBeta(), cfg.timesteps());
      default -> throw new IllegalArgumentException("unknown schedule kind " + s.kind());
    };
  }

  /** Signal-to-noise ratio alpha_bar / (1 - alpha_bar) per step. */
  public double[] snr() {
    double[] out = new double[timesteps];
    for (int i = 0; i < timesteps; i++) out[i] = alphaBar[i] / (1 - alphaBar[i]);
    return out;
  }

  /**
   * The fixed reverse-process variance sigma_t^2 of the bound and of the decoder: {@code beta} is beta_t
   * ("fixed large"), {@code beta_tilde} the posterior variance ("fixed small"). At the first step both use the clipped
   * value beta~ of the second step, as the improved-DDPM reference does (beta~_1 is 0, and beta_1 is far wider than
   * the pixel bins the decoder scores). The samplers never draw noise at the first step, so this affects only the
   * bound.
   */
  public double[] fixedVariance(String variance) {
    double[] v = switch (variance) {
      case "beta" -> betas.clone();
      case "beta_tilde" -> posteriorVariance.clone();
      default -> throw new IllegalArgumentException("no fixed variance for '" + variance + "'");
    };
    if (v.length > 1) v[0] = posteriorVariance[1];
    return v;
  }

  /**
   * A learned variance (improved DDPM, {@code learned_range}): log sigma_t^2 = f log beta_t + (1 - f) log beta~_t
   * (clipped), with the network's f in [0, 1].
   */
  public double learnedLogVariance(int t, double f) {
    return f * Math.log(betas[t]) + (1 - f) * posteriorLogVarianceClipped[t];
  }
}
