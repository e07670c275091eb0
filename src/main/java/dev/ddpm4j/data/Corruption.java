package dev.ddpm4j.data;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The fixed corruptions of real 8-bit images a feature space is calibrated with: what a metric must see before it may
 * decide anything. Each works on NHWC bytes, channel by channel, and is deterministic for a seed.
 *
 * <ul>
 *   <li>{@code blur} sigma: a Gaussian of that standard deviation in pixels, separable, radius ceil(3 sigma), edge
 *       pixels replicated, rounded;
 *   <li>{@code noise} sigma: Gaussian noise of sigma * 255 added to every value, rounded, clipped to 0..255;
 *   <li>{@code quantize} levels: each value rounded to the nearest of {@code levels} evenly spaced values in 0..255;
 *   <li>{@code shift}: the image moved one pixel right, the first column repeated;
 *   <li>{@code pure_noise}: every value uniform in 0..255 (nothing left of the image).
 * </ul>
 */
public record Corruption(Kind kind, double strength) {
  public enum Kind { CLEAN, BLUR, NOISE, QUANTIZE, SHIFT, PURE_NOISE }

  public static final Corruption CLEAN = new Corruption(Kind.CLEAN, 0);

  /** The calibration set, mild before strong within each kind. */
  public static final java.util.List<Corruption> CALIBRATION = java.util.List.of(CLEAN,
      new Corruption(Kind.BLUR, 0.5), new Corruption(Kind.BLUR, 1.0),
      new Corruption(Kind.NOISE, 0.02), new Corruption(Kind.NOISE, 0.05),
      new Corruption(Kind.QUANTIZE, 16), new Corruption(Kind.QUANTIZE, 4),
      new Corruption(Kind.SHIFT, 1), new Corruption(Kind.PURE_NOISE, 0));

  /** The mild ones: each must score well above the floor in at least one feature space. */
  public boolean mild() {
    return (kind == Kind.BLUR && strength <= 0.5) || (kind == Kind.NOISE && strength <= 0.02)
        || (kind == Kind.QUANTIZE && strength >= 16);
  }

  /** A short name: {@code blur_0.5}, {@code noise_0.02}, {@code levels_16}, {@code shift_1}, {@code pure_noise}. */
  public String key() {
    return switch (kind) {
      case CLEAN -> "clean";
      case BLUR -> "blur_" + fmt(strength);
      case NOISE -> "noise_" + fmt(strength);
      case QUANTIZE -> "levels_" + (int) strength;
      case SHIFT -> "shift_" + (int) strength;
      case PURE_NOISE -> "pure_noise";
    };
  }

  private static String fmt(double v) {
    String s = String.format(Locale.ROOT, "%.3f", v);
    return s.replaceAll("0+$", "").replaceAll("\\.$", "");
  }

  /** The corrupted copy of n images of h x w x c bytes. */
  public byte[] apply(byte[] px, int n, int h, int w, int c, long seed) {
    if ((long) n * h * w * c != px.length) throw new IllegalArgumentException(px.length + " bytes are not " + n + " images");
    return switch (kind) {
      case CLEAN -> px.clone();
      case BLUR -> blur(px, n, h, w, c, strength);
      case NOISE -> noise(px, strength, seed);
      case QUANTIZE -> quantize(px, (int) strength);
      case SHIFT -> shift(px, n, h, w, c, (int) strength);
      case PURE_NOISE -> pureNoise(px.length, seed);
    };
  }

  /** The normalized Gaussian taps of radius ceil(3 sigma). */
  static double[] gaussian(double sigma) {
    int r = (int) Math.ceil(3 * sigma);
    double[] k = new double[2 * r + 1];
    double sum = 0;
    for (int i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-i * i / (2 * sigma * sigma));
    for (int i = 0; i < k.length; i++) k[i] /= sum;
    return k;
  }

  static byte[] blur(byte[] px, int n, int h, int w, int c, double sigma) {
    double[] k = gaussian(sigma);
    int r = k.length / 2;
    byte[] out = new byte[px.length];
    double[] rows = new double[h * w];
    for (int i = 0; i < n; i++) {
      int base = i * h * w * c;
      for (int ch = 0; ch < c; ch++) {
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            double s = 0;
            for (int d = -r; d <= r; d++) {
              int xx = Math.min(w - 1, Math.max(0, x + d));
              s += k[d + r] * (px[base + (y * w + xx) * c + ch] & 0xff);
            }
            rows[y * w + x] = s;
          }
        }
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            double s = 0;
            for (int d = -r; d <= r; d++) s += k[d + r] * rows[Math.min(h - 1, Math.max(0, y + d)) * w + x];
            out[base + (y * w + x) * c + ch] = clip(s);
          }
        }
      }
    }
    return out;
  }

  static byte[] noise(byte[] px, double sigma, long seed) {
    SplittableRandom rng = new SplittableRandom(seed ^ 0x40153L);
    byte[] out = new byte[px.length];
    for (int i = 0; i < px.length; i++) out[i] = clip((px[i] & 0xff) + rng.nextGaussian() * sigma * 255);
    return out;
  }

  static byte[] quantize(byte[] px, int levels) {
    if (levels < 2) throw new IllegalArgumentException("quantize needs at least 2 levels, got " + levels);
    byte[] out = new byte[px.length];
    double step = 255.0 / (levels - 1);
    for (int i = 0; i < px.length; i++) out[i] = clip(Math.round((px[i] & 0xff) / step) * step);
    return out;
  }

  static byte[] shift(byte[] px, int n, int h, int w, int c, int by) {
    byte[] out = new byte[px.length];
    for (int i = 0; i < n; i++) {
      for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
          int from = Math.max(0, x - by);
          System.arraycopy(px, ((i * h + y) * w + from) * c, out, ((i * h + y) * w + x) * c, c);
        }
      }
    }
    return out;
  }

  static byte[] pureNoise(int length, long seed) {
    SplittableRandom rng = new SplittableRandom(seed ^ 0x9E3779L);
    byte[] out = new byte[length];
    for (int i = 0; i < length; i++) out[i] = (byte) rng.nextInt(256);
    return out;
  }

  private static byte clip(double v) {
    return (byte) Math.max(0, Math.min(255, Math.round(v)));
  }
}
