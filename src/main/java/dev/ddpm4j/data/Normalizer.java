package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.List;

/**
 * Maps 8-bit pixels to model space and back. {@code minus_one_one}: x = p/127.5 - 1. {@code mean_std}: x = (p/255 -
 * mean[c]) / std[c]. The inverse rounds to the nearest pixel value and clamps to [0, 255], so
 * {@code toPixels(normalize(p)) == p} for every p.
 */
public final class Normalizer {
  private final float[] scale;
  private final float[] shift;
  private final double[] dscale;
  private final double[] dshift;

  /** x = p * scale[c] + shift[c]. */
  public Normalizer(double[] scale, double[] shift) {
    this.dscale = scale.clone();
    this.dshift = shift.clone();
    this.scale = new float[scale.length];
    this.shift = new float[shift.length];
    for (int i = 0; i < scale.length; i++) {
      this.scale[i] = (float) scale[i];
      this.shift[i] = (float) shift[i];
    }
  }

  public static Normalizer of(ExperimentConfig.Data cfg) {
    int c = cfg.channels();
    double[] scale = new double[c];
    double[] shift = new double[c];
    for (int k = 0; k < c; k++) {
      if (cfg.normalization().equals("mean_std")) {
        double std = cfg.std().get(k);
        scale[k] = 1.0 / (255.0 * std);
        shift[k] = -cfg.mean().get(k) / std;
      } else {
        scale[k] = 1.0 / 127.5;
        shift[k] = -1.0;
      }
    }
    return new Normalizer(scale, shift);
  }

  public int channels() {
    return scale.length;
  }

  /** Per-channel scale (x = p * scale + shift). */
  public List<Double> scale() {
    return java.util.Arrays.stream(dscale).boxed().toList();
  }

  public List<Double> shift() {
    return java.util.Arrays.stream(dshift).boxed().toList();
  }

  /** Model-space value of pixel 0 in channel c (the low end of the data range). */
  public double low(int c) {
    return dshift[c];
  }

  /** Model-space value of pixel 255 in channel c (the high end of the data range). */
  public double high(int c) {
    return 255 * dscale[c] + dshift[c];
  }

  /** Model-space values of pixel 0, per channel (where x_0 is clipped from below). */
  public double[] lows() {
    return dshift.clone();
  }

  /** Model-space values of pixel 255, per channel (where x_0 is clipped from above). */
  public double[] highs() {
    double[] h = new double[dscale.length];
    for (int c = 0; c < h.length; c++) h[c] = high(c);
    return h;
  }

  /** Normalizes {@code count} interleaved pixels from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
  public void normalize(byte[] src, int srcOff, float[] dst, int dstOff, int count) {
    int c = scale.length;
    for (int i = 0; i < count; i++) {
      int k = i % c;
      dst[dstOff + i] = (src[srcOff + i] & 0xff) * scale[k] + shift[k];
    }
  }

  /** The exact inverse: round((x - shift) / scale), clamped to [0, 255]. */
  public byte[] toPixels(float[] x) {
    byte[] out = new byte[x.length];
    int c = scale.length;
    for (int i = 0; i < x.length; i++) {
      int k = i % c;
      long p = Math.round((x[i] - dshift[k]) / dscale[k]);
      out[i] = (byte) Math.max(0, Math.min(255, p));
    }
    return out;
  }
}
