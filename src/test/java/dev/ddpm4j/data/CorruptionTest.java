package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The calibration corruptions against hand-computed pixels and their defining statistics. */
class CorruptionTest {
  @Test
  void blurSpreadsOnePixelIntoGaussianTaps() {
    int s = 9;
    byte[] px = new byte[s * s];
    px[4 * s + 4] = (byte) 200;
    byte[] b = new Corruption(Corruption.Kind.BLUR, 1.0).apply(px, 1, s, s, 1, 0);
    // the 2-D kernel is the outer product of exp(-i^2/2) taps over -3..3, normalized
    double z = 0;
    for (int i = -3; i <= 3; i++) z += Math.exp(-i * i / 2.0);
    for (int dy = -3; dy <= 3; dy++) {
      for (int dx = -3; dx <= 3; dx++) {
        long want = Math.round(200 * Math.exp(-(dx * dx + dy * dy) / 2.0) / (z * z));
        assertEquals(want, b[(4 + dy) * s + 4 + dx] & 0xff, "tap " + dy + "," + dx);
      }
    }
    assertEquals(0, b[0], "beyond the radius");
    byte[] flat = new byte[s * s * 3];
    java.util.Arrays.fill(flat, (byte) 77);
    assertArrayEquals(flat, new Corruption(Corruption.Kind.BLUR, 0.5).apply(flat, 1, s, 3 * 1, 3 * 3, 0),
        "a flat image stays flat, edges included (replicated)");
  }

  @Test
  void noiseHasTheStatedStandardDeviationAndRepeatsForASeed() {
    int n = 200_000;
    byte[] px = new byte[n];
    java.util.Arrays.fill(px, (byte) 128);
    Corruption c = new Corruption(Corruption.Kind.NOISE, 0.05);
    byte[] a = c.apply(px, 1, 1, n, 1, 3);
    double sum = 0;
    double sq = 0;
    for (byte v : a) {
      double d = (v & 0xff) - 128;
      sum += d;
      sq += d * d;
    }
    double std = Math.sqrt(sq / n - (sum / n) * (sum / n));
    assertEquals(0.05 * 255, std, 0.1, "sigma 0.05 of full scale (rounding adds 1/12 to the variance)");
    assertEquals(0, sum / n, 0.1);
    assertArrayEquals(a, c.apply(px, 1, 1, n, 1, 3));
    assertTrue(!java.util.Arrays.equals(a, c.apply(px, 1, 1, n, 1, 4)), "another seed, other noise");
  }

  @Test
  void quantizeShiftAndPureNoise() {
    byte[] px = {0, 8, 9, 17, (byte) 100, (byte) 255};
    assertArrayEquals(new byte[] {0, 0, 17, 17, (byte) 102, (byte) 255},
        new Corruption(Corruption.Kind.QUANTIZE, 16).apply(px, 1, 1, 6, 1, 0), "levels 0, 17, 34, ... 255");
    assertArrayEquals(new byte[] {0, 0, 0, 0, (byte) 85, (byte) 255},
        new Corruption(Corruption.Kind.QUANTIZE, 4).apply(px, 1, 1, 6, 1, 0), "levels 0, 85, 170, 255");
    byte[] rgb = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assertArrayEquals(new byte[] {1, 2, 3, 1, 2, 3, 4, 5, 6},
        new Corruption(Corruption.Kind.SHIFT, 1).apply(rgb, 1, 1, 3, 3, 0), "one pixel right, first column repeated");
    byte[] noise = new Corruption(Corruption.Kind.PURE_NOISE, 0).apply(new byte[100_000], 1, 1, 100_000, 1, 0);
    double mean = 0;
    for (byte v : noise) mean += v & 0xff;
    assertEquals(127.5, mean / noise.length, 1.0, "uniform over 0..255");
  }

  @Test
  void calibrationSetNamesAndMildness() {
    List<String> keys = Corruption.CALIBRATION.stream().map(Corruption::key).toList();
    assertEquals(List.of("clean", "blur_0.5", "blur_1", "noise_0.02", "noise_0.05", "levels_16", "levels_4", "shift_1",
        "pure_noise"), keys);
    assertEquals(List.of("blur_0.5", "noise_0.02", "levels_16"),
        Corruption.CALIBRATION.stream().filter(Corruption::mild).map(Corruption::key).toList());
  }
}
