package dev.ddpm4j.sampler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

class GeneratedImagesTest {
  @Test
  void grayGridPlacesEachImageAfterTwoPixelGaps() {
    byte[] px = {10, 20, 30, 40, 50, 60, 70, (byte) 200}; // two 2x2 gray images
    GeneratedImages g = GeneratedImages.ofPixels(px, 2, 2, 2, 1);
    BufferedImage grid = g.toGrid();
    assertEquals(2 * 2 + 3 * 2, grid.getWidth()); // 2 columns
    assertEquals(1 * 2 + 2 * 2, grid.getHeight()); // 1 row
    assertEquals(0, grid.getRaster().getSample(0, 0, 0)); // gap
    assertEquals(10, grid.getRaster().getSample(2, 2, 0)); // image 0 (0, 0)
    assertEquals(40, grid.getRaster().getSample(3, 3, 0)); // image 0 (1, 1)
    assertEquals(50, grid.getRaster().getSample(6, 2, 0)); // image 1 (0, 0)
    assertEquals(200, grid.getRaster().getSample(7, 3, 0)); // image 1 (1, 1)
    assertEquals(200, g.pixel(1, 1, 1, 0));
  }

  @Test
  void rgbImagesKeepTheirChannels() {
    byte[] px = {(byte) 255, 0, 7};
    BufferedImage img = GeneratedImages.ofPixels(px, 1, 1, 1, 3).toBufferedImage(0);
    assertEquals(0xFF0007, img.getRGB(0, 0) & 0xFFFFFF);
    assertThrows(IllegalArgumentException.class, () -> GeneratedImages.ofPixels(px, 2, 1, 1, 3));
  }
}
