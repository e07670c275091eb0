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
 * p(x_{t-1}|x_t) = N(mu~(x_t, x0_theta), sigma_t^2). The variance is the model's: fixed ({@link
 * Schedule#fixedVariance}: beta_t or beta~_t, both with the clipped beta~_2 at t = 1, as the improved-DDPM reference)
 * or learned (the network's log sigma^2). x0_theta is clipped to the data range by default, as the samplers do. The
 * network enters only through x0_theta (and its variance), so any parameterization works.
 *
 * <p>The bound can be scored on a subset of the dimensions: a dataset padded to the model's size (Fashion-MNIST's
 * 28x28 in 32x32) has border pixels that cost almost nothing, so the primary figure counts only the data's own
 * pixels; the figure over all dimensions is reported beside it.
 */
public final class Elbo {
  /** The network's prediction for x_t at 0-based timesteps t: x_0 and, for a learned variance, log sigma_t^2. */
  public record Prediction(float[] x0, float[] logVariance) {}

  /** The network as the bound needs it. */
  public interface Denoise {
    Prediction predict(float[] xt, int[] t);
  }

  /** Bits/dim of each part, averaged over images, and the standard error of the total over images. */
  public record Parts(double prior, double diffusionTerms, double decoder, double total, double totalStandardError) {}

  /**
   * The bound over the scored dimensions ({@code scored}) and over all ({@code all}), the number of each, and the eps
   * MSE per timestep bucket (all dimensions).
   */
  public record Result(int images, Parts scored, Parts all, int scoredDims, int dims, double[] epsMsePerBucket) {
    public double prior() {
      return scored.prior();
    }

    public double diffusionTerms() {
      return scored.diffusionTerms();
    }

    public double decoder() {
      return scored.decoder();
    }

    public double total() {
      return scored.total();
    }

    public double totalStandardError() {
      return scored.totalStandardError();
    }
  }

  private Elbo() {}

  /** The bound over every dimension with x0_theta clipped (see the full form). */
  public static Result evaluate(Schedule s, String variance, float[] x0, int n, int dims, double[] scale,
      double[] shift, Denoise net, long seed, int buckets) {
    return evaluate(s, variance, x0, n, dims, scale, shift, null, true, net, seed, buckets);
  }

  /**
   * @param x0 n images in model space, each exactly at a pixel value: x = pixel * scale[c] + shift[c]
   * @param variance beta, beta_tilde or learned_range (then the network supplies log sigma^2)
   * @param scale per-channel scale of the normalization (a pixel bin is scale wide)
   * @param dims values per image (H*W*C); channels is scale.length
   * @param scored which of an image's dims the primary figure counts (null: all)
   * @param clip whether x0_theta is clipped to the data range before the posterior mean
   * @param buckets number of equal timestep ranges for the eps MSE report
   */
  public static Result evaluate(Schedule s, String variance, float[] x0, int n, int dims, double[] scale,
      double[] shift, boolean[] scored, boolean clip, Denoise net, long seed, int buckets) {
    int c = scale.length;
    int total = n * dims;
    boolean learned = variance.equals("learned_range");
    double[] sigma2 = learned ? null : s.fixedVariance(variance);
    double[][] prior = new double[2][n];
    double[][] terms = new double[2][n];
    double[][] decoder = new double[2][n];
    double[] bucketSum = new double[buckets];
    long[] bucketCount = new long[buckets];
    int steps = s.timesteps;
    double aT = s.alphaBar[steps - 1];
    int scoredDims = 0;
    for (int d = 0; d < dims; d++) if (scored == null || scored[d]) scoredDims++;
    for (int i = 0; i < total; i++) {
      double x = x0[i];
      double p = 0.5 * (-Math.log(1 - aT) + (1 - aT) + aT * x * x - 1);
      add(prior, scored, i, dims, p);
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
      Prediction pr = net.predict(xt, t);
      float[] pred = pr.x0();
      if (learned && pr.logVariance() == null) {
        throw new IllegalArgumentException("variance learned_range: the network gave no log variance");
      }
      int bucket = Math.min(buckets - 1, k * buckets / steps);
      double c1 = s.posteriorMeanCoef1[k];
      double c2 = s.posteriorMeanCoef2[k];
      for (int i = 0; i < total; i++) {
        int ch = i % c;
        double xp = pred[i];
        if (clip) xp = Math.max(shift[ch], Math.min(255 * scale[ch] + shift[ch], xp));
        double epsPred = (xt[i] - sa * xp) / so;
        double e = epsPred - noise[i];
        bucketSum[bucket] += e * e;
        double varP = learned ? Math.exp(pr.logVariance()[i]) : sigma2[k];
        double muP = c1 * xp + c2 * xt[i];
        if (k > 0) {
          double muQ = c1 * x0[i] + c2 * xt[i];
          double varQ = s.posteriorVariance[k];
          double d = muQ - muP;
          add(terms, scored, i, dims, 0.5 * (Math.log(varP) - Math.log(varQ)) + (varQ + d * d) / (2 * varP) - 0.5);
        } else {
          long pixel = Math.round((x0[i] - shift[ch]) / scale[ch]);
          add(decoder, scored, i, dims, -discretizedLogLikelihood(x0[i], pixel, scale[ch] / 2, muP, Math.sqrt(varP)));
        }
      }
      bucketCount[bucket] += total;
    }
    double[] mse = new double[buckets];
    for (int b = 0; b < buckets; b++) mse[b] = bucketCount[b] > 0 ? bucketSum[b] / bucketCount[b] : Double.NaN;
    return new Result(n, parts(prior[0], terms[0], decoder[0], scoredDims), parts(prior[1], terms[1], decoder[1], dims),
        scoredDims, dims, mse);
  }

  /** Adds v to image i / dims of the all-dimension sums, and of the scored ones when dimension i % dims is scored. */
  private static void add(double[][] sums, boolean[] scored, int i, int dims, double v) {
    if (scored == null || scored[i % dims]) sums[0][i / dims] += v;
    sums[1][i / dims] += v;
  }

  private static Parts parts(double[] prior, double[] terms, double[] decoder, int dims) {
    int n = prior.length;
    double ln2d = Math.log(2) * dims;
    double sum = 0;
    double sumSq = 0;
    double pSum = 0;
    double tSum = 0;
    double dSum = 0;
    for (int j = 0; j < n; j++) {
      double per = (prior[j] + terms[j] + decoder[j]) / ln2d;
      sum += per;
      sumSq += per * per;
      pSum += prior[j] / ln2d;
      tSum += terms[j] / ln2d;
      dSum += decoder[j] / ln2d;
    }
    double mean = sum / n;
    double se = n > 1 ? Math.sqrt(Math.max(0, (sumSq - n * mean * mean) / (n - 1)) / n) : Double.NaN;
    return new Parts(pSum / n, tSum / n, dSum / n, mean, se);
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
