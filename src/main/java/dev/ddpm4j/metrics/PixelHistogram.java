package dev.ddpm4j.metrics;

/**
 * A model-free view of tone: the histogram of pixel values over each image's region ({@link Detail}), all channels
 * pooled, in {@value #BINS} bins of 4 values, and the total-variation distance between two sets' pooled histograms,
 * {@code TV = 1/2 sum_b |p_b - q_b|} (0 = the same distribution of values, 1 = disjoint). It sees what feature
 * networks round away: banding from too few levels, a background that is not quite black, washed-out or clipped
 * tones.
 */
public final class PixelHistogram {
  public static final int BINS = 64;

  private PixelHistogram() {}

  /** Each image's value counts per bin, as an n x {@value #BINS} feature set. */
  public static Features perImage(byte[] px, int n, int h, int w, int c, Detail region) {
    if ((long) n * h * w * c != px.length) throw new IllegalArgumentException(px.length + " bytes are not " + n + " images");
    if (region.offset() + region.size() > Math.min(h, w)) throw new IllegalArgumentException("region does not fit");
    float[] out = new float[n * BINS];
    for (int i = 0; i < n; i++) {
      for (int y = region.offset(); y < region.offset() + region.size(); y++) {
        int row = ((i * h + y) * w + region.offset()) * c;
        for (int k = 0; k < region.size() * c; k++) out[i * BINS + (px[row + k] & 0xff) * BINS / 256]++;
      }
    }
    return new Features(out, n, BINS);
  }

  /** The total-variation distance between the pooled, normalized histograms of two sets. */
  public static double distance(Features a, Features b) {
    double[] p = pooled(a);
    double[] q = pooled(b);
    double tv = 0;
    for (int k = 0; k < BINS; k++) tv += Math.abs(p[k] - q[k]);
    return tv / 2;
  }

  private static double[] pooled(Features f) {
    if (f.d() != BINS) throw new IllegalArgumentException("not a pixel histogram: width " + f.d());
    double[] s = new double[BINS];
    double total = 0;
    for (int i = 0; i < f.n(); i++) {
      for (int k = 0; k < BINS; k++) {
        s[k] += f.values()[i * BINS + k];
        total += f.values()[i * BINS + k];
      }
    }
    if (total == 0) throw new IllegalArgumentException("a pixel histogram of no pixels");
    for (int k = 0; k < BINS; k++) s[k] /= total;
    return s;
  }
}
