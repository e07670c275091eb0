package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Corruption;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The training grid's model-free scores on real Fashion-MNIST images: 1 and 0 for the data itself, blur seen. */
class GridQualityTest {
  @Test
  void theDataItselfScoresOneAndZeroAndBlurIsSeen() {
    ExperimentConfig cfg = ExperimentConfig.defaults(List.of("data.limit=2000"));
    Dataset d = Datasets.load(cfg.data(), 0);
    GridQuality q = new GridQuality(d, cfg);
    GridQuality.Scores all = q.score(d.pixels(), d.size());
    assertEquals(1, all.detailRatio(), 1e-12);
    assertEquals(0, all.histogram(), 1e-12);
    assertEquals(1, all.floorDetailRatio(), 1e-12, "at n = all images the floor draws them all");
    byte[] grid = java.util.Arrays.copyOf(d.pixels(), 64 * d.imageBytes());
    GridQuality.Scores real = q.score(grid, 64);
    assertTrue(Math.abs(real.detailRatio() - 1) < 0.25 && real.histogram() < 0.1, real.describe());
    byte[] blurred = new Corruption(Corruption.Kind.BLUR, 1.0).apply(grid, 64, 32, 32, 1, 0);
    GridQuality.Scores blur = q.score(blurred, 64);
    assertTrue(blur.detailRatio() < 0.2, "blur sigma 1 removes most Laplacian variance: " + blur.describe());
    assertTrue(blur.describe().contains("n = 64 against the training images"), blur.describe());
  }
}
