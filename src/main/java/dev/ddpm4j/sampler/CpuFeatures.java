package dev.ddpm4j.sampler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;

/** The CPU's flags from /proc/cpuinfo (JDK only, so the client API can decide its precision too). */
public final class CpuFeatures {
  private CpuFeatures() {}

  /** The first value of a /proc/cpuinfo field, or null (off Linux, or absent). */
  public static String field(String name) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        int colon = line.indexOf(':');
        if (colon >= 0 && line.substring(0, colon).trim().equals(name)) return line.substring(colon + 1).trim();
      }
    } catch (IOException e) {
      // not Linux
    }
    return null;
  }

  /** The CPU's flags (empty off Linux). */
  public static Set<String> flags() {
    String f = field("flags");
    return f == null || f.isBlank() ? Set.of() : new TreeSet<>(Arrays.asList(f.trim().split("\\s+")));
  }

  /** Native bfloat16 arithmetic: AVX512_BF16 or AMX-BF16. */
  public static boolean nativeBf16() {
    Set<String> f = flags();
    return f.contains("avx512_bf16") || f.contains("amx_bf16");
  }

  /**
   * {@code fp32} or {@code bf16}: what a sampling precision setting means on this CPU ({@code auto}: bf16 where native;
   * training decides its own {@code auto}, in {@code dev.ddpm4j.train.TrainingPrecision}).
   */
  public static String resolvePrecision(String setting) {
    return switch (setting) {
      case "auto" -> nativeBf16() ? "bf16" : "fp32";
      case "fp32", "bf16" -> setting;
      default -> throw new IllegalArgumentException("unknown precision '" + setting + "' (auto, fp32 or bf16)");
    };
  }
}
