package dev.ddpm4j.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a feature network's calibration and cached real features are keyed by: the network's own files and the real
 * images as the config loads them, nothing else. A stale key makes every evaluation warn that the calibration "was
 * made for another network or other data"; a key that misses a setting reuses features of other pixels.
 */
class FeatureKeyTest {
  @Test
  void theShippedCalibrationsAreForTheShippedNetworksOnTheShippedData() {
    for (String config : List.of("configs/default.yaml", "configs/emoji-64.yaml")) {
      ExperimentConfig cfg = ExperimentConfig.load(Path.of(config), List.of());
      Path dir = FeatureModel.defaultDir(cfg.data());
      try (FeatureModel fm = FeatureModel.load(dir, "ddpm4j features train")) {
        String key = RealFeatures.cacheKey(fm, cfg.data(), cfg.run().seed());
        assertEquals(Calibration.read(dir).key(), key, dir + "/" + Calibration.FILE + " against " + config);
        for (String w : Calibration.warnings(dir, key, "x")) {
          assertTrue(!w.contains("another network"), w);
        }
      }
    }
  }

  @Test
  void theNetworkHashCoversTheSavedModelAndItsMetadataOnly(@TempDir Path dir) throws Exception {
    Files.createDirectories(dir.resolve("variables"));
    Files.createDirectories(dir.resolve("assets.extra"));
    Files.createDirectories(dir.resolve(RealFeatures.CACHE));
    Files.writeString(dir.resolve("saved_model.pb"), "graph");
    Files.writeString(dir.resolve("variables/variables.index"), "index");
    Files.writeString(dir.resolve("assets.extra/ddpm4j-features.json"), "{}");
    String h = FeatureModel.hash(dir);
    Files.writeString(dir.resolve("README.md"), "notes about the network");
    Files.writeString(dir.resolve(Calibration.FILE), "{}");
    Files.writeString(dir.resolve(RealFeatures.CACHE).resolve("real-0.bin"), "cached");
    assertEquals(h, FeatureModel.hash(dir), "notes, calibration and cache are not the network");
    Files.writeString(dir.resolve("variables/variables.index"), "other weights");
    String h2 = FeatureModel.hash(dir);
    assertNotEquals(h, h2, "weights");
    Files.writeString(dir.resolve("assets.extra/ddpm4j-features.json"), "{\"image_size\": 28}");
    assertNotEquals(h2, FeatureModel.hash(dir), "metadata");
  }

  @Test
  void anotherBackgroundForTransparencyIsAnotherKey() {
    ExperimentConfig black = ExperimentConfig.load(Path.of("configs/emoji-64.yaml"), List.of());
    ExperimentConfig white = ExperimentConfig.load(Path.of("configs/emoji-64.yaml"), List.of("data.background=white"));
    try (FeatureModel fm = FeatureModel.load(FeatureModel.defaultDir(black.data()), "ddpm4j features train")) {
      assertNotEquals(RealFeatures.cacheKey(fm, black.data(), 0), RealFeatures.cacheKey(fm, white.data(), 0));
      assertEquals(RealFeatures.cacheKey(fm, black.data(), 0), RealFeatures.cacheKey(fm, black.data(), 5),
          "an image folder's split does not depend on the run seed");
    }
  }
}
