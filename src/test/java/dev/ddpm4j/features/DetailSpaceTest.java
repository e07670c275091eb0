package dev.ddpm4j.features;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ddpm4j.metrics.Features;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The detail feature space against a plain-Java double-precision forward pass of its definition. */
class DetailSpaceTest {
  @Test
  void matchesTheDefinition() {
    int size = 8;
    int c = 2;
    int n = 3;
    SplittableRandom rng = new SplittableRandom(5);
    int[] widths = {32, 32, 64, 64};
    Map<String, float[]> w = new HashMap<>();
    int in = c;
    for (int k = 0; k < 4; k++) {
      float[] kernel = new float[9 * in * widths[k]];
      for (int i = 0; i < kernel.length; i++) kernel[i] = (float) (rng.nextGaussian() * Math.sqrt(2.0 / (9 * in)));
      float[] bias = new float[widths[k]];
      for (int i = 0; i < bias.length; i++) bias[i] = (float) (0.1 * rng.nextGaussian());
      w.put("conv" + k + ".w", kernel);
      w.put("conv" + k + ".b", bias);
      in = widths[k];
    }
    byte[] px = new byte[n * size * size * c];
    for (int i = 0; i < px.length; i++) px[i] = (byte) rng.nextInt(256);
    Features got;
    try (DetailSpace d = new DetailSpace(size, c, w)) {
      got = d.apply(px, n);
    }
    assertEquals(DetailSpace.WIDTH, got.d());
    for (int i = 0; i < n; i++) {
      double[][][] h = new double[size][size][c];
      for (int y = 0; y < size; y++) for (int x = 0; x < size; x++) for (int k = 0; k < c; k++) {
        h[y][x][k] = (px[((i * size + y) * size + x) * c + k] & 0xff) / 127.5 - 1;
      }
      h = conv(h, w.get("conv0.w"), w.get("conv0.b"), 32);
      double[][][] h1 = conv(h, w.get("conv1.w"), w.get("conv1.b"), 32);
      double[][][] p = new double[size / 2][size / 2][32];
      for (int y = 0; y < size / 2; y++) for (int x = 0; x < size / 2; x++) for (int k = 0; k < 32; k++) {
        p[y][x][k] = Math.max(Math.max(h1[2 * y][2 * x][k], h1[2 * y + 1][2 * x][k]),
            Math.max(h1[2 * y][2 * x + 1][k], h1[2 * y + 1][2 * x + 1][k]));
      }
      double[][][] h3 = conv(conv(p, w.get("conv2.w"), w.get("conv2.b"), 64), w.get("conv3.w"), w.get("conv3.b"), 64);
      double[] want = new double[DetailSpace.WIDTH];
      int half = size / 2;
      for (int qy = 0; qy < 2; qy++) for (int qx = 0; qx < 2; qx++) for (int k = 0; k < 32; k++) {
        double s = 0;
        for (int y = 0; y < half; y++) for (int x = 0; x < half; x++) s += sq(h1[qy * half + y][qx * half + x][k]);
        want[(qy * 2 + qx) * 32 + k] = Math.sqrt(s / (half * half));
      }
      for (int k = 0; k < 64; k++) {
        double s = 0;
        for (int y = 0; y < half; y++) for (int x = 0; x < half; x++) s += sq(h3[y][x][k]);
        want[128 + k] = Math.sqrt(s / (half * half));
      }
      for (int j = 0; j < want.length; j++) {
        assertEquals(want[j], got.values()[i * DetailSpace.WIDTH + j], 1e-4 * (1 + Math.abs(want[j])),
            "image " + i + " feature " + j);
      }
    }
  }

  private static double sq(double v) {
    return v * v;
  }

  /** 3x3 SAME convolution (zero padding), HWIO kernel, then bias and ReLU. */
  private static double[][][] conv(double[][][] x, float[] w, float[] b, int out) {
    int h = x.length;
    int wd = x[0].length;
    int in = x[0][0].length;
    double[][][] y = new double[h][wd][out];
    for (int r = 0; r < h; r++) for (int c = 0; c < wd; c++) for (int o = 0; o < out; o++) {
      double s = b[o];
      for (int dy = 0; dy < 3; dy++) for (int dx = 0; dx < 3; dx++) {
        int rr = r + dy - 1;
        int cc = c + dx - 1;
        if (rr < 0 || rr >= h || cc < 0 || cc >= wd) continue;
        for (int i = 0; i < in; i++) s += x[rr][cc][i] * w[((dy * 3 + dx) * in + i) * out + o];
      }
      y[r][c][o] = Math.max(0, s);
    }
    return y;
  }
}
