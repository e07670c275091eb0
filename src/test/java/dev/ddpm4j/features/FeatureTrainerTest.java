package dev.ddpm4j.features;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Splits;
import dev.ddpm4j.metrics.ClassStats;
import dev.ddpm4j.train.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Trains the feature network on synthetic discs and squares, exports it and checks the export against the trainer. */
class FeatureTrainerTest {
  @TempDir Path tmp;

  static ExperimentConfig shapes(String... extra) {
    List<String> o = new java.util.ArrayList<>(List.of("data.kind=synthetic", "data.image_size=16",
        "data.synthetic.num_images=1024", "model.channel_mults=[1]", "model.attention_resolutions=[]", "run.seed=5"));
    o.addAll(List.of(extra));
    return ExperimentConfig.defaults(o);
  }

  static Progress quiet(long total) {
    return new Progress(new PrintStream(new ByteArrayOutputStream()), false, total);
  }

  @Test
  void learnsDiscsFromSquaresAndTheExportScoresLikeTheTrainer() {
    ExperimentConfig cfg = shapes();
    Path out = tmp.resolve("features");
    FeatureTrainer.Outcome r = FeatureTrainer.train(cfg, out, new FeatureTrainer.Options(4, 32, 2e-3, 0.3, 1), false,
        FeatureTrainerTest::quiet);
    assertTrue(r.testAccuracy() > 0.9, "discs versus squares held out: " + r.testAccuracy());
    assertEquals(1024, r.testImages());
    assertTrue(Files.isRegularFile(out.resolve(FeatureTrainer.METADATA)));
    try (FeatureModel m = FeatureModel.load(out, "train it")) {
      assertEquals(List.of("disc", "square"), m.classNames());
      assertEquals(r.testAccuracy(), m.testAccuracy(), 0);
      Splits splits = Splits.of(cfg.data(), cfg.run().seed());
      FeatureModel.Output o = m.apply(splits.test().pixels(), splits.test().size());
      assertEquals(FeatureNet.WIDTH, o.features().d());
      int right = 0;
      for (int i = 0; i < splits.test().size(); i++) {
        if (ClassStats.argmax(o.logits(), i, 2) == splits.test().labels()[i]) right++;
      }
      assertEquals(r.testAccuracy(), (double) right / splits.test().size(), 1e-12, "export = trainer's network");
      for (float v : o.features().values()) assertTrue(v >= 0, "features are the ReLU layer");
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FeatureTrainer.train(cfg, out,
        FeatureTrainer.Options.DEFAULT, false, FeatureTrainerTest::quiet));
    assertTrue(e.getMessage().contains("already exists; use --force"), e.getMessage());
  }

  @Test
  void aMissingNetworkSaysHowToTrainOne() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FeatureModel.load(tmp.resolve("none"), "ddpm4j features train --config X"));
    assertTrue(e.getMessage().contains("no feature network at") && e.getMessage().contains("ddpm4j features train"),
        e.getMessage());
  }
}
