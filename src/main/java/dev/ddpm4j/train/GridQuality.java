package dev.ddpm4j.train;

import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.metrics.Detail;
import dev.ddpm4j.metrics.Features;
import dev.ddpm4j.metrics.PixelHistogram;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The model-free quality of each training grid: the detail ratio and the pixel-histogram distance ({@link Detail},
 * {@link PixelHistogram}) of the grid's images against the training images, next to the floor: as many training
 * images drawn with the run's seed, scored the same way. No feature network is needed, so every run gets them; the
 * grid is small (train.sample_images), so read them as a trend, and use {@code ddpm4j eval} for the held-out figures.
 */
final class GridQuality {
  /** One grid's scores and the floor at the same n. */
  record Scores(int n, double detailRatio, double histogram, double floorDetailRatio, double floorHistogram) {
    String describe() {
      return String.format(Locale.ROOT, "detail ratio %.2f (floor %.2f), pixel-histogram distance %.3f (floor %.3f), "
          + "n = %d against the training images", detailRatio, floorDetailRatio, histogram, floorHistogram, n);
    }
  }

  private final Detail region;
  private final double[] laplacian;
  private final Features histogram;
  private final Dataset data;
  private final long seed;

  GridQuality(Dataset data, dev.ddpm4j.config.ExperimentConfig cfg) {
    int[] r = dev.ddpm4j.data.Datasets.ownRegion(cfg.data());
    this.region = new Detail(r[0], r[1]);
    this.data = data;
    this.seed = cfg.run().seed();
    this.laplacian = region.perImage(data.pixels(), data.size(), data.height(), data.width(), data.channels());
    this.histogram = PixelHistogram.perImage(data.pixels(), data.size(), data.height(), data.width(), data.channels(),
        region);
  }

  Scores score(byte[] px, int n) {
    double[] lap = region.perImage(px, n, data.height(), data.width(), data.channels());
    Features hist = PixelHistogram.perImage(px, n, data.height(), data.width(), data.channels(), region);
    int m = Math.min(n, data.size());
    int[] idx = dev.ddpm4j.metrics.Kid.subset(new SplittableRandom(seed ^ 0x6A1DL), data.size(), m);
    double[] floorLap = new double[m];
    for (int i = 0; i < m; i++) floorLap[i] = laplacian[idx[i]];
    return new Scores(n, Detail.ratio(lap, laplacian), PixelHistogram.distance(hist, histogram),
        Detail.ratio(floorLap, laplacian), PixelHistogram.distance(histogram.select(idx), histogram));
  }
}
