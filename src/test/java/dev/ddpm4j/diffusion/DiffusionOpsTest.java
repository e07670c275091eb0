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

  @Test
  void simpleLossIsTheMeanSquaredError() {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      DiffusionOps<TFloat64> d = new DiffusionOps<>(tf, TFloat64.class, schedule);
      var a = tf.constant(new double[][][][] {{{{1, 2}}}, {{{3, 4}}}});
      var b = tf.constant(new double[][][][] {{{{0, 2}}}, {{{5, 1}}}});
      try (Result r = s.runner().fetch(d.simpleLoss(a, b)).run()) {
        assertEquals((1 + 0 + 4 + 9) / 4.0, ((TFloat64) r.get(0)).getDouble(), 1e-15);
      }
    }
  }

}
