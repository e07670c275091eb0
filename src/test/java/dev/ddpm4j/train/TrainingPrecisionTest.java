package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.platform.Platform;
import org.junit.jupiter.api.Test;

class TrainingPrecisionTest {

  @Test
  void autoTrainsInBf16WhereTheCpuComputesItNatively() {
    assertEquals("bf16", TrainingPrecision.auto(true, true).value());
    assertEquals("bf16", TrainingPrecision.auto(false, true).value());
    assertEquals("fp32", TrainingPrecision.auto(false, false).value());
    assertEquals("bf16 (train.precision auto: the CPU has AVX512_BF16)", TrainingPrecision.auto(false, true).toString());
  }

  @Test
  void aSetPrecisionIsKeptAndDistributedTrainingRunsInFp32() {
    for (String p : new String[] {"fp32", "bf16"}) {
      TrainingPrecision t = TrainingPrecision.of(TinyConfigs.config(null, "train.precision=" + p));
      assertEquals(p, t.value());
      assertEquals("train.precision: " + p, t.why());
    }
    ExperimentConfig dist = TinyConfigs.config(null, "train.precision=auto",
        "distributed.cluster=127.0.0.1:24600,127.0.0.1:24601");
    assertEquals("fp32", TrainingPrecision.of(dist).value());
  }

  @Test
  void autoOnThisMachineFollowsTheRule() {
    TrainingPrecision auto = TrainingPrecision.of(TinyConfigs.config(null, "train.precision=auto"));
    assertEquals(Platform.hasNativeBf16() ? "bf16" : "fp32", auto.value(), auto.toString());
    assertTrue(auto.why().startsWith("train.precision auto: "), auto.why());
    // Winograd asked for by name needs float32, on every CPU
    TrainingPrecision asked = TrainingPrecision.of(TinyConfigs.config(null, "train.precision=auto",
        "train.conv3x3=winograd"));
    assertEquals("fp32", asked.value(), asked.toString());
  }
}
