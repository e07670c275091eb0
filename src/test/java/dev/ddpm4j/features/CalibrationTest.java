package dev.ddpm4j.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Corruption;
import dev.ddpm4j.data.Splits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The calibration rules on hand-made tables, the warnings an evaluation gives, and the shipped Fashion-MNIST network's
 * own calibration on real images: it must pass.
 */
class CalibrationTest {
  @TempDir Path tmp;

  /** A table shaped like a good network's: every corruption well above the floor, rising with strength. */
  static Map<String, Map<String, Double>> good() {
    Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
    double[][] v = { // fid, fid_detail, kid, kid_detail, detail_ratio, histogram_tv
        {2.6, 0.012, 0, 0, 0.99, 0.004}, {9, 0.44, 1.6, 0.009, 0.41, 0.01}, {80, 3.1, 11, 0.06, 0.05, 0.03},
        {6, 0.08, 0.8, 0.001, 1.02, 0.02}, {33, 0.45, 5.8, 0.009, 1.15, 0.05}, {3, 0.02, 0.01, 0.0001, 1.01, 0.3},
        {7, 0.1, 0.6, 0.001, 1.47, 0.6}, {21, 0.08, 2.5, 0.0004, 0.97, 0.004}, {427, 9.5, 27, 0.17, 10, 0.7}};
    int i = 0;
    for (Corruption c : Corruption.CALIBRATION) {
      Map<String, Double> r = new LinkedHashMap<>();
      for (int k = 0; k < Calibration.METRICS.size(); k++) r.put(Calibration.METRICS.get(k), v[i][k]);
      rows.put(c.key(), r);
      i++;
    }
    return rows;
  }

  @Test
  void aGoodTablePassesAndEachRuleFailsWhenBroken() {
    assertEquals(List.of(), Calibration.check(good()));

    var blind = good();
    blind.get("levels_16").put("histogram_tv", 0.01); // 2.5x its floor; FIDs 1.2x and 1.7x
    List<String> f = Calibration.check(blind);
    assertEquals(1, f.size(), f.toString());
    assertTrue(f.get(0).startsWith("levels_16 scores only"), f.get(0));

    var flat = good();
    flat.get("blur_1").put("fid_detail", 0.3); // below blur 0.5's 0.44
    f = Calibration.check(flat);
    assertEquals(List.of("fid_detail does not rise from blur_0.5 (0.4400) to blur_1 (0.3000)"), f);

    var sharpened = good();
    sharpened.get("blur_1").put("detail_ratio", 1.3); // |ln 1.3| = 0.26 < |ln 0.41| = 0.89
    assertTrue(Calibration.check(sharpened).get(0).startsWith("detail_ratio does not rise"));

    var weak = good(); // the custom folder seen in the wild: pure noise FID 1.8 against a floor of 0.4
    weak.get("clean").put("fid", 0.4);
    weak.get("pure_noise").put("fid", 1.8);
    f = Calibration.check(weak);
    assertTrue(f.stream().anyMatch(s -> s.equals("pure noise scores fid 1.80, under 10x the floor (0.400)")),
        f.toString());
    assertTrue(f.stream().anyMatch(s -> s.startsWith("pure noise scores fid 1.80, no more than blur_0.5 (9.00), blur_1 "
        + "(80.0)")), f.toString());
    assertEquals(2, f.size(), "one line per rule: " + f);
  }

  @Test
  void evaluationsWarnWhenTheCalibrationIsMissingForeignOrFailed() throws Exception {
    List<String> w = Calibration.warnings(tmp, "k1", "ddpm4j eval --calibrate");
    assertEquals(1, w.size());
    assertTrue(w.get(0).contains("has no calibration") && w.get(0).contains("ddpm4j eval --calibrate"), w.get(0));

    new Calibration("k1", 1000, 0, good(), List.of()).write(tmp);
    assertEquals(List.of(), Calibration.warnings(tmp, "k1", "x"));
    assertTrue(Calibration.warnings(tmp, "k2", "x").get(0).contains("another network or other data"));

    var broken = good();
    broken.get("pure_noise").put("fid", 2.0);
    Calibration failed = new Calibration("k3", 1000, 0, broken, Calibration.check(broken));
    assertTrue(failed.write(tmp), "another key: replaced");
    w = Calibration.warnings(tmp, "k3", "x");
    assertTrue(w.get(0).contains("failed its calibration") && w.get(0).contains("pure noise scores fid 2"), w.get(0));

    byte[] before = Files.readAllBytes(tmp.resolve(Calibration.FILE));
    assertTrue(!new Calibration("k3", 1000, 0, good(), List.of()).write(tmp),
        "the same network and data: the stored calibration is kept (a shipped one never changes)");
    assertEquals(new String(before), new String(Files.readAllBytes(tmp.resolve(Calibration.FILE))));
    Calibration read = Calibration.read(tmp);
    assertEquals(failed.rows(), read.rows(), "read back as written");
    assertEquals(failed.failures(), read.failures());
  }

  @Test
  void theShippedFashionMnistNetworkSeesMildCorruptions() {
    // 600 images per row against the full t10k reference; the floor's training images come from a 6,000-image subset
    ExperimentConfig cfg = ExperimentConfig.defaults(List.of("data.limit=6000"));
    Path dir = Path.of("data/fashion-mnist/features");
    try (FeatureModel fm = FeatureModel.load(dir, "ddpm4j features train")) {
      RealFeatures real = RealFeatures.of(fm, cfg.data(), 0, s -> {});
      QualityEvaluator ev = new QualityEvaluator(fm, real, 0, RealFeatures.region(cfg.data()));
      Calibration c = Calibration.run(ev, real, Splits.of(cfg.data(), 0).train(), 600, 0, s -> {});
      assertEquals(List.of(), c.failures(), String.join("\n", c.table()));
      Map<String, Double> floor = c.rows().get("clean");
      Map<String, Double> blur = c.rows().get("blur_0.5");
      assertTrue(blur.get("fid_detail") > 10 * floor.get("fid_detail"), "mild blur, detail space: " + c.table());
      assertTrue(blur.get("detail_ratio") < 0.7, "blur sigma 0.5 removes much of the Laplacian's variance");
      assertTrue(c.rows().get("noise_0.02").get("detail_ratio") > floor.get("detail_ratio"), "noise adds detail");
      assertTrue(c.rows().get("noise_0.05").get("detail_ratio") > 1.05, "noise adds detail");
      assertTrue(Math.abs(floor.get("detail_ratio") - 1) < 0.05, "real against real: about 1, " + floor);
    }
  }
}
