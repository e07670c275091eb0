package dev.ddpm4j.metrics;

import java.util.Arrays;

/**
 * A model-free measure of fine detail: the variance of the discrete Laplacian of each image, over the image's own
 * region (Fashion-MNIST's 28x28 inside its 32x32 padding, say), and its median over a set. A set's <em>detail
 * ratio</em> is its median over the real held-out images' median: 1 means as much fine detail as real images, below 1
 * blurrier, above 1 noisier.
 *
 * <p>Laplacian {@code L(y,x) = 4 p(y,x) - p(y-1,x) - p(y+1,x) - p(y,x-1) - p(y,x+1)} on the pixel values (0..255, the
 * mean of the channels), at every pixel of the region whose four neighbours are in the region too; the variance is
 * the population variance of those values.
 *
 * @param offset first row and column of the region
 * @param size rows and columns of the region
 */
public record Detail(int offset, int size) {
  public Detail {
    if (offset < 0 || size < 3) throw new IllegalArgumentException("a detail region needs offset >= 0 and size >= 3");
  }

  /** The whole of an image of that size. */
  public static Detail whole(int size) {
    return new Detail(0, size);
  }

  /** The Laplacian variance of each of n images of h x w x c bytes (the region must fit). */
  public double[] perImage(byte[] px, int n, int h, int w, int c) {
    if (offset + size > h || offset + size > w) {
      throw new IllegalArgumentException("region " + offset + "+" + size + " does not fit " + h + "x" + w);
    }
    if ((long) n * h * w * c != px.length) throw new IllegalArgumentException(px.length + " bytes are not " + n + " images");
    double[] out = new double[n];
    int inner = size - 2;
    double[] g = new double[h * w];
    for (int i = 0; i < n; i++) {
      int base = i * h * w * c;
      for (int p = 0; p < h * w; p++) {
        double s = 0;
        for (int k = 0; k < c; k++) s += px[base + p * c + k] & 0xff;
        g[p] = s / c;
      }
      double sum = 0;
      double sq = 0;
      for (int y = offset + 1; y < offset + size - 1; y++) {
        for (int x = offset + 1; x < offset + size - 1; x++) {
          double l = 4 * g[y * w + x] - g[(y - 1) * w + x] - g[(y + 1) * w + x] - g[y * w + x - 1] - g[y * w + x + 1];
          sum += l;
          sq += l * l;
        }
      }
      double m = sum / (inner * inner);
      out[i] = sq / (inner * inner) - m * m;
    }
    return out;
  }

  /** The median of the values (the mean of the middle two for an even count). */
  public static double median(double[] v) {
    if (v.length == 0) throw new IllegalArgumentException("median of no values");
    double[] s = v.clone();
    Arrays.sort(s);
    int m = s.length / 2;
    return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  /** median(images) / median(reference); 1 = as much fine detail as the reference. */
  public static double ratio(double[] images, double[] reference) {
    double r = median(reference);
    if (r <= 0) throw new IllegalArgumentException("the reference images have no detail (median Laplacian variance 0)");
    return median(images) / r;
  }

  /**
   * How far a detail ratio is from 1 on a scale where blur and noise count alike: |ln ratio| (0 = as real images; 0.69
   * = half or twice their detail).
   */
  public static double error(double ratio) {
    return Math.abs(Math.log(ratio));
  }
}
