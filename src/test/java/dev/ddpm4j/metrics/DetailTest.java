package dev.ddpm4j.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The Laplacian-variance detail statistic and the pixel-histogram distance against closed forms. */
class DetailTest {
  @Test
  void laplacianVarianceOfACheckerboardAndOfARamp() {
    int s = 6;
    byte[] board = new byte[s * s];
    for (int y = 0; y < s; y++) for (int x = 0; x < s; x++) board[y * s + x] = (byte) ((x + y) % 2 == 0 ? 10 : 0);
    // interior L = 4p - 4 neighbours: +40 on the 10s, -40 on the 0s, half each over the 4x4 interior -> variance 1600
    assertEquals(1600, Detail.whole(s).perImage(board, 1, s, s, 1)[0], 1e-9);
    byte[] ramp = new byte[s * s];
    for (int y = 0; y < s; y++) for (int x = 0; x < s; x++) ramp[y * s + x] = (byte) (20 * x + 3 * y);
    assertEquals(0, Detail.whole(s).perImage(ramp, 1, s, s, 1)[0], 1e-9, "a linear ramp has no curvature");
    byte[] rgb = new byte[s * s * 3];
    for (int i = 0; i < s * s; i++) {
      rgb[3 * i] = (byte) (3 * (board[i] & 0xff));
      // channels 1 and 2 stay 0: the grey mean is the board again
    }
    assertEquals(1600, Detail.whole(s).perImage(rgb, 1, s, s, 3)[0], 1e-9, "channels are averaged first");
    // a region: the board inside a 10x10 black frame at offset 2
    byte[] framed = new byte[10 * 10];
    for (int y = 0; y < s; y++) System.arraycopy(board, y * s, framed, (y + 2) * 10 + 2, s);
    assertEquals(1600, new Detail(2, s).perImage(framed, 1, 10, 10, 1)[0], 1e-9);
  }

  @Test
  void medianRatioAndError() {
    assertEquals(2.5, Detail.median(new double[] {4, 1, 2, 3}), 0);
    assertEquals(3, Detail.median(new double[] {5, 3, 1}), 0);
    assertEquals(0.5, Detail.ratio(new double[] {1, 1, 1}, new double[] {2, 2, 9}), 0);
    assertEquals(Math.log(2), Detail.error(0.5), 1e-15);
    assertEquals(Math.log(2), Detail.error(2), 1e-15, "half and twice the detail are equally far");
    assertThrows(IllegalArgumentException.class, () -> Detail.ratio(new double[] {1}, new double[] {0}));
  }

  @Test
  void histogramDistanceIsTotalVariation() {
    Detail all = Detail.whole(3);
    // 9 pixels each; bins of 4 values: 0-3 -> 0, 4-7 -> 1, 8-11 -> 2, 252-255 -> 63
    byte[] a = {0, 0, 0, 1, 2, 3, 4, 5, 8}; // bin 0: 6, bin 1: 2, bin 2: 1
    byte[] b = {0, 0, 0, 4, 4, 4, -1, -1, -1}; // bin 0: 3, bin 1: 3, bin 63: 3
    Features ha = PixelHistogram.perImage(a, 1, 3, 3, 1, all);
    Features hb = PixelHistogram.perImage(b, 1, 3, 3, 1, all);
    assertEquals(6, ha.values()[0], 0);
    assertEquals(1, ha.values()[2], 0);
    assertEquals(3, hb.values()[63], 0);
    // p = (6, 2, 1, 0 ...)/9, q = (3, 3, 0, ... 3)/9: TV = (3 + 1 + 1 + 3) / 9 / 2
    assertEquals(4.0 / 9, PixelHistogram.distance(ha, hb), 1e-12);
    assertEquals(0, PixelHistogram.distance(ha, ha), 0);
    byte[] white = new byte[9];
    java.util.Arrays.fill(white, (byte) 255);
    assertEquals(1, PixelHistogram.distance(PixelHistogram.perImage(new byte[9], 1, 3, 3, 1, all),
        PixelHistogram.perImage(white, 1, 3, 3, 1, all)), 0, "disjoint value sets");
    // sets pool their images: two images equal one of twice the pixels
    byte[] two = new byte[18];
    System.arraycopy(a, 0, two, 0, 9);
    System.arraycopy(b, 0, two, 9, 9);
    Features h2 = PixelHistogram.perImage(two, 2, 3, 3, 1, all);
    // pooled (9, 5, 1, ..., 3)/18 against a's (12, 4, 2, ...)/18: TV = (3 + 1 + 1 + 3) / 18 / 2
    assertEquals(4.0 / 18, PixelHistogram.distance(h2, ha), 1e-12);
  }
}
