package dev.ddpm4j.train;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.platform.Platform;
import dev.ddpm4j.sampler.CpuFeatures;

/**
 * What train.precision means on this machine ({@code fp32} or {@code bf16}) and why, for the log, {@code ddpm4j info}
 * and {@code environment.json}.
 *
 * <p>{@code auto}: bf16 where the CPU computes bfloat16 natively (AMX or AVX512_BF16), fp32 elsewhere, and fp32 when
 * train.conv3x3 asks for Winograd by name. On an AMD EPYC Zen 5 (AVX512_BF16, no AMX) fp32 with Winograd convolutions
 * trained every recipe 1.1-1.6x faster than bf16, but its default-recipe model scored worse than the bf16 one of the
 * same build in the classifier and detail feature spaces at three sampling seeds (docs/BENCHMARKS.md,
 * "train.precision: auto"), so auto keeps bf16 there until a float32 {@code Conv2D} run says whether the precision or
 * Winograd costs it. Sampling decides its own {@code auto} ({@link CpuFeatures#resolvePrecision}).
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
    return auto(Platform.hasAmx(), Platform.hasNativeBf16());
  }

  /** The rule of {@code auto} for a CPU with or without AMX and native bfloat16. */
  static TrainingPrecision auto(boolean amx, boolean nativeBf16) {
    if (amx) return new TrainingPrecision("bf16", "train.precision auto: the CPU has AMX");
    if (nativeBf16) return new TrainingPrecision("bf16", "train.precision auto: the CPU has AVX512_BF16");
    return new TrainingPrecision("fp32", "train.precision auto: no native bfloat16 on this CPU");
  }

  /** "bf16 (train.precision auto: ...)", for the log. */
  @Override
  public String toString() {
    return value + " (" + why + ")";
  }
}
