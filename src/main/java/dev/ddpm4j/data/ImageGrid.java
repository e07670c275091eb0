package dev.ddpm4j.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.apache.commons.imaging.ImageFormats;
import org.apache.commons.imaging.Imaging;

/** Turns 8-bit NHWC pixels into images and grids, and writes PNG files with Commons Imaging. */
public final class ImageGrid {
  private ImageGrid() {}

  /** Image {@code i} of n*h*w*c pixels as a gray or RGB image. */
  public static BufferedImage image(byte[] px, int i, int h, int w, int c) {
    BufferedImage img = new BufferedImage(w, h, c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    int base = i * h * w * c;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int o = base + (y * w + x) * c;
        if (c == 1) {
          img.getRaster().setSample(x, y, 0, px[o] & 0xff);
        } else {
          img.setRGB(x, y, ((px[o] & 0xff) << 16) | ((px[o + 1] & 0xff) << 8) | (px[o + 2] & 0xff));
        }
      }
    }
    return img;
  }

  /** n images in a near-square grid with a {@code pad}-pixel black border between them. */
  public static BufferedImage grid(byte[] px, int n, int h, int w, int c, int pad) {
    int cols = (int) Math.ceil(Math.sqrt(n));
    int rows = (n + cols - 1) / cols;
    int gw = cols * w + (cols + 1) * pad;
    int gh = rows * h + (rows + 1) * pad;
    BufferedImage out = new BufferedImage(gw, gh, c == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < n; i++) {
      int ox = pad + (i % cols) * (w + pad);
      int oy = pad + (i / cols) * (h + pad);
      BufferedImage one = image(px, i, h, w, c);
      out.getRaster().setRect(ox, oy, one.getRaster());
    }
    return out;
  }

  /** Writes a PNG atomically (temporary file, then rename), creating parent folders. */
  public static void writePng(BufferedImage img, Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    // a plain new file (not createTempFile, whose 0600 mode would stick to the result)
    Path tmp = parent.resolve(".tmp-" + file.getFileName() + "-" + ProcessHandle.current().pid());
    try {
      Imaging.writeImage(img, tmp.toFile(), ImageFormats.PNG);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
