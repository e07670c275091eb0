package dev.ddpm4j.sampler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The default model committed under savedmodels/default loads with the client API and samples under today's
 * contract, so it never goes stale: a change to the export contract that breaks it fails here.
 */
class ShippedModelTest {
  static final Path MODEL = Path.of("savedmodels/default");

  @Test
  void theShippedDefaultModelSamplesWithTheCurrentContract() {
    try (DiffusionSampler s = DiffusionSampler.load(MODEL)) {
      SamplerMetadata m = s.metadata();
      assertEquals(2, m.formatVersion(), "the contract version the shipped model was exported with");
      assertEquals(32, m.imageSize());
      assertEquals(1, m.channels());
      for (dev.ddpm4j.diffusion.SamplerKind k : dev.ddpm4j.diffusion.SamplerKind.values()) {
        assertTrue(m.samplers().containsKey(k.key()), "re-export savedmodels/default: it lacks " + k.key());
      }
      int[] labels = m.numClasses() > 0 ? new int[] {7, 9, -1} : null;
      GeneratedImages a = s.sample(3, 11, 0, SamplerSpec.of("dpmpp_2m_sde", 10), labels, 3f);
      GeneratedImages b = s.sample(1, 11, 1, SamplerSpec.of("dpmpp_2m_sde", 10),
          labels == null ? null : new int[] {9}, 3f);
      assertEquals(3 * 32 * 32, a.pixels().length);
      assertArrayEquals(java.util.Arrays.copyOfRange(a.pixels(), 1024, 2048), b.pixels(), "image 1 alone = in a batch");
      // a trained model draws clothes on a dark background, not noise: most border pixels are near black
      int dark = 0;
      int border = 0;
      for (int i = 0; i < 3; i++) {
        for (int k = 0; k < 32; k++) {
          for (int[] yx : new int[][] {{0, k}, {31, k}, {k, 0}, {k, 31}}) {
            border++;
            if (a.pixel(i, yx[0], yx[1], 0) < 40) dark++;
          }
        }
      }
      assertTrue(dark > 0.8 * border, dark + " of " + border + " border pixels dark");
    }
  }

  /**
   * The default recipe's exports sample in bf16 where the CPU has it (export.precision auto, configs/default.yaml),
   * chosen on 1,000-image scores (docs/BENCHMARKS.md, "bf16 sampling"). So on every build: bf16 draws the fp32
   * pictures up to rounding (with the deterministic DDIM sampler: on average about 1 grey level of 255 on the host it
   * was chosen on, where another seed differs by about 54), it really is bf16 arithmetic (not the fp32 bytes), and an
   * image still depends on its seed and index alone, not on the batch it is drawn in.
   */
  @Test
  void inBf16TheShippedModelDrawsTheFp32PicturesUpToRounding() {
    int n = 8;
    SamplerSpec ddim = SamplerSpec.of("ddim", 10);
    byte[] fp32;
    try (DiffusionSampler s = DiffusionSampler.load(MODEL, "fp32")) {
      fp32 = s.sample(n, 0, ddim).pixels();
    }
    try (DiffusionSampler s = DiffusionSampler.load(MODEL, "bf16")) {
      assertEquals("bf16", s.precision());
      byte[] bf16 = s.sample(n, 0, ddim).pixels();
      byte[] alone = s.sample(1, 0, 5, ddim).pixels();
      assertArrayEquals(java.util.Arrays.copyOfRange(bf16, 5 * 1024, 6 * 1024), alone, "image 5 alone = in a batch");
      double all = 0;
      for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int k = i * 1024; k < (i + 1) * 1024; k++) sum += Math.abs((fp32[k] & 0xff) - (bf16[k] & 0xff));
        assertTrue(sum / 1024 < 8, "image " + i + ": bf16 differs from fp32 by " + sum / 1024 + " grey levels");
        all += sum;
      }
      all /= n * 1024;
      assertTrue(all < 3, "bf16 differs from fp32 by " + all + " grey levels on average");
      if (dev.ddpm4j.platform.Platform.oneDnnActive()) {
        assertTrue(all > 0, "bf16 gave the fp32 bytes: the bfloat16 rewrite did not run");
      }
    }
  }

  /**
   * A lone image is the image of a batch, byte for byte, in fp32 too: before the sampler drew a lone image beside the
   * next one, these three images (found on an AMD Zen 5 host) differed from their batch of 64 by one grey level in one
   * pixel; other CPUs may have flipped other pixels, and this passes on any of them.
   */
  @Test
  void aLoneImageIsTheImageOfABatch() {
    try (DiffusionSampler s = DiffusionSampler.load(MODEL, "fp32")) {
      for (Object[] c : new Object[][] {{"ddim", new int[] {32}}, {"dpmpp_2m", new int[] {48, 54}}}) {
        SamplerSpec spec = SamplerSpec.of((String) c[0], 10);
        byte[] batch = s.sample(64, 0, spec).pixels();
        for (int i : (int[]) c[1]) {
          assertArrayEquals(java.util.Arrays.copyOfRange(batch, i * 1024, (i + 1) * 1024),
              s.sample(1, 0, i, spec).pixels(), c[0] + " image " + i);
        }
      }
    }
  }

  /** An export's own precision setting (assets.extra/ddpm4j.json "precision") resolved on this CPU. */
  @Test
  void anExportsPrecisionSettingIsResolvedOnThisCpu(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    Path meta = tmp.resolve(DiffusionSampler.METADATA);
    java.nio.file.Files.createDirectories(meta.getParent());
    assertEquals("fp32", DiffusionSampler.precisionOf(tmp), "no metadata: fp32");
    for (String setting : new String[] {"auto", "fp32", "bf16"}) {
      java.nio.file.Files.writeString(meta, "{\"precision\": \"" + setting + "\"}");
      String want = setting.equals("auto") ? (CpuFeatures.nativeBf16() ? "bf16" : "fp32") : setting;
      assertEquals(want, DiffusionSampler.precisionOf(tmp), setting);
      assertEquals(setting, DiffusionSampler.precisionSetting(tmp), "the setting as written");
    }
    java.nio.file.Files.writeString(meta, "{\"precision\": 3}");
    assertEquals("fp32", DiffusionSampler.precisionSetting(tmp), "not a string: fp32");
    java.nio.file.Files.writeString(meta, "{not json");
    assertEquals("fp32", DiffusionSampler.precisionSetting(tmp), "unreadable: fp32 (loading reports it)");
    assertEquals("fp32", DiffusionSampler.precisionOf(MODEL), "the shipped model's metadata says fp32");
    assertEquals("fp32", DiffusionSampler.precisionSetting(MODEL));
  }
}
