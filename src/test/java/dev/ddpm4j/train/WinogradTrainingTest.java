package dev.ddpm4j.train;

import static dev.ddpm4j.train.FusedGroupNormTrainingTest.count;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.WinogradConv;
import org.junit.jupiter.api.Test;

/** train.conv3x3 in the training graph: which ops it builds, the loss it trains on, when auto uses it, refusals. */
class WinogradTrainingTest {
  /** 16 and 32 channels, so the residual blocks' 3x3 convolutions can run as Winograd. */
  static ExperimentConfig config(String... extra) {
    String[] all = new String[extra.length + 2];
    all[0] = "model.base_channels=16";
    all[1] = "model.groups=4";
    System.arraycopy(extra, 0, all, 2, extra.length);
    return TinyConfigs.config(null, all);
  }

  @Test
  void winogradTrainsOnTheLossOfConv2D() {
    if (!WinogradConv.available()) return; // FusedGroupNormTest fails where the library should have loaded
    FusedGroupNormTrainingTest.TwoSteps[] steps = new FusedGroupNormTrainingTest.TwoSteps[2];
    String[] settings = {"winograd", "tensorflow"};
    for (int k = 0; k < 2; k++) {
      ExperimentConfig cfg = config("train.conv3x3=" + settings[k]);
      try (TrainingSession ts = new TrainingSession(cfg)) {
        long transforms = count(ts.graph, "DdpmWinogradInput");
        if (k == 0) {
          assertTrue(transforms >= 16, "Winograd convolutions in the training graph: " + transforms);
          assertTrue(count(ts.graph, "DdpmWinogradInputGrad") >= 16, "their input gradients");
          assertTrue(count(ts.graph, "DdpmWinogradOutputGrad") >= 16, "their output gradients");
          assertTrue(ts.net.conv3x3.startsWith("Winograd"), ts.net.conv3x3);
        } else {
          assertEquals(0, transforms);
          assertTrue(ts.net.conv3x3.contains("tensorflow"), ts.net.conv3x3);
        }
        steps[k] = FusedGroupNormTrainingTest.TwoSteps.of(ts, cfg);
      }
    }
    steps[0].assertSameAs(steps[1]);
  }

  @Test
  void autoUsesWinogradInFloat32Only() {
    ExperimentConfig cfg = config();
    WinogradConv.Choice bf16 = WinogradConv.choose(cfg.train(), false, "bf16");
    assertEquals(0, bf16.threads(), bf16.description());
    assertTrue(bf16.description().contains("bf16"), bf16.description());
    WinogradConv.Choice distributed = WinogradConv.choose(cfg.train(), true, "fp32");
    assertEquals(0, distributed.threads(), distributed.description());
    if (!WinogradConv.available()) return;
    WinogradConv.Choice fp32 = WinogradConv.choose(cfg.train(), false, "fp32");
    assertEquals(2, fp32.threads(), fp32.description()); // train.intra_op_threads
    assertTrue(fp32.description().startsWith("Winograd"), fp32.description());
  }

  @Test
  void winogradIsRefusedByNameWhereItCannotRun() {
    ExperimentConfig cfg = config("train.conv3x3=winograd", "train.precision=bf16");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TrainingSession(cfg).close());
    assertTrue(e.getMessage().contains("train.conv3x3") && e.getMessage().contains("bf16"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> WinogradConv.choose(config("train.conv3x3=winograd").train(), true, "fp32"));
    assertTrue(e.getMessage().contains("train.conv3x3") && e.getMessage().contains("distributed"), e.getMessage());
  }
}
