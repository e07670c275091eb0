package dev.ddpm4j.diffusion;

import java.util.SplittableRandom;

/**
 * The variational bound of the seed's derivation, term by term, in bits per dimension, in double precision:
 *
 * <pre>
 * L = KL(q(x_T|x_0) || N(0, I))                                    prior (no parameters)
 *   + sum_{t=2..T} KL(q(x_{t-1}|x_t, x_0) || p(x_{t-1}|x_t))        one network call per t, x_t ~ q(x_t|x_0)
 *   - log p(x_0|x_1)                                                discretized Gaussian over 8-bit pixel bins
 * </pre>
 * p(x_{t-1}|x_t) = N(mu~(x_t, x0_theta), sigma_t^2) with the fixed variance (beta_t or beta~_t; at t = 1 beta~ is 0
 * and the clipped value beta~_2 is used). The network enters only through x0_theta, so any parameterization works.
 */
public final class Elbo {
  /** The network as the bound needs it: predicted x_0 for noisy images x_t at 0-based timesteps t. */
  public interface Denoise {
    float[] x0(float[] xt, int[] t);
  }

  /** Bits/dim of each part, averaged over images, the standard error of the total, and per-bucket eps MSE. */
  public record Result(int images, double prior, double diffusionTerms, double decoder, double total,
      double totalStandardError, double[] epsMsePerBucket) {}

  private Elbo() {}

  /**
   * @param x0 n images in model space, each exactly at a pixel value: x = pixel * scale[c] + shift[c]
   * @param scale per-channel scale of the normalization (a pixel bin is scale wide)
   * @param dims values per image (H*W*C); channels is scale.length
   * @param buckets number of equal timestep ranges for the eps MSE report
   */
  public static Result evaluate(Schedule s, String variance, float[] x0, int n, int dims, double[] scale,
      double[] shift, Denoise net, long seed, int buckets) {
    int c = scale.length;
    int total = n * dims;
    double[] perImage = new double[n];
    double[] prior = new double[n];
    double[] terms = new double[n];
    double[] decoder = new double[n];
    double[] sigma2 = s.samplerVariance(variance);
    double[] bucketSum = new double[buckets];
    long[] bucketCount = new long[buckets];
    int steps = s.timesteps;
    double aT = s.alphaBar[steps - 1];
    for (int i = 0; i < total; i++) {
      double x = x0[i];
      prior[i / dims] += 0.5 * (-Math.log(1 - aT) + (1 - aT) + aT * x * x - 1);
    }
    float[] xt = new float[total];
    double[] noise = new double[total];
    int[] t = new int[n];
    for (int k = steps - 1; k >= 0; k--) {
      SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + k);
      double sa = s.sqrtAlphaBar[k];
      double so = s.sqrtOneMinusAlphaBar[k];
      for (int i = 0; i < total; i++) {
        noise[i] = gaussian(r);
        xt[i] = (float) (sa * x0[i] + so * noise[i]);
      }
      java.util.Arrays.fill(t, k);
      float[] pred = net.x0(xt, t);
      int bucket = Math.min(buckets - 1, k * buckets / steps);
      double varP = sigma2[k] > 0 ? sigma2[k] : Math.exp(s.posteriorLogVarianceClipped[k]);
      double c1 = s.posteriorMeanCoef1[k];
      double c2 = s.posteriorMeanCoef2[k];
      for (int i = 0; i < total; i++) {
        double epsPred = (xt[i] - sa * pred[i]) / so;
        double e = epsPred - noise[i];
        bucketSum[bucket] += e * e;
        double muP = c1 * pred[i] + c2 * xt[i];
        if (k > 0) {
          double muQ = c1 * x0[i] + c2 * xt[i];
          double varQ = s.posteriorVariance[k];
          double d = muQ - muP;
          terms[i / dims] += 0.5 * (Math.log(varP) - Math.log(varQ)) + (varQ + d * d) / (2 * varP) - 0.5;
        } else {
          int ch = i % c;
          long pixel = Math.round((x0[i] - shift[ch]) / scale[ch]);
          decoder[i / dims] -= discretizedLogLikelihood(x0[i], pixel, scale[ch] / 2, muP, Math.sqrt(varP));
        }
      }
      bucketCount[bucket] += total;
    }
    double ln2d = Math.log(2) * dims;
    double sum = 0;
    double sumSq = 0;
    double pSum = 0;
    double tSum = 0;
    double dSum = 0;
    for (int j = 0; j < n; j++) {
      perImage[j] = (prior[j] + terms[j] + decoder[j]) / ln2d;
      sum += perImage[j];
      sumSq += perImage[j] * perImage[j];
      pSum += prior[j] / ln2d;
      tSum += terms[j] / ln2d;
      dSum += decoder[j] / ln2d;
    }
    double mean = sum / n;
    double se = n > 1 ? Math.sqrt(Math.max(0, (sumSq - n * mean * mean) / (n - 1)) / n) : Double.NaN;
    double[] mse = new double[buckets];
    for (int b = 0; b < buckets; b++) mse[b] = bucketCount[b] > 0 ? bucketSum[b] / bucketCount[b] : Double.NaN;
    return new Result(n, pSum / n, tSum / n, dSum / n, mean, se, mse);
  }

  /** The prior term KL(q(x_T|x_0) || N(0, I)) in bits/dim for one value x_0 (no network involved). */
  public static double priorBitsPerDim(Schedule s, double x0) {
    double a = s.alphaBar[s.timesteps - 1];
    return 0.5 * (-Math.log(1 - a) + (1 - a) + a * x0 * x0 - 1) / Math.log(2);
  }

  /**
   * log of the probability mass N(mu, sigma^2) puts on the bin [x - h, x + h] of pixel {@code pixel}; the first bin
   * extends to -infinity and the last (255) to +infinity.
   */
  public static double discretizedLogLikelihood(double x, long pixel, double h, double mu, double sigma) {
    double upper = pixel >= 255 ? 1.0 : normalCdf((x + h - mu) / sigma);
    double lower = pixel <= 0 ? 0.0 : normalCdf((x - h - mu) / sigma);
    return Math.log(Math.max(upper - lower, 1e-300));
  }

  /** Standard normal CDF via erfc (relative error below 1.2e-7 everywhere). */
  public static double normalCdf(double z) {
    return 0.5 * erfc(-z / Math.sqrt(2));
  }

  /** Complementary error function (Chebyshev fit, Numerical Recipes' erfcc; fractional error < 1.2e-7). */
  static double erfc(double x) {
    double z = Math.abs(x);
    double t = 1 / (1 + 0.5 * z);
    double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? r : 2 - r;
  }

  private static double gaussian(SplittableRandom r) {
    // Box-Muller from two uniforms in (0, 1]
    double u1 = 1.0 - r.nextDouble();
    double u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
