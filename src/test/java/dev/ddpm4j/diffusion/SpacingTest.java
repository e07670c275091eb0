package dev.ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/** Timestep lists against hand-computed ones (T = 1000), an independent interpolation, and the graph version. */
class SpacingTest {
  final Schedule s = Schedule.linear(1e-4, 0.02, 1000);

  static int[] stride(int from, int step, int count) {
    int[] out = new int[count];
    for (int i = 0; i < count; i++) out[i] = from - i * step;
    return out;
  }

  @Test
  void leadingIsFloorOfJTOverK() {
    assertArrayEquals(new int[] {0}, Spacing.LEADING.timesteps(s, 1));
    assertArrayEquals(new int[] {500, 0}, Spacing.LEADING.timesteps(s, 2));
    assertArrayEquals(stride(900, 100, 10), Spacing.LEADING.timesteps(s, 10));
    assertArrayEquals(stride(980, 20, 50), Spacing.LEADING.timesteps(s, 50));
    assertArrayEquals(new int[] {666, 333, 0}, Spacing.LEADING.timesteps(s, 3));
  }

  @Test
  void trailingStartsAtTheLastStep() {
    assertArrayEquals(new int[] {999}, Spacing.TRAILING.timesteps(s, 1));
    assertArrayEquals(new int[] {999, 499}, Spacing.TRAILING.timesteps(s, 2));
    assertArrayEquals(stride(999, 100, 10), Spacing.TRAILING.timesteps(s, 10));
    assertArrayEquals(stride(999, 20, 50), Spacing.TRAILING.timesteps(s, 50));
    // 1000, 666.67, 333.33 rounded, minus one
    assertArrayEquals(new int[] {999, 666, 332}, Spacing.TRAILING.timesteps(s, 3));
    // K = 16: 1000 - 62.5 j has ties, rounded half to even as numpy does: 937.5 -> 938, 812.5 -> 812
    int[] t16 = Spacing.TRAILING.timesteps(s, 16);
    assertEquals(937, t16[1]);
    assertEquals(811, t16[3]);
  }

  @Test
  void linspaceIncludesBothEnds() {
    assertArrayEquals(new int[] {999}, Spacing.LINSPACE.timesteps(s, 1));
    assertArrayEquals(new int[] {999, 0}, Spacing.LINSPACE.timesteps(s, 2));
    assertArrayEquals(new int[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0}, Spacing.LINSPACE.timesteps(s, 10));
    int[] t50 = Spacing.LINSPACE.timesteps(s, 50); // j * 999 / 49, j = 49 .. 0
    assertEquals(999, t50[0]);
    assertEquals(510, t50[24]); // 25 * 20.387755 = 509.69
    assertEquals(489, t50[25]); // 24 * 20.387755 = 489.31
    assertEquals(41, t50[47]); // 40.78
    assertEquals(20, t50[48]);
    assertEquals(0, t50[49]);
  }

  /** sigma = sqrt((1 - ab) / ab) to a fractional timestep by bisection over the table and linear interpolation. */
  double fractionalTimestep(double sigma) {
    double target = Math.log(sigma);
    double[] ls = new double[1000];
    for (int i = 0; i < 1000; i++) ls[i] = Math.log(Math.sqrt((1 - s.alphaBar[i]) / s.alphaBar[i]));
    if (target <= ls[0]) return 0;
    if (target >= ls[999]) return 999;
    int lo = 0;
    int hi = 999;
    while (hi - lo > 1) {
      int mid = (lo + hi) / 2;
      if (ls[mid] <= target) lo = mid;
      else hi = mid;
    }
    return lo + (target - ls[lo]) / (ls[hi] - ls[lo]);
  }

