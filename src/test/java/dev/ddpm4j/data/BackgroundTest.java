package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ConfigException;
import dev.ddpm4j.config.ExperimentConfig;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code data.background}: transparent pixels composited onto black, white or a colour, against hand-computed values. */
class BackgroundTest {
  @TempDir Path tmp;
  Path root;

  @BeforeEach
  void images() throws Exception {
    root = tmp.resolve("folder");
    Files.createDirectories(root.resolve("a"));
    // a.png: pixel 0 is (200, 100, 50) at alpha 64, pixel 1 fully transparent, the rest opaque (1, 2, 3)
    BufferedImage rgba = new BufferedImage(4, 4, BufferedImage.TYPE_INT_ARGB);
    for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) rgba.setRGB(x, y, 0xFF010203);
    rgba.setRGB(0, 0, 64 << 24 | 200 << 16 | 100 << 8 | 50);
    rgba.setRGB(1, 0, 0x00FFFFFF);
    ImageIO.write(rgba, "png", root.resolve("a/a.png").toFile());
    BufferedImage opaque = new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB);
    ImageIO.write(opaque, "png", root.resolve("a/b.png").toFile());
  }

  ExperimentConfig.Data cfg(String... overrides) {
    List<String> o = new ArrayList<>(List.of("data.kind=image_folder", "data.path=" + root, "data.image_size=4",
        "data.channels=3", "data.resize=pad", "data.split=all", "model.channel_mults=[1]",
        "model.attention_resolutions=[]"));
    o.addAll(List.of(overrides));
    return ExperimentConfig.defaults(o).data();
  }

  /** The first image's first two pixels, RGB. */
  static int[] firstPixels(Dataset d) {
    int[] out = new int[6];
    for (int k = 0; k < 6; k++) out[k] = d.pixels()[k] & 0xff;
    return out;
  }

  @Test
  void compositesOntoBlackWhiteAndAColour() {
    // c * a / 255 + b * (255 - a) / 255 with a = 64, worked by hand:
    // black: 200 * 64 / 255 = 50.20 -> 50, 100 * 64 / 255 = 25.10 -> 25, 50 * 64 / 255 = 12.55 -> 13
    Dataset black = ImageFolder.load(cfg());
    assertEquals(List.of(0, 0, 0), cfg().background(), "the default is black");
    assertArrayEquals(new int[] {50, 25, 13, 0, 0, 0}, firstPixels(black));
    // white: (12800 + 255 * 191) / 255 = 241.20 -> 241, (6400 + 48705) / 255 = 216.10 -> 216, (3200 + 48705) / 255 = 203.55 -> 204
    Dataset white = ImageFolder.load(cfg("data.background=white"));
    assertArrayEquals(new int[] {241, 216, 204, 255, 255, 255}, firstPixels(white));
    // (10, 20, 30): (12800 + 1910) / 255 = 57.69 -> 58, (6400 + 3820) / 255 = 40.08 -> 40, (3200 + 5730) / 255 = 35.02 -> 35
    Dataset colour = ImageFolder.load(cfg("data.background=[10, 20, 30]"));
    assertArrayEquals(new int[] {58, 40, 35, 10, 20, 30}, firstPixels(colour));
    // opaque pixels are untouched by any background
    int opaque = 2 * 3;
    assertEquals(1, colour.pixels()[opaque] & 0xff);
    assertEquals(3, colour.pixels()[opaque + 2] & 0xff);
    // one of the two images had transparency
    assertEquals(1, colour.transparent());
  }

  @Test
  void greyModelsSeeTheCompositedLuma() {
    Dataset g = ImageFolder.load(cfg("data.channels=1", "data.background=white"));
    // BT.601 luma of (241, 216, 204): 0.299*241 + 0.587*216 + 0.114*204 = 222.06 -> 222
    assertEquals(222, g.pixels()[0] & 0xff);
    assertEquals(255, g.pixels()[1] & 0xff);
  }

  @Test
  void aBadBackgroundIsAConfigErrorNamingTheKey() {
    for (String bad : List.of("data.background=whit", "data.background=[1, 2]", "data.background=[0, 0, 256]")) {
      ConfigException e = assertThrows(ConfigException.class, () -> cfg(bad));
      assertTrue(e.getMessage().contains("data.background"), e.getMessage());
      assertTrue(e.getMessage().contains("RGB triple"), e.getMessage());
    }
    assertTrue(assertThrows(ConfigException.class, () -> cfg("data.background=whit")).getMessage()
        .contains("did you mean 'white'"));
  }

  @Test
  void aPalettePngWithATransparentEntryIsCountedAndComposited() throws Exception {
    // index 0 fully transparent, index 1 opaque red: the emoji set has two such files (the moons)
    java.awt.image.IndexColorModel palette = new java.awt.image.IndexColorModel(8, 2, new byte[] {0, (byte) 255},
        new byte[] {0, 0}, new byte[] {0, 0}, new byte[] {0, (byte) 255});
    BufferedImage img = new BufferedImage(4, 4, BufferedImage.TYPE_BYTE_INDEXED, palette);
    img.getRaster().setSample(1, 0, 0, 1);
    Path dir = tmp.resolve("palette");
    Files.createDirectories(dir.resolve("a"));
    ImageIO.write(img, "png", dir.resolve("a/p.png").toFile());
    ImageIO.write(new BufferedImage(4, 4, BufferedImage.TYPE_INT_RGB), "png", dir.resolve("a/q.png").toFile());
    root = dir;
    Dataset d = ImageFolder.load(cfg("data.background=white"));
    assertEquals(1, d.transparent());
    assertArrayEquals(new int[] {255, 255, 255, 255, 0, 0}, firstPixels(d));
  }

  @Test
  void theBackgroundIsNamedAsAConfigWouldSpellIt() {
    assertEquals("black", cfg().backgroundName());
    assertEquals("white", cfg("data.background=[255, 255, 255]").backgroundName());
    assertEquals("[10, 20, 30]", cfg("data.background=[10, 20, 30]").backgroundName());
  }

  static void assertArrayEquals(int[] want, int[] got) {
    org.junit.jupiter.api.Assertions.assertArrayEquals(want, got, java.util.Arrays.toString(got));
  }
}
