package dev.ddpm4j.metrics;

/**
 * What a classifier says about a set of images, from its logits: the histogram of predicted classes, the entropy of
 * that histogram in bits (log2 K when every class is equally common, 0 when all images are one class), and the share
 * of confident predictions (largest softmax probability at least {@link #CONFIDENT}); for images drawn for requested
 * classes, the share predicted as their requested class (NaN when no class was requested), overall and per requested
 * class ({@code requestedShareByClass[c]}: of the images drawn for class c, the share predicted as c; NaN for a class
 * nobody asked for).
 */
public record ClassStats(int[] histogram, double entropyBits, double confidentShare, double requestedShare,
    double[] requestedShareByClass, int n) {
  public static final double CONFIDENT = 0.9;

  public static ClassStats of(float[] logits, int n, int classes) {
    return of(logits, n, classes, null);
  }

  /** @param requested the class each image was drawn for (-1: none), or null */
  public static ClassStats of(float[] logits, int n, int classes, int[] requested) {
    if ((long) n * classes != logits.length) throw new IllegalArgumentException("logits are not " + n + " x " + classes);
    int[] hist = new int[classes];
    int confident = 0;
    int asked = 0;
    int hit = 0;
    int[] askedBy = new int[classes];
    int[] hitBy = new int[classes];
    for (int i = 0; i < n; i++) {
      int best = argmax(logits, i, classes);
      hist[best]++;
      if (softmax(logits, i, classes)[best] >= CONFIDENT) confident++;
      if (requested != null && requested[i] >= 0) {
        asked++;
        askedBy[requested[i]]++;
        if (requested[i] == best) {
          hit++;
          hitBy[requested[i]]++;
        }
      }
    }
    double h = 0;
    for (int c : hist) {
      if (c == 0) continue;
      double p = (double) c / n;
      h -= p * Math.log(p) / Math.log(2);
    }
    double[] by = new double[classes];
    for (int c = 0; c < classes; c++) by[c] = askedBy[c] > 0 ? (double) hitBy[c] / askedBy[c] : Double.NaN;
    return new ClassStats(hist, h, (double) confident / n, asked > 0 ? (double) hit / asked : Double.NaN, by, n);
  }

  public static int argmax(float[] logits, int row, int classes) {
    int best = 0;
    for (int c = 1; c < classes; c++) if (logits[row * classes + c] > logits[row * classes + best]) best = c;
    return best;
  }

  /** Softmax of one row, in double precision (shifted by the maximum). */
  public static double[] softmax(float[] logits, int row, int classes) {
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < classes; c++) max = Math.max(max, logits[row * classes + c]);
    double[] p = new double[classes];
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      p[c] = Math.exp(logits[row * classes + c] - max);
      sum += p[c];
    }
    for (int c = 0; c < classes; c++) p[c] /= sum;
    return p;
  }
}
