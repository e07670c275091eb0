package dev.ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
  void weightedVlbForEpsIsTheSeedsWeighting() {
    // L_{t-1} = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)) ||eps - eps_theta||^2, sigma_t^2 = beta_t
    double[][][][] epsPred = {{{{1.0}}}, {{{0.1}}}, {{{0.3}}}, {{{-1.5}}}};
    for (String variance : new String[] {"beta", "beta_tilde"}) {
      var cfg = dev.ddpm4j.config.ExperimentConfig.defaults(java.util.List.of("diffusion.loss=weighted_vlb",
          "diffusion.variance=" + variance)).diffusion();
      double[] loss = eval(tf -> {
        DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule, variance);
        var t = tf.constant(T);
        var xt = d.qSample(tf.constant(X0), t, tf.constant(EPS));
        return d.loss(cfg, tf.constant(epsPred), tf.constant(X0), tf.constant(EPS), xt, t);
      });
      double expected = 0;
      for (int i = 0; i < 4; i++) {
        int k = T[i];
        double sigma2 = variance.equals("beta") ? schedule.betas[k]
            : (k == 0 ? schedule.posteriorVariance[1] : schedule.posteriorVariance[k]);
        double w = schedule.betas[k] * schedule.betas[k] / (2 * sigma2 * schedule.alphas[k] * (1 - schedule.alphaBar[k]));
        double diff = EPS[i][0][0][0] - epsPred[i][0][0][0];
        expected += w * diff * diff / 4;
      }
      assertEquals(expected, loss[0], 1e-9 * Math.abs(expected), variance);
    }
  }

  @Test
  void hybridAndMinSnrWeighting() {
    double[][][][] out = {{{{1.0}}}, {{{0.1}}}, {{{0.3}}}, {{{-1.5}}}};
    java.util.function.Function<String[], Double> lossOf = o -> eval(tf -> {
      var cfg = dev.ddpm4j.config.ExperimentConfig.defaults(java.util.List.of(o)).diffusion();
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule, cfg.variance());
      var t = tf.constant(T);
      var xt = d.qSample(tf.constant(X0), t, tf.constant(EPS));
      return d.loss(cfg, tf.constant(out), tf.constant(X0), tf.constant(EPS), xt, t);
    })[0];
    double simple = lossOf.apply(new String[] {"diffusion.loss=simple"});
    double vlb = lossOf.apply(new String[] {"diffusion.loss=weighted_vlb"});
    double hybrid = lossOf.apply(new String[] {"diffusion.loss=hybrid", "diffusion.vlb_weight=0.25"});
    assertEquals(simple + 0.25 * vlb, hybrid, 1e-12);
    double plain = 0;
    double weighted = 0;
    double[] snr = schedule.snr();
    for (int i = 0; i < 4; i++) {
      double e = EPS[i][0][0][0] - out[i][0][0][0];
      plain += e * e / 4;
      weighted += Math.min(snr[T[i]], 5.0) / snr[T[i]] * e * e / 4;
    }
    assertEquals(plain, simple, 1e-12);
    assertEquals(weighted, lossOf.apply(new String[] {"diffusion.snr_gamma=5"}), 1e-12);
  }
}
