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
}
