package dev.ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat64;

class DiffusionOpsTest {
  final Schedule schedule = Schedule.linear(1e-4, 0.02, 1000);

  @Test
  void qSampleHasTheClosedFormMomentsAndX0FromEpsInvertsIt() {
    int n = 40000;
    int step = 499;
    double x0v = 0.7;
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      var shape = tf.constant(new long[] {n, 1, 1, 1});
      var x0 = tf.fill(shape, tf.constant(x0v));
      var noise = tf.random.statelessRandomNormal(shape, tf.constant(new long[] {5, 6}), TFloat64.class);
      var t = tf.fill(tf.constant(new int[] {n}), tf.constant(step));
      var xt = d.qSample(x0, t, noise);
      var back = d.x0FromEps(xt, t, noise);
      var flat = tf.reshape(xt, tf.constant(new long[] {-1}));
      var mean = tf.math.mean(flat, tf.constant(0));
      var var = tf.math.mean(tf.math.squaredDifference(flat, mean), tf.constant(0));
      var err = tf.max(tf.math.abs(tf.math.sub(back, x0)), tf.constant(new int[] {0, 1, 2, 3}));
      try (Result r = s.runner().fetch(mean).fetch(var).fetch(err).run()) {
        double m = ((TFloat64) r.get(0)).getDouble();
        double v = ((TFloat64) r.get(1)).getDouble();
        double expectedMean = Math.sqrt(schedule.alphaBar[step]) * x0v;
        double expectedVar = 1 - schedule.alphaBar[step];
        double se = Math.sqrt(expectedVar / n);
        assertEquals(expectedMean, m, 5 * se);
        assertEquals(expectedVar, v, 5 * expectedVar * Math.sqrt(2.0 / n));
        assertEquals(0.0, ((TFloat64) r.get(2)).getDouble(), 1e-12);
      }
    }
  }

  @Test
  void perExampleCoefficientsAreGatheredByTimestep() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      var t = tf.constant(new int[] {0, 999, 250});
      var c = d.extract(schedule.sqrtOneMinusAlphaBar, t);
      try (Result r = s.runner().fetch(c).run()) {
        TFloat64 out = (TFloat64) r.get(0);
        assertEquals(Shape.of(3, 1, 1, 1), out.shape());
        assertEquals(schedule.sqrtOneMinusAlphaBar[0], out.getDouble(0, 0, 0, 0), 1e-15);
        assertEquals(schedule.sqrtOneMinusAlphaBar[999], out.getDouble(1, 0, 0, 0), 1e-15);
        assertEquals(schedule.sqrtOneMinusAlphaBar[250], out.getDouble(2, 0, 0, 0), 1e-15);
      }
    }
  }

  /** Runs a float64 graph built by {@code f} and returns its [N,1,1,1]-shaped result as doubles. */
  private static double[] eval(java.util.function.Function<Ops, org.tensorflow.Operand<TFloat64>> f) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      try (Result r = s.runner().fetch(f.apply(tf)).run()) {
        double[] out = new double[(int) r.get(0).size()];
        ((TFloat64) r.get(0)).asRawTensor().data().asDoubles().read(out);
        return out;
      }
    }
  }

  static final double[][][][] X0 = {{{{0.3}}}, {{{-0.8}}}, {{{0.95}}}, {{{-0.1}}}};
  static final double[][][][] EPS = {{{{1.2}}}, {{{-0.4}}}, {{{0.05}}}, {{{-2.0}}}};
  static final int[] T = {0, 10, 500, 999};

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"eps", "x0", "mean", "v"})
  void everyParameterizationConvertsBackToX0AndEps(String prediction) {
    double[] x0 = eval(tf -> {
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      var t = tf.constant(T);
      var xt = d.qSample(tf.constant(X0), t, tf.constant(EPS));
      return d.predictedX0(prediction, d.target(prediction, tf.constant(X0), tf.constant(EPS), xt, t), xt, t);
    });
    double[] eps = eval(tf -> {
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      var t = tf.constant(T);
      var xt = d.qSample(tf.constant(X0), t, tf.constant(EPS));
      return d.predictedEps(prediction, d.target(prediction, tf.constant(X0), tf.constant(EPS), xt, t), xt, t);
    });
    for (int i = 0; i < 4; i++) {
      assertEquals(X0[i][0][0][0], x0[i], 1e-9, prediction + " -> x0 at t=" + T[i]);
      // eps recovered through x0 divides by sqrt(1/alpha_bar - 1), ~0.01 at the first step
      assertEquals(EPS[i][0][0][0], eps[i], 1e-7, prediction + " -> eps at t=" + T[i]);
    }
  }

  @Test
  void targetsMatchTheirClosedForms() {
    double[] v = eval(tf -> {
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      return d.target("v", tf.constant(X0), tf.constant(EPS), tf.constant(X0), tf.constant(T));
    });
    double[] mean = eval(tf -> {
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      var t = tf.constant(T);
      return d.target("mean", tf.constant(X0), tf.constant(EPS), d.qSample(tf.constant(X0), t, tf.constant(EPS)), t);
    });
    for (int i = 0; i < 4; i++) {
      int k = T[i];
      double x0 = X0[i][0][0][0];
      double e = EPS[i][0][0][0];
      assertEquals(Math.sqrt(schedule.alphaBar[k]) * e - Math.sqrt(1 - schedule.alphaBar[k]) * x0, v[i], 1e-12);
      double xt = Math.sqrt(schedule.alphaBar[k]) * x0 + Math.sqrt(1 - schedule.alphaBar[k]) * e;
      // the seed's form: mu~ = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - alpha_bar_t) eps)
      double mu = (xt - schedule.betas[k] / Math.sqrt(1 - schedule.alphaBar[k]) * e) / Math.sqrt(schedule.alphas[k]);
      assertEquals(mu, mean[i], 1e-12);
    }
  }

  @Test
  void weightedVlbForEpsIsTheSeedsWeightingAndTheDecoderAtTheFirstStep() {
    // t >= 1: L_{t-1} = KL(q(x_{t-1}|x_t,x_0) || N(mu_theta, sigma_t^2))
    //       = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)) ||eps - eps_theta||^2 (the seed's weighting)
    //         + (log sigma_t^2 - log beta~_t - 1 + beta~_t / sigma_t^2) / 2 (zero for sigma_t^2 = beta~_t);
    // t = 0: the discretized decoder -log p(x_0|x_1) over the 8-bit bins, as improved-diffusion's _vb_terms_bpd
    double[][][][] epsPred = {{{{1.0}}}, {{{0.1}}}, {{{0.3}}}, {{{-1.5}}}};
    for (String variance : new String[] {"beta", "beta_tilde"}) {
      var cfg = dev.ddpm4j.config.ExperimentConfig.defaults(java.util.List.of("diffusion.loss=weighted_vlb",
          "diffusion.variance=" + variance)).diffusion();
      double[] loss = eval(tf -> {
        DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule, variance);
        var t = tf.constant(T);
        var xt = d.qSample(tf.constant(X0), t, tf.constant(EPS));
        return d.loss(cfg, tf.constant(epsPred), tf.constant(X0), tf.constant(EPS), xt, t, SCALE, LOW, HIGH);
      });
      double expected = 0;
      for (int i = 0; i < 4; i++) {
        int k = T[i];
        // at the first step both fixed variances use the clipped beta~_2 (improved-DDPM's convention)
        double sigma2 = k == 0 ? schedule.posteriorVariance[1]
            : variance.equals("beta") ? schedule.betas[k] : schedule.posteriorVariance[k];
        double x0 = X0[i][0][0][0];
        double e = EPS[i][0][0][0];
        double diff = e - epsPred[i][0][0][0];
        if (k == 0) {
          double xt = Math.sqrt(schedule.alphaBar[0]) * x0 + Math.sqrt(1 - schedule.alphaBar[0]) * e;
          double x0Pred = (xt - Math.sqrt(1 - schedule.alphaBar[0]) * epsPred[i][0][0][0]) / Math.sqrt(schedule.alphaBar[0]);
          double mu = schedule.posteriorMeanCoef1[0] * x0Pred + schedule.posteriorMeanCoef2[0] * xt;
          long pixel = Math.round((x0 + 1) * 127.5);
          expected -= Elbo.discretizedLogLikelihood(x0, pixel, SCALE[0] / 2, mu, Math.sqrt(sigma2)) / 4;
        } else {
          double w = schedule.betas[k] * schedule.betas[k] / (2 * sigma2 * schedule.alphas[k] * (1 - schedule.alphaBar[k]));
          double tilde = schedule.posteriorVariance[k];
          expected += (w * diff * diff + 0.5 * (Math.log(sigma2) - Math.log(tilde) - 1 + tilde / sigma2)) / 4;
        }
      }
      assertEquals(expected, loss[0], 1e-7 * Math.abs(expected), variance);
    }
  }

  @Test
  void minSnrWeightingOfEveryParameterization() {
    double[] snr = schedule.snr();
    for (String prediction : new String[] {"eps", "x0", "v"}) {
      java.util.function.Function<String[], Double> lossOf = o -> eval(tf -> {
        var cfg = dev.ddpm4j.config.ExperimentConfig.defaults(java.util.List.of(o)).diffusion();
        DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule, cfg.variance());
        var t = tf.constant(T);
        var xt = d.qSample(tf.constant(X0), t, tf.constant(EPS));
        return d.loss(cfg, tf.constant(OUT), tf.constant(X0), tf.constant(EPS), xt, t);
      })[0];
      double plain = 0;
      double weighted = 0;
      for (int i = 0; i < 4; i++) {
        int k = T[i];
        double ab = schedule.alphaBar[k];
        double x0 = X0[i][0][0][0];
        double e = EPS[i][0][0][0];
        double target = switch (prediction) {
          case "eps" -> e;
          case "x0" -> x0;
          default -> Math.sqrt(ab) * e - Math.sqrt(1 - ab) * x0;
        };
        double err = (OUT[i][0][0][0] - target) * (OUT[i][0][0][0] - target);
        // Hang et al.: the x0-space weight min(SNR, 5), carried over to each parameterization's own error
        double w = switch (prediction) {
          case "eps" -> Math.min(snr[k], 5) / snr[k];
          case "x0" -> Math.min(snr[k], 5);
          default -> Math.min(snr[k], 5) / (snr[k] + 1);
        };
        plain += err / 4;
        weighted += w * err / 4;
      }
      String p = "diffusion.prediction=" + prediction;
      assertEquals(plain, lossOf.apply(new String[] {p}), 1e-12, prediction);
      assertEquals(weighted, lossOf.apply(new String[] {p, "diffusion.snr_gamma=5"}), 1e-9 * weighted, prediction);
    }
  }

  static final double[][][][] OUT = {{{{1.0}}}, {{{0.1}}}, {{{0.3}}}, {{{-1.5}}}};

  /** A learned-variance output [4,1,1,2]: the parameterization's channel, then v in [-1, 1]. */
  static final double[][][][] LEARNED = {{{{0.9, 0.2}}}, {{{0.1, -0.7}}}, {{{0.35, 1.0}}}, {{{-1.4, -1.0}}}};
  static final double[] SCALE = {1 / 127.5};
  static final double[] LOW = {-1};
  static final double[] HIGH = {1};

  @Test
  void learnedVarianceBoundTermsMatchThePlainJavaBound() {
    // x_0 at exact pixel levels: 0.3 is not one, so take the nearest levels
    double[][][][] x0 = new double[4][1][1][1];
    for (int i = 0; i < 4; i++) x0[i][0][0][0] = Math.round((X0[i][0][0][0] + 1) * 127.5) / 127.5 - 1;
    double[] terms = eval(tf -> {
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule, "learned_range");
      var t = tf.constant(T);
      var xt = d.qSample(tf.constant(x0), t, tf.constant(EPS));
      DiffusionOps.Split<TFloat64> split = d.split(tf.constant(LEARNED));
      var x0Pred = d.predictedX0("eps", split.mean(), xt, t);
      return d.vlbTerm(x0Pred, d.learnedLogVariance(split.varianceFraction(), t), tf.constant(x0), xt, t, SCALE, LOW,
          HIGH);
    });
    for (int i = 0; i < 4; i++) {
      int k = T[i];
      double ab = schedule.alphaBar[k];
      double x = x0[i][0][0][0];
      double xt = Math.sqrt(ab) * x + Math.sqrt(1 - ab) * EPS[i][0][0][0];
      double x0Pred = (xt - Math.sqrt(1 - ab) * LEARNED[i][0][0][0]) / Math.sqrt(ab);
      double f = (LEARNED[i][0][0][1] + 1) / 2;
      double logVar = schedule.learnedLogVariance(k, f);
      double muP = schedule.posteriorMeanCoef1[k] * x0Pred + schedule.posteriorMeanCoef2[k] * xt;
      double expected;
      if (k == 0) {
        long pixel = Math.round((x + 1) * 127.5);
        expected = -Elbo.discretizedLogLikelihood(x, pixel, SCALE[0] / 2, muP, Math.exp(0.5 * logVar));
      } else {
        double muQ = schedule.posteriorMeanCoef1[k] * x + schedule.posteriorMeanCoef2[k] * xt;
        double varQ = schedule.posteriorVariance[k];
        double varP = Math.exp(logVar);
        expected = 0.5 * (Math.log(varP) - Math.log(varQ)) + (varQ + (muQ - muP) * (muQ - muP)) / (2 * varP) - 0.5;
      }
      // the decoder's CDF in Java is a 1.2e-7 erfc fit; the graph uses erf
      assertEquals(expected, terms[i], 1e-6 * Math.max(1, Math.abs(expected)), "t = " + k);
    }
  }

  @Test
  void hybridIsSimplePlusLambdaTTimesTheBoundInBitsWithTheMeansGradientStopped() {
    var cfg = dev.ddpm4j.config.ExperimentConfig.defaults(java.util.List.of("diffusion.variance=learned_range",
        "diffusion.loss=hybrid", "diffusion.vlb_weight=0.001")).diffusion();
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule, "learned_range");
      var t = tf.constant(T);
      var x0 = tf.constant(X0);
      var xt = d.qSample(x0, t, tf.constant(EPS));
      var out = tf.identity(tf.constant(LEARNED));
      var hybrid = d.loss(cfg, out, x0, tf.constant(EPS), xt, t, SCALE, LOW, HIGH);
      var simple = d.loss(dev.ddpm4j.config.ExperimentConfig.defaults(java.util.List.of("diffusion.variance="
          + "learned_range", "diffusion.loss=weighted_vlb")).diffusion(), out, x0, tf.constant(EPS), xt, t, SCALE, LOW,
          HIGH);
      DiffusionOps.Split<TFloat64> split = d.split(out);
      var mse = tf.math.mean(tf.math.squaredDifference(split.mean(), tf.constant(EPS)), tf.constant(new int[] {0, 1,
          2, 3}));
      var gHybrid = g.addGradients(hybrid.asOutput(), new org.tensorflow.Output<?>[] {out.asOutput()})[0];
      var gMse = g.addGradients(mse.asOutput(), new org.tensorflow.Output<?>[] {out.asOutput()})[0];
      try (Result r = s.runner().fetch(hybrid).fetch(simple).fetch(mse).fetch(gHybrid).fetch(gMse).run()) {
        double h = ((TFloat64) r.get(0)).getDouble();
        double vb = ((TFloat64) r.get(1)).getDouble(); // weighted_vlb with a learned variance: the bound's mean term
        double m = ((TFloat64) r.get(2)).getDouble();
        assertEquals(m + 0.001 * 1000 * vb / Math.log(2), h, 1e-12, "lambda T L_t in bits");
        double[] gh = new double[8];
        double[] gm = new double[8];
        ((TFloat64) r.get(3)).asRawTensor().data().asDoubles().read(gh);
        ((TFloat64) r.get(4)).asRawTensor().data().asDoubles().read(gm);
        for (int i = 0; i < 4; i++) {
          assertEquals(gm[2 * i], gh[2 * i], 1e-12, "the mean channel learns from the MSE alone");
          assertEquals(0.0, gm[2 * i + 1], 0);
          assertTrue(Math.abs(gh[2 * i + 1]) > 0 || T[i] == 0, "the variance channel learns from the bound");
        }
      }
    }
  }
}
