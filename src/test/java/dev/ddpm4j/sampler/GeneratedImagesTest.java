package dev.ddpm4j.sampler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ddpm4j.PngBytes;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeneratedImagesTest {
  @TempDir Path tmp;

  /** Every value 0..255 in every channel, so a gamma or colour conversion anywhere changes some byte. */
  static byte[] everyValue(int pixelsPerImage, int channels, int shift) {
    byte[] px = new byte[pixelsPerImage * channels];
    for (int i = 0; i < px.length; i++) px[i] = (byte) (i / channels + shift * (i % channels));
    return px;
  }

  @Test
  void greyPngHoldsExactlyTheBytes() throws Exception {
    byte[] px = everyValue(256, 1, 0);
    GeneratedImages g = GeneratedImages.ofPixels(px, 1, 16, 16, 1);
    Path f = tmp.resolve("grey.png");
    g.writePng(0, f);
    PngBytes.Image back = PngBytes.read(f);
    assertEquals(1, back.channels(), "a grey image is written as a greyscale PNG");
    assertEquals(16, back.width());
    assertArrayEquals(px, back.samples());
  }

  @Test
  void rgbPngHoldsExactlyTheBytes() throws Exception {
    byte[] px = everyValue(256, 3, 85);
    GeneratedImages g = GeneratedImages.ofPixels(px, 1, 16, 16, 3);
    Path f = tmp.resolve("rgb.png");
    g.writePng(0, f);
    PngBytes.Image back = PngBytes.read(f);
    assertEquals(3, back.channels());
    assertArrayEquals(px, back.samples());
  }

  @Test
  void gridPngHoldsEveryImagesBytesAfterTwoPixelGaps() throws Exception {
    byte[] px = everyValue(4 * 64, 1, 0); // four 8x8 images holding 0..255 together
    GeneratedImages g = GeneratedImages.ofPixels(px, 4, 8, 8, 1);
    Path f = tmp.resolve("grid.png");
    g.writeGrid(f);
    PngBytes.Image back = PngBytes.read(f);
    assertEquals(2 * 8 + 3 * 2, back.width());
    assertEquals(2 * 8 + 3 * 2, back.height());
    for (int i = 0; i < 4; i++) {
      for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) {
          int gx = 2 + (i % 2) * 10 + x;
          int gy = 2 + (i / 2) * 10 + y;
          assertEquals(g.pixel(i, y, x, 0), back.samples()[gy * back.width() + gx] & 0xff, "image " + i);
        }
      }
    }
    assertEquals(0, back.samples()[0]); // gap
  }

  @Test
  void bufferedImagesGiveTheBytesThroughGetRgb() {
    byte[] grey = everyValue(256, 1, 0);
    BufferedImage img = GeneratedImages.ofPixels(grey, 1, 16, 16, 1).toBufferedImage(0);
    for (int p = 0; p < 256; p++) {
      int v = p;
      assertEquals((v << 16) | (v << 8) | v, img.getRGB(p % 16, p / 16) & 0xFFFFFF, "grey value " + v);
      assertEquals(v, img.getRaster().getSample(p % 16, p / 16, 0));
    }
    byte[] px = {(byte) 255, 0, 7};
    assertEquals(0xFF0007, GeneratedImages.ofPixels(px, 1, 1, 1, 3).toBufferedImage(0).getRGB(0, 0) & 0xFFFFFF);
    assertThrows(IllegalArgumentException.class, () -> GeneratedImages.ofPixels(px, 2, 1, 1, 3));
  }

  @Test
  void gridPlacesImagesRowMajor() {
    byte[] px = {10, 20, 30, 40, 50, 60, 70, (byte) 200}; // two 2x2 gray images
    GeneratedImages g = GeneratedImages.ofPixels(px, 2, 2, 2, 1).grid();
    assertEquals(2 * 2 + 3 * 2, g.width()); // 2 columns
    assertEquals(1 * 2 + 2 * 2, g.height()); // 1 row
    assertEquals(0, g.pixel(0, 0, 0, 0)); // gap
    assertEquals(10, g.pixel(0, 2, 2, 0)); // image 0 (0, 0)
    assertEquals(40, g.pixel(0, 3, 3, 0)); // image 0 (1, 1)
    assertEquals(50, g.pixel(0, 2, 6, 0)); // image 1 (0, 0)
    assertEquals(200, g.pixel(0, 3, 7, 0)); // image 1 (1, 1)
  }

  @Test
  void imagesBuiltFromPixelsHaveNoModelSpaceValues() {
    GeneratedImages g = GeneratedImages.ofPixels(new byte[4], 1, 2, 2, 1);
    assertFalse(g.hasSamples());
    IllegalStateException e = assertThrows(IllegalStateException.class, g::samples);
    assertEquals("these images were built from 8-bit pixels and have no model-space values", e.getMessage());
  }
}
