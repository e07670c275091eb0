package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Synthetic images of a known distribution, for tests and smoke runs. With a fixed seed the set is identical on every
 * machine.
 * <ul>
 *   <li>{@code shapes}: a black canvas with one filled disc (label 0) or axis-aligned square (label 1); center uniform
 *       in the middle half of the image, radius/half-side uniform in [size/8, size/4], fill intensity (per channel)
 *       uniform in [128, 255].
 *   <li>{@code gradients}: a linear ramp from a to b (each uniform in [0, 255] per channel) along a direction chosen
 *       uniformly among horizontal (label 0), vertical (label 1) and diagonal (label 2).
 *   <li>{@code rings}: centered on the image, a ring (label 0: outer radius uniform in [size/4, 3 size/8], width
 *       size/8) or a filled square (label 1: half-side uniform in the same range); intensity uniform in [128, 255].
 *       The center pixel tells the classes apart (dark for rings), which makes class-conditional sampling testable.
 * </ul>
 */
public final class Synthetic {
  private Synthetic() {}

  public static Dataset generate(ExperimentConfig.Data cfg, long seed) {
    int n = cfg.limit() > 0 ? Math.min(cfg.limit(), cfg.synthetic().numImages()) : cfg.synthetic().numImages();
    int s = cfg.imageSize();
    int c = cfg.channels();
    byte[] px = new byte[n * s * s * c];
    int[] labels = new int[n];
    SplittableRandom rnd = new SplittableRandom(seed ^ 0x5EED5EEDL);
    String pattern = cfg.synthetic().pattern();
    boolean shapes = pattern.equals("shapes");
    for (int i = 0; i < n; i++) {
      int base = i * s * s * c;
      if (shapes) {
        int label = rnd.nextInt(2);
        double cx = s * (0.25 + 0.5 * rnd.nextDouble());
        double cy = s * (0.25 + 0.5 * rnd.nextDouble());
        double r = s * (0.125 + 0.125 * rnd.nextDouble());
        int[] color = new int[c];
        for (int k = 0; k < c; k++) color[k] = 128 + rnd.nextInt(128);
        for (int y = 0; y < s; y++) {
          for (int x = 0; x < s; x++) {
            double dx = x + 0.5 - cx;
            double dy = y + 0.5 - cy;
            boolean inside = label == 0 ? dx * dx + dy * dy <= r * r : Math.abs(dx) <= r && Math.abs(dy) <= r;
            if (inside) for (int k = 0; k < c; k++) px[base + (y * s + x) * c + k] = (byte) color[k];
          }
        }
        labels[i] = label;
      } else if (pattern.equals("rings")) {
        int label = rnd.nextInt(2);
        double r = s * (0.25 + 0.125 * rnd.nextDouble());
        double inner = r - s / 8.0;
        int[] color = new int[c];
        for (int k = 0; k < c; k++) color[k] = 128 + rnd.nextInt(128);
        double mid = s / 2.0;
        for (int y = 0; y < s; y++) {
          for (int x = 0; x < s; x++) {
            double dx = x + 0.5 - mid;
            double dy = y + 0.5 - mid;
            double d2 = dx * dx + dy * dy;
            boolean inside = label == 0 ? d2 <= r * r && d2 >= inner * inner : Math.abs(dx) <= r && Math.abs(dy) <= r;
            if (inside) for (int k = 0; k < c; k++) px[base + (y * s + x) * c + k] = (byte) color[k];
          }
        }
        labels[i] = label;
      } else {
        int label = rnd.nextInt(3);
        int[] a = new int[c];
        int[] b = new int[c];
        for (int k = 0; k < c; k++) {
          a[k] = rnd.nextInt(256);
          b[k] = rnd.nextInt(256);
        }
        for (int y = 0; y < s; y++) {
          for (int x = 0; x < s; x++) {
            double t = switch (label) {
              case 0 -> x / (double) (s - 1);
              case 1 -> y / (double) (s - 1);
              default -> (x + y) / (double) (2 * s - 2);
            };
            for (int k = 0; k < c; k++) px[base + (y * s + x) * c + k] = (byte) Math.round(a[k] + (b[k] - a[k]) * t);
          }
        }
        labels[i] = label;
      }
    }
    List<String> names = switch (pattern) {
      case "shapes" -> List.of("disc", "square");
      case "rings" -> List.of("ring", "square");
      default -> List.of("horizontal", "vertical", "diagonal");
    };
    return new Dataset("synthetic/" + cfg.synthetic().pattern(), px, labels, n, s, s, c, names, 0);
  }
}
