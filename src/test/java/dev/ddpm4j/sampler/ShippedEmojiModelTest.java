package dev.ddpm4j.sampler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.ImageFolder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The emoji recipe's model, committed under savedmodels/emoji-64: it loads with the client API, samples every
 * category under today's contract, and its guided samples differ between categories the way the real images do.
 */
class ShippedEmojiModelTest {
  static final Path MODEL = Path.of("savedmodels/emoji-64");
  static final List<String> CATEGORIES = List.of("activities", "animals-nature", "flags", "food-drink", "objects",
      "people-body", "smileys-emotion", "symbols", "travel-places");
  static final SamplerSpec SPEC = SamplerSpec.of("dpmpp_2m_sde", 10);
  static final float GUIDANCE = 5f;

  static DiffusionSampler sampler;

  @BeforeAll
  static void load() {
    sampler = DiffusionSampler.load(MODEL);
  }

  @org.junit.jupiter.api.AfterAll
  static void close() {
    sampler.close();
  }

  @Test
  void samplesEveryCategoryWithTheCurrentContract() {
    SamplerMetadata m = sampler.metadata();
    assertEquals(2, m.formatVersion(), "the contract version the shipped model was exported with");
    assertEquals(64, m.imageSize());
    assertEquals(3, m.channels());
    assertEquals(CATEGORIES, m.classNames(), "labels are data/emoji-64's category folders");
    for (dev.ddpm4j.diffusion.SamplerKind k : dev.ddpm4j.diffusion.SamplerKind.values()) {
      assertTrue(m.samplers().containsKey(k.key()), "re-export savedmodels/emoji-64: it lacks " + k.key());
    }
    int[] labels = new int[CATEGORIES.size()];
    for (int i = 0; i < labels.length; i++) labels[i] = i;
    GeneratedImages g = sampler.sample(labels.length, 5, 0, SPEC, labels, GUIDANCE);
    assertEquals(9 * 64 * 64 * 3, g.pixels().length);
    // emoji composited onto black (data.background): a trained model leaves most of the border dark, noise would not
    int dark = 0;
    int border = 0;
    for (int i = 0; i < labels.length; i++) {
      for (int k = 0; k < 64; k++) {
        for (int[] yx : new int[][] {{0, k}, {63, k}, {k, 0}, {k, 63}}) {
          border++;
          int sum = g.pixel(i, yx[0], yx[1], 0) + g.pixel(i, yx[0], yx[1], 1) + g.pixel(i, yx[0], yx[1], 2);
          if (sum < 3 * 40) dark++;
        }
      }
    }
    assertTrue(dark > 0.9 * border, dark + " of " + border + " border pixels dark");
  }

  /** Mean over images and pixels of (R + G) / 2 - B: yellow against blue. */
  static double yellowness(int count, java.util.function.IntFunction<int[]> rgbOfPixel) {
    double sum = 0;
    for (int p = 0; p < count; p++) {
      int[] c = rgbOfPixel.apply(p);
      sum += (c[0] + c[1]) / 2.0 - c[2];
    }
    return sum / count;
  }

  @Test
  void smileysAreYellowerThanFlagsAsInTheRealImages() {
    ExperimentConfig.Data data = ExperimentConfig.defaults(List.of("data.kind=image_folder", "data.path=data/emoji-64",
        "data.image_size=64", "data.channels=3", "data.resize=crop", "data.background=black", "data.split=all",
        "model.channel_mults=[1, 2, 2, 2]", "model.attention_resolutions=[8]")).data();
    Dataset real = ImageFolder.load(data);
    int smileys = CATEGORIES.indexOf("smileys-emotion");
    int flags = CATEGORIES.indexOf("flags");
    double[] realY = new double[2];
    int[] realN = new int[2];
    int per = 64 * 64;
    for (int i = 0; i < real.size(); i++) {
      int which = real.labels()[i] == smileys ? 0 : real.labels()[i] == flags ? 1 : -1;
      if (which < 0) continue;
      final int img = i;
      realY[which] += yellowness(per, p -> new int[] {real.pixel(img, p / 64, p % 64, 0), real.pixel(img, p / 64, p % 64, 1),
          real.pixel(img, p / 64, p % 64, 2)});
      realN[which]++;
    }
    double realGap = realY[0] / realN[0] - realY[1] / realN[1];
    assertTrue(realGap > 10, "real smileys are yellower than real flags: " + realGap);

    int n = 8;
    int[] labels = new int[2 * n];
    for (int i = 0; i < n; i++) {
      labels[i] = smileys;
      labels[n + i] = flags;
    }
    GeneratedImages g = sampler.sample(2 * n, 1, 0, SPEC, labels, GUIDANCE);
    double[] genY = new double[2];
    for (int i = 0; i < 2 * n; i++) {
      final int img = i;
      genY[i < n ? 0 : 1] += yellowness(per, p -> new int[] {g.pixel(img, p / 64, p % 64, 0),
          g.pixel(img, p / 64, p % 64, 1), g.pixel(img, p / 64, p % 64, 2)}) / n;
    }
    double genGap = genY[0] - genY[1];
    assertTrue(genGap > 0.5 * realGap, String.format("generated smileys yellower than generated flags by %.1f, real "
        + "by %.1f (smileys %.1f, flags %.1f)", genGap, realGap, genY[0], genY[1]));
  }
}
