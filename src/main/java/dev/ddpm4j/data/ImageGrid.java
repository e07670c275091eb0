package dev.ddpm4j.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.apache.commons.imaging.ImageFormats;
import org.apache.commons.imaging.Imaging;

/**
 * Writes PNG files with Commons Imaging, atomically. (Pixels become images and grids in
 * {@link dev.ddpm4j.sampler.GeneratedImages}, which the client API shares.)
 */
public final class ImageGrid {
  private ImageGrid() {}

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
