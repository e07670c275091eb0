package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.WinogradConv;
import dev.ddpm4j.platform.Platform;
import org.junit.jupiter.api.Test;

class TrainingPrecisionTest {

  @Test
  void autoTrainsInBf16OnlyWithAmxOrWhereWinogradCannotRun() {
    // amx, native bf16, why Winograd cannot run -> precision (docs/BENCHMARKS.md, "fp32 against bf16 training")
    assertEquals("bf16", TrainingPrecision.auto(true, true, null).value());
    assertEquals("bf16", TrainingPrecision.auto(true, true, "a GPU is visible").value());
    assertEquals("fp32", TrainingPrecision.auto(false, true, null).value(), "AVX512_BF16 without AMX: fp32 Winograd");
    assertEquals("bf16", TrainingPrecision.auto(false, true, "train.conv3x3: tensorflow").value());
    assertEquals("fp32", TrainingPrecision.auto(false, false, null).value());
    assertEquals("fp32", TrainingPrecision.auto(false, false, "train.conv3x3: tensorflow").value());
    assertEquals("bf16 (train.precision auto: AVX512_BF16, and no Winograd convolutions (train.conv3x3: tensorflow))",
        TrainingPrecision.auto(false, true, "train.conv3x3: tensorflow").toString());
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
    boolean winograd = WinogradConv.whyNot(false, "fp32") == null;
    boolean fp32 = !Platform.hasAmx() && (winograd || !Platform.hasNativeBf16());
    TrainingPrecision auto = TrainingPrecision.of(TinyConfigs.config(null, "train.precision=auto"));
    assertEquals(fp32 ? "fp32" : "bf16", auto.value(), auto.toString());
    assertTrue(auto.why().startsWith("train.precision auto: "), auto.why());
    // Winograd asked for by name needs float32, with AMX too
    TrainingPrecision asked = TrainingPrecision.of(TinyConfigs.config(null, "train.precision=auto",
        "train.conv3x3=winograd"));
    assertEquals("fp32", asked.value(), asked.toString());
    // without Winograd, a CPU with native bfloat16 trains in bf16 again
    TrainingPrecision conv2d = TrainingPrecision.of(TinyConfigs.config(null, "train.precision=auto",
        "train.conv3x3=tensorflow"));
    assertEquals(Platform.hasNativeBf16() ? "bf16" : "fp32", conv2d.value(), conv2d.toString());
  }
}
