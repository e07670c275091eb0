package dev.ddpm4j.train;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.WinogradConv;
import dev.ddpm4j.platform.Platform;
import dev.ddpm4j.sampler.CpuFeatures;

/**
 * What train.precision means on this machine ({@code fp32} or {@code bf16}) and why, for the log, {@code ddpm4j info}
 * and {@code environment.json}.
 *
 * <p>{@code auto} picks the precision that trained faster where both were measured: bf16 on CPUs with AMX, whose
 * bfloat16 products are several times its float32 ones; fp32 on CPUs without native bfloat16; and on CPUs with
 * AVX512_BF16 but no AMX, fp32 with Winograd convolutions, which trained 1.1-1.6x faster than bf16 on an AMD EPYC
 * Zen 5 (bf16 keeps {@code Conv2D}, whose bfloat16 products there are slower than float32 ones) and scored level with
 * it over two run seeds each (docs/BENCHMARKS.md, "fp32 against bf16 training"), unless the convolutions cannot run
 * as Winograd, where bf16 beats float32 {@code Conv2D}. Sampling decides its own {@code auto}: in the client API
 * ({@link CpuFeatures#resolvePrecision}) bf16 where native, and in ddpm4j's commands fp32-fast on CPUs with
 * AVX2 and no AMX ({@code dev.ddpm4j.export.FastSampling#autoReason}).
 */
public record TrainingPrecision(String value, String why) {

  /**
   * train.precision of this config on this machine. Distributed training runs in fp32: the bfloat16 rewrite happens on
   * the chief's master, and the workers' own graph optimizer then fuses its convolutions into kernels without
   * bfloat16 (an error on the workers), so auto means fp32 there and bf16 is a config error.
   */
  public static TrainingPrecision of(ExperimentConfig config) {
    String setting = config.train().precision();
    if (config.distributed().enabled()) return new TrainingPrecision("fp32", "distributed training runs in fp32");
    if (!setting.equals("auto")) return new TrainingPrecision(setting, "train.precision: " + setting);
    // Winograd asked for by name needs float32 (if its ops cannot run here, the graph then says why, naming the key)
    if (config.train().conv3x3().equals("winograd")) {
      return new TrainingPrecision("fp32", "train.precision auto: train.conv3x3 winograd needs float32");
    }
    String winogradWhyNot = config.train().conv3x3().equals("tensorflow") ? "train.conv3x3: tensorflow"
        : WinogradConv.whyNot(false, "fp32");
    return auto(Platform.hasAmx(), Platform.hasNativeBf16(), winogradWhyNot);
  }

  /**
   * The rule of {@code auto}.
   *
   * @param winogradWhyNot why float32 training could not run the 3x3 convolutions as Winograd, or null when it could
   */
  static TrainingPrecision auto(boolean amx, boolean nativeBf16, String winogradWhyNot) {
    if (amx) return new TrainingPrecision("bf16", "train.precision auto: the CPU has AMX");
    if (!nativeBf16) return new TrainingPrecision("fp32", "train.precision auto: no native bfloat16 on this CPU");
    if (winogradWhyNot == null) {
      return new TrainingPrecision("fp32", "train.precision auto: AVX512_BF16 without AMX, where fp32 with Winograd "
          + "convolutions trains faster than bf16");
    }
    return new TrainingPrecision("bf16", "train.precision auto: AVX512_BF16, and no Winograd convolutions ("
        + winogradWhyNot + ")");
  }

  /** "fp32 (train.precision auto: ...)", for the log. */
  @Override
  public String toString() {
    return value + " (" + why + ")";
  }
}