  @Test
  void karrasFollowsTheRhoSevenSigmaRamp() {
    double smax = Math.sqrt((1 - s.alphaBar[999]) / s.alphaBar[999]);
    double smin = Math.sqrt((1 - s.alphaBar[0]) / s.alphaBar[0]);
    for (int k : new int[] {1, 2, 10, 50}) {
      int[] t = Spacing.KARRAS.timesteps(s, k);
      int[] expected = new int[k];
      for (int j = 0; j < k; j++) {
        double ramp = k == 1 ? 0 : j / (k - 1.0);
        double sigma = Math.pow(Math.pow(smax, 1 / 7.0) + ramp * (Math.pow(smin, 1 / 7.0) - Math.pow(smax, 1 / 7.0)), 7);
        expected[j] = (int) Math.rint(fractionalTimestep(sigma));
      }
      for (int j = 1; j < k; j++) expected[j] = Math.min(expected[j], expected[j - 1] - 1);
      for (int j = 0; j < k; j++) expected[j] = Math.max(expected[j], k - 1 - j);
      assertArrayEquals(expected, t, "K = " + k);
    }
    assertArrayEquals(new int[] {999}, Spacing.KARRAS.timesteps(s, 1));
    assertArrayEquals(new int[] {999, 0}, Spacing.KARRAS.timesteps(s, 2));
    // the published shape of the ramp: log sigma falls slowly at first, fast at the end
    assertArrayEquals(new int[] {999, 937, 864, 775, 663, 511, 301, 102, 18, 0}, Spacing.KARRAS.timesteps(s, 10));
  }

  @Test
  void uniformLambdaSpacesLogSnrEvenly() {
    for (int k : new int[] {1, 2, 10, 50}) {
      int[] t = Spacing.UNIFORM_LAMBDA.timesteps(s, k);
      double lmax = 0.5 * Math.log(s.alphaBar[0] / (1 - s.alphaBar[0]));
      double lmin = 0.5 * Math.log(s.alphaBar[999] / (1 - s.alphaBar[999]));
      int[] expected = new int[k];
      for (int j = 0; j < k; j++) {
        double lambda = lmin + (k == 1 ? 0 : j / (k - 1.0)) * (lmax - lmin);
        expected[j] = (int) Math.rint(fractionalTimestep(Math.exp(-lambda)));
      }
      // near t = 0 lambda changes fast, so several targets round to one step: those move down to stay distinct
      for (int j = 1; j < k; j++) expected[j] = Math.min(expected[j], expected[j - 1] - 1);
      for (int j = 0; j < k; j++) expected[j] = Math.max(expected[j], k - 1 - j);
      assertArrayEquals(expected, t, "K = " + k);
    }
  }

  @Test
  void everyListIsStrictlyDecreasingAndInRangeForEveryK() {
    for (Spacing sp : Spacing.values()) {
      for (int k = 1; k <= 1000; k += (k < 60 ? 1 : 47)) {
        int[] t = sp.timesteps(s, k);
        assertEquals(k, t.length);
        assertTrue(t[0] <= 999 && t[k - 1] >= 0, sp + " K=" + k);
        for (int j = 1; j < k; j++) assertTrue(t[j] < t[j - 1], sp + " K=" + k + " at " + j);
      }
      assertArrayEquals(stride(999, 1, 1000), sp.timesteps(s, 1000), sp + " with K = T visits every step");
    }
    assertThrows(IllegalArgumentException.class, () -> Spacing.LEADING.timesteps(s, 0));
    assertThrows(IllegalArgumentException.class, () -> Spacing.LEADING.timesteps(s, 1001));
  }

  @Test
  void theGraphComputesTheSameListsAsJava() {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      Placeholder<TInt32> k = tf.placeholder(TInt32.class);
      Spacing[] all = Spacing.values();
      var lists = new java.util.ArrayList<org.tensorflow.Operand<TInt32>>();
      for (Spacing sp : all) lists.add(sp.timesteps(tf.withSubScope(sp.key()), s, k));
      try (Session session = new Session(g)) {
        for (int kk = 1; kk <= 1000; kk += (kk < 80 ? 1 : 37)) {
          try (TInt32 kt = TInt32.scalarOf(kk)) {
            Session.Runner r = session.runner().feed(k, kt);
            lists.forEach(r::fetch);
            try (Result res = r.run()) {
              for (int i = 0; i < all.length; i++) {
                TInt32 out = (TInt32) res.get(i);
                int[] got = new int[(int) out.size()];
                for (int j = 0; j < got.length; j++) got[j] = out.getInt(j);
                assertArrayEquals(all[i].timesteps(s, kk), got, all[i] + " K=" + kk);
              }
            }
          }
        }
      }
    }
  }
}
