package dev.ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;

/**
 * The test every sampler passes (diffusers' common scheduler test, in spirit): on an analytic denoiser, the exact
 * posterior mean of Gaussian data, the graph loop equals the plain-Java reference, a pinned full-loop value holds, and
 * the deterministic solvers converge to the exact probability-flow map at their order.
 */
class SolverTest {
  static final Schedule S = Schedule.linear(1e-4, 0.02, 1000);
  static final double MU = 0.2;
  static final double SD = 0.3;
  static final double[] LOW = {-1};
  static final double[] HIGH = {1};

  /** E[x_0 | x_t] when x_0 ~ N(MU, SD^2) per pixel: the exact x_0 prediction of a perfect network. */
  static double[] posteriorMean(double[] x, int t) {
    double ab = S.alphaBar[t];
    double gain = Math.sqrt(ab) * SD * SD / (ab * SD * SD + 1 - ab);
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) out[i] = MU + gain * (x[i] - Math.sqrt(ab) * MU);
    return out;
  }

  /** The same as a graph {@link Denoiser}. */
  static final Denoiser GRAPH_POSTERIOR_MEAN = (tf, w, x, t, condition) -> {
    Operand<TFloat64> ab = tf.gather(tf.constant(S.alphaBar), t, tf.constant(0));
    Operand<TFloat64> sqrtAb = tf.math.sqrt(ab);
    Operand<TFloat64> gain = tf.math.div(tf.math.mul(sqrtAb, tf.constant(SD * SD)),
        tf.math.add(tf.math.mul(ab, tf.constant(SD * SD)), tf.math.sub(tf.constant(1.0), ab)));
    Operand<TFloat32> g = tf.reshape(tf.dtypes.cast(gain, TFloat32.class), tf.constant(new long[] {-1, 1, 1, 1}));
    Operand<TFloat32> m = tf.reshape(tf.dtypes.cast(tf.math.mul(sqrtAb, tf.constant(MU)), TFloat32.class),
        tf.constant(new long[] {-1, 1, 1, 1}));
    return new Denoiser.Prediction(tf.math.add(tf.constant((float) MU), tf.math.mul(g, tf.math.sub(x, m))));
  };

  /** The exact probability-flow ODE map from x at timestep t to x_0 for Gaussian data (the standardized x is kept). */
  static double exactFlow(double x, int t) {
    double ab = S.alphaBar[t];
    return MU + SD * (x - Math.sqrt(ab) * MU) / Math.sqrt(ab * SD * SD + 1 - ab);
  }

  static ReferenceSampler.NoiseSource gaussian(int n, long seed) {
    return stream -> {
      SplittableRandom r = new SplittableRandom(seed * 1000 + stream);
      double[] z = new double[n];
      for (int i = 0; i < n; i++) z[i] = Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
      return z;
    };
  }

  /** Largest error against the exact flow map, over n starting points, with K steps. */
  static double flowError(SamplerKind kind, Spacing spacing, int k) {
    int n = 200;
    ReferenceSampler.NoiseSource noise = gaussian(n, 7);
    int[] ts = spacing.timesteps(S, k);
    double[] out = ReferenceSampler.sample(kind.solver(S, "beta"), ts, 0, SolverTest::posteriorMean, noise, LOW, HIGH);
    double[] xT = noise.noise(0);
    double err = 0;
    for (int i = 0; i < n; i++) err = Math.max(err, Math.abs(out[i] - exactFlow(xT[i], ts[0])));
    return err;
  }

  @Test
  void deterministicSolversConvergeAtTheirOrderAndDpmSolverBeatsDdim() {
    // spacings that end at t = 0, so the last step's landing on the x_0 prediction adds almost no error
    double[] ddim = new double[4];
    double[] dpm = new double[4];
    double[] dpm3 = new double[4];
    int[] ks = {10, 20, 40, 80};
    for (int i = 0; i < ks.length; i++) {
      ddim[i] = flowError(SamplerKind.DDIM, Spacing.LEADING, ks[i]);
      dpm[i] = flowError(SamplerKind.DPMPP_2M, Spacing.UNIFORM_LAMBDA, ks[i]);
      dpm3[i] = flowError(SamplerKind.DPMPP_3M, Spacing.UNIFORM_LAMBDA, ks[i]);
    }
    String table = "K " + java.util.Arrays.toString(ks) + ": ddim " + java.util.Arrays.toString(ddim) + ", dpmpp_2m "
        + java.util.Arrays.toString(dpm) + ", dpmpp_3m " + java.util.Arrays.toString(dpm3);
    for (int i = 1; i < ks.length; i++) {
      assertTrue(ddim[i] < ddim[i - 1] && dpm[i] < dpm[i - 1] && dpm3[i] < dpm3[i - 1], "errors shrink with K: " + table);
    }
    assertTrue(dpm[0] < ddim[0] / 5, "DPM-Solver++ at K = 10 well below DDIM: " + table);
    // empirical orders from doubling K: about 1 for DDIM, about 2 for the second-order multistep solver
    double ddimOrder = Math.log(ddim[1] / ddim[2]) / Math.log(2);
    double dpmOrder = Math.log(dpm[1] / dpm[2]) / Math.log(2);
    assertTrue(ddimOrder > 0.8 && ddimOrder < 1.3, "DDIM order " + ddimOrder + ": " + table);
    assertTrue(dpmOrder > 1.8, "DPM-Solver++(2M) order " + dpmOrder + ": " + table);
    assertTrue(dpm3[1] < dpm[1] && dpm3[2] < dpm[2], "third order beats second at K = 20 and 40: " + table);
  }

  @Test
  void samplesOfTheGaussianApproachItsMeanAndSpread() {
    int n = 20000;
    Object[][] runs = {{SamplerKind.DDIM, Spacing.LEADING, 200}, {SamplerKind.DPMPP_2M, Spacing.UNIFORM_LAMBDA, 20},
        {SamplerKind.DPMPP_3M, Spacing.UNIFORM_LAMBDA, 20}, {SamplerKind.DPMPP_2M_SDE, Spacing.UNIFORM_LAMBDA, 20}};
    for (Object[] run : runs) {
      SamplerKind kind = (SamplerKind) run[0];
      int[] ts = ((Spacing) run[1]).timesteps(S, (Integer) run[2]);
      double[] x = ReferenceSampler.sample(kind.solver(S, "beta"), ts, 0, SolverTest::posteriorMean, gaussian(n, 3),
          LOW, HIGH);
      double mean = 0;
      for (double v : x) mean += v;
      mean /= n;
      double var = 0;
      for (double v : x) var += (v - mean) * (v - mean);
      double sd = Math.sqrt(var / (n - 1));
      assertEquals(MU, mean, 0.01, kind + " mean");
      assertEquals(SD, sd, 0.01, kind + " spread");
    }
  }

  @Test
  void firstOrderDpmSolverStepIsTheDdimStepWithEtaZero() {
    SplittableRandom r = new SplittableRandom(5);
    double[] x = new double[50];
    double[] x0 = new double[50];
    for (int i = 0; i < 50; i++) {
      x[i] = r.nextDouble() * 4 - 2;
      x0[i] = r.nextDouble() * 2 - 1;
    }
    int[] ts = {900, 612, 301, 40, 0};
    for (int j = 0; j < ts.length - 1; j++) {
      double[] dpm = new DpmSolverPlusPlus(S, 1).step(ts, j, 0, x, x0, null, List.of(), null);
      double[] ddim = new DdimSolver(S).step(ts, j, 0, x, x0, null, List.of(), null);
      for (int i = 0; i < 50; i++) assertEquals(ddim[i], dpm[i], 1e-12, "step " + j);
    }
  }

  @Test
  void firstOrderSdeDpmSolverStepIsTheDdimStepWithEtaOne() {
    // with e^-2h = ab_t (1 - ab_s) / ((1 - ab_t) ab_s), sigma_s^2 (1 - e^-2h) is DDIM's eta = 1 variance
    SplittableRandom r = new SplittableRandom(6);
    double[] x = new double[50];
    double[] x0 = new double[50];
    double[] z = new double[50];
    for (int i = 0; i < 50; i++) {
      x[i] = r.nextDouble() * 4 - 2;
      x0[i] = r.nextDouble() * 2 - 1;
      z[i] = r.nextDouble() * 2 - 1;
    }
    int[][] steps = {{900, 612}, {612, 301}, {301, 40}, {40, 0}};
    for (int[] ts : steps) {
      assertEquals(1, Solver.orderAt(2, 0, ts.length));
      double[] sde = new DpmSolverPlusPlusSde(S).step(ts, 0, 0, x, x0, null, List.of(x0), z);
      double[] ddim = new DdimSolver(S).step(ts, 0, 1, x, x0, null, List.of(), z);
      for (int i = 0; i < 50; i++) assertEquals(ddim[i], sde[i], 1e-12, "step from " + ts[0]);
    }
  }

  @Test
  void ancestralOverAllStepsUsesTheBetasOfTheSchedule() {
    // respacing recomputes beta' = 1 - ab_t / ab_s; over all T steps that is beta_t itself
    int[] ts = Spacing.TRAILING.timesteps(S, 1000);
    double[] x = {0.3, -0.7};
    double[] x0 = {0.1, 0.5};
    double[] z = {1.0, -2.0};
    for (int j : new int[] {0, 500, 998}) {
      int t = ts[j];
      double[] got = new AncestralSolver(S, "beta").step(ts, j, 0, x, x0, null, List.of(), z);
      for (int i = 0; i < 2; i++) {
        double expected = S.posteriorMeanCoef1[t] * x0[i] + S.posteriorMeanCoef2[t] * x[i] + Math.sqrt(S.betas[t]) * z[i];
        assertEquals(expected, got[i], 1e-9, "t = " + t);
      }
      double[] tilde = new AncestralSolver(S, "beta_tilde").step(ts, j, 0, x, x0, null, List.of(), z);
      double expected = S.posteriorMeanCoef1[t] * x0[0] + S.posteriorMeanCoef2[t] * x[0]
          + Math.sqrt(S.posteriorVariance[t]) * z[0];
      assertEquals(expected, tilde[0], 1e-9);
    }
  }

  /**
   * Pinned full-loop values: mean and mean |x| of the plain-Java loop on the analytic denoiser with fixed noise, K =
   * 10, leading spacing (eta 0.5 for DDIM). A change to any solver's maths moves these.
   */
  @ParameterizedTest
  @EnumSource(SamplerKind.class)
  void pinnedFullLoopValue(SamplerKind kind) {
    int[] ts = Spacing.LEADING.timesteps(S, 10);
    double[] x = ReferenceSampler.sample(kind.solver(S, "beta"), ts, 0.5, SolverTest::posteriorMean, gaussian(64, 11),
        LOW, HIGH);
    double mean = 0;
    double abs = 0;
    for (double v : x) {
      mean += v / x.length;
      abs += Math.abs(v) / x.length;
    }
    double[] pinned = switch (kind) {
      case ANCESTRAL -> new double[] {0.109754621863, 0.328335863381};
      case DDIM -> new double[] {0.180900115024, 0.205665591251};
      case DPMPP_2M -> new double[] {0.190367463009, 0.339618265686};
      case DPMPP_3M -> new double[] {0.190073101895, 0.347322758659};
      case DPMPP_2M_SDE -> new double[] {0.118861354587, 0.349365068092};
    };
    assertEquals(pinned[0], mean, 1e-10, kind + " mean");
    assertEquals(pinned[1], abs, 1e-10, kind + " mean |x|");
  }

  /**
   * Runs a solver's graph loop on a denoiser, and the plain-Java loop on {@code net} with the graph's own per-image
   * noise, and returns both results (graph first).
   */
  static double[][] graphAndReference(Solver solver, Denoiser graphNet, ReferenceSampler.Net net, Spacing spacing,
      int k, int n, float eta) {
    int h = 4;
    long seed = 42;
    int[] ts = spacing.timesteps(S, k);
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      SamplerLoop loop = new SamplerLoop(solver, graphNet, LOW, HIGH, h, h, 1);
      Operand<TFloat32> out = loop.sample(tf, "loop", new SamplerLoop.Inputs(tf.constant(seed), tf.constant(5L),
          tf.constant(n), spacing.timesteps(tf, S, tf.constant(k)), tf.constant(eta), Map.of()),
          new LinkedHashMap<>());
      List<Operand<TFloat32>> streams = new ArrayList<>();
      for (int s = 0; s <= k; s++) {
        streams.add(Noise.images(tf, tf.constant(seed), tf.constant(5L), tf.constant(n), tf.constant((long) s), h, h, 1));
      }
      try (Session session = new Session(g)) {
        Session.Runner r = session.runner().fetch(out);
        streams.forEach(r::fetch);
        try (Result res = r.run()) {
          double[] graph = toDouble(floats((TFloat32) res.get(0)));
          List<double[]> noise = new ArrayList<>();
          for (int s = 0; s <= k; s++) noise.add(toDouble(floats((TFloat32) res.get(s + 1))));
          return new double[][] {graph, ReferenceSampler.sample(solver, ts, eta, net, noise::get, LOW, HIGH)};
        }
      }
    }
  }

  /** The graph loop of every sampler against the plain-Java loop, with the graph's own per-image noise. */
  @ParameterizedTest
  @EnumSource(SamplerKind.class)
  void graphLoopMatchesTheReference(SamplerKind kind) {
    Spacing spacing = kind.spacings().get(kind.spacings().size() - 1);
    float eta = kind.takesEta() ? 0.7f : 0f;
    double[][] r = graphAndReference(kind.solver(S, "beta_tilde"), GRAPH_POSTERIOR_MEAN, SolverTest::posteriorMean,
        spacing, 7, 3, eta);
    for (int i = 0; i < r[1].length; i++) assertEquals(r[1][i], r[0][i], 2e-5, kind + " at " + i);
  }

  @Test
  void learnedVarianceInterpolatesTheRespacedBetas() {
    int[] ts = {900, 612, 301, 40, 0};
    double[] x = {0.3, -0.7};
    double[] x0 = {0.1, 0.5};
    double[] z = {1.0, -2.0};
    double[] f = {0.0, 1.0};
    AncestralSolver learned = new AncestralSolver(S, "learned_range");
    for (int j = 0; j < ts.length - 1; j++) {
      double[] got = learned.step(ts, j, 0, x, x0, f, List.of(), z);
      // f = 0 is the respaced posterior variance beta~', f = 1 the respaced beta'
      double[] tilde = new AncestralSolver(S, "beta_tilde").step(ts, j, 0, x, x0, null, List.of(), z);
      double[] beta = new AncestralSolver(S, "beta").step(ts, j, 0, x, x0, null, List.of(), z);
      assertEquals(tilde[0], got[0], 1e-12, "f = 0 at step " + j);
      assertEquals(beta[1], got[1], 1e-12, "f = 1 at step " + j);
    }
  }

  /** The analytic denoiser with a constant learned-variance fraction of 0.3. */
  static final Denoiser GRAPH_WITH_FRACTION = (tf, w, x, t, condition) -> new Denoiser.Prediction(
      GRAPH_POSTERIOR_MEAN.predict(tf, w, x, t, condition).x0(), tf.math.add(tf.math.mul(x, tf.constant(0f)),
          tf.constant(0.3f)));

  @Test
  void graphLoopWithALearnedVarianceMatchesTheReference() {
    ReferenceSampler.Net net = new ReferenceSampler.Net() {
      @Override
      public double[] x0(double[] x, int t) {
        return posteriorMean(x, t);
      }

      @Override
      public double[] varianceFraction(double[] x, int t) {
        double[] f = new double[x.length];
        java.util.Arrays.fill(f, 0.3);
        return f;
      }
    };
    double[][] r = graphAndReference(new AncestralSolver(S, "learned_range"), GRAPH_WITH_FRACTION, net,
        Spacing.TRAILING, 6, 2, 0f);
    for (int i = 0; i < r[1].length; i++) assertEquals(r[1][i], r[0][i], 2e-5, "at " + i);
  }

  @Test
  void noiseOfAnImageDoesNotDependOnItsBatch() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var all = Noise.images(tf, tf.constant(9L), tf.constant(0L), tf.constant(6), tf.constant(3L), 3, 3, 1);
      var tail = Noise.images(tf, tf.constant(9L), tf.constant(4L), tf.constant(2), tf.constant(3L), 3, 3, 1);
      var alone = Noise.images(tf, tf.constant(9L), tf.constant(2L), tf.constant(1), tf.constant(3L), 3, 3, 1);
      var otherStream = Noise.images(tf, tf.constant(9L), tf.constant(2L), tf.constant(1), tf.constant(4L), 3, 3, 1);
      try (Session s = new Session(g); Result r = s.runner().fetch(all).fetch(tail).fetch(alone).fetch(otherStream).run()) {
        float[] a = floats((TFloat32) r.get(0));
        float[] t = floats((TFloat32) r.get(1));
        float[] one = floats((TFloat32) r.get(2));
        float[] other = floats((TFloat32) r.get(3));
        for (int i = 0; i < 18; i++) assertEquals(a[4 * 9 + i], t[i], 0, "images 4 and 5 drawn alone");
        for (int i = 0; i < 9; i++) assertEquals(a[2 * 9 + i], one[i], 0, "image 2 drawn alone");
        assertTrue(one[0] != other[0] && one[1] != other[1], "streams differ");
        assertTrue(a[0] != a[9], "images differ");
      }
    }
  }

  static float[] floats(TFloat32 t) {
    float[] a = new float[(int) t.size()];
    t.asRawTensor().data().asFloats().read(a);
    return a;
  }

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }
}
