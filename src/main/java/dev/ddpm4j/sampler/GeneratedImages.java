package dev.ddpm4j.sampler;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Images from {@link DiffusionSampler#sample}: 8-bit pixels (NHWC) and, for images a sampler drew, the model-space
 * floats they came from.
 *
 * <p>Pixels leave this class exactly as stored, with no colour conversion: PNG files hold the bytes themselves (grey
 * images as 8-bit greyscale PNG, colour as 8-bit RGB), and {@link #toBufferedImage} returns an sRGB image whose
 * {@code getRGB} is the bytes (grey as r = g = b). Java's {@code TYPE_BYTE_GRAY} is a linear grey space: drawing it or
 * reading it through {@code getRGB} gamma-converts every value (1 becomes 13), so it is never used for output.
 */
public final class GeneratedImages {
  private static final int GAP = 2;
  private final byte[] pixels;
  private final float[] samples;
  private final int count;
  private final int height;
  private final int width;
  private final int channels;

  /** Images from 8-bit NHWC pixels alone; they have no model-space values ({@link #hasSamples()} is false). */
  public static GeneratedImages ofPixels(byte[] pixels, int count, int height, int width, int channels) {
    return new GeneratedImages(pixels.clone(), null, count, height, width, channels);
  }

  GeneratedImages(byte[] pixels, float[] samples, int count, int height, int width, int channels) {
    if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels must be 1 or 3, got " + channels);
    if ((long) count * height * width * channels != pixels.length) {
      throw new IllegalArgumentException(pixels.length + " pixels are not " + count + " images of " + height + "x"
          + width + "x" + channels);
    }
    if (samples != null && samples.length != pixels.length) {
      throw new IllegalArgumentException(samples.length + " samples for " + pixels.length + " pixels");
    }
    this.pixels = pixels;
    this.samples = samples;
    this.count = count;
    this.height = height;
    this.width = width;
    this.channels = channels;
  }

  /** count*height*width*channels unsigned bytes, row-major, channels last. */
  public byte[] pixels() {
    return pixels.clone();
  }

  /** Whether the model-space values are known (images a sampler drew), as opposed to images built from pixels. */
  public boolean hasSamples() {
    return samples != null;
  }

  /**
   * The model-space x_0 the sampler produced (float32, same layout as {@link #pixels()}).
   *
   * @throws IllegalStateException for images built from pixels ({@link #ofPixels}, {@link #grid()})
   */
  public float[] samples() {
    if (samples == null) {
      throw new IllegalStateException("these images were built from 8-bit pixels and have no model-space values");
    }
    return samples.clone();
  }

  public int count() {
    return count;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  public int channels() {
    return channels;
  }

  /** The unsigned value of image i at (y, x, c). */
  public int pixel(int i, int y, int x, int c) {
    return pixels[((i * height + y) * width + x) * channels + c] & 0xff;
  }

  /** Image i as an sRGB {@code TYPE_INT_RGB} image: {@code getRGB} and band 0 of its raster give the stored bytes. */
  public BufferedImage toBufferedImage(int i) {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    int[] rgb = new int[width * height];
    int base = i * height * width * channels;
    for (int p = 0; p < rgb.length; p++) {
      int o = base + p * channels;
      int r = pixels[o] & 0xff;
      rgb[p] = channels == 1 ? (r << 16) | (r << 8) | r : (r << 16) | ((pixels[o + 1] & 0xff) << 8) | (pixels[o + 2] & 0xff);
    }
    img.setRGB(0, 0, width, height, rgb, 0, width);
    return img;
  }

  public List<BufferedImage> toBufferedImages() {
    List<BufferedImage> out = new ArrayList<>();
    for (int i = 0; i < count; i++) out.add(toBufferedImage(i));
    return out;
  }

  /** All images in one near-square grid with 2-pixel black gaps, as a single image built from pixels. */
  public GeneratedImages grid() {
    int cols = (int) Math.ceil(Math.sqrt(count));
    int rows = (count + cols - 1) / cols;
    return grid(cols, rows);
  }

  /** All images, {@code cols} per row, in row-major order, with 2-pixel black gaps. */
  public GeneratedImages grid(int cols, int rows) {
    if (cols < 1 || rows < 1 || (long) cols * rows < count) {
      throw new IllegalArgumentException(cols + "x" + rows + " cells cannot hold " + count + " images");
    }
    int gw = cols * width + (cols + 1) * GAP;
    int gh = rows * height + (rows + 1) * GAP;
    byte[] g = new byte[gw * gh * channels];
    int row = width * channels;
    for (int i = 0; i < count; i++) {
      int x0 = GAP + (i % cols) * (width + GAP);
      int y0 = GAP + (i / cols) * (height + GAP);
      for (int y = 0; y < height; y++) {
        System.arraycopy(pixels, ((i * height + y) * width) * channels, g, ((y0 + y) * gw + x0) * channels, row);
      }
    }
    return new GeneratedImages(g, null, 1, gh, gw, channels);
  }

  /** The grid of {@link #grid()} as an sRGB image. */
  public BufferedImage toGrid() {
    return grid().toBufferedImage(0);
  }

  /**
   * Writes image i as an 8-bit PNG holding exactly its bytes (greyscale for one channel, RGB for three), atomically:
   * a temporary file beside the target, then a rename. Creates parent folders.
   */
  public void writePng(int i, Path file) throws IOException {
    if (i < 0 || i >= count) throw new IndexOutOfBoundsException("image " + i + " of " + count);
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    // a plain new file (not createTempFile, whose 0600 mode would stick to the result)
    Path tmp = parent.resolve(".tmp-" + file.getFileName() + "-" + ProcessHandle.current().pid() + "-"
        + Thread.currentThread().getId());
    try {
      if (!ImageIO.write(rasterImage(i), "png", tmp.toFile())) throw new IOException("no PNG writer available");
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Writes the grid of {@link #grid()} as PNG (see {@link #writePng}). */
  public void writeGrid(Path file) throws IOException {
    grid().writePng(0, file);
  }

  /**
   * Image i with the bytes in its raster: JDK's PNG writer stores raster samples as they are (TYPE_BYTE_GRAY becomes an
   * 8-bit greyscale PNG, TYPE_3BYTE_BGR an 8-bit RGB one), with no colour-space conversion.
   */
  private BufferedImage rasterImage(int i) {
    BufferedImage img = new BufferedImage(width, height,
        channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_3BYTE_BGR);
    WritableRaster r = img.getRaster();
    int per = height * width * channels;
    int[] v = new int[per];
    for (int k = 0; k < per; k++) v[k] = pixels[i * per + k] & 0xff;
    r.setPixels(0, 0, width, height, v);
    return img;
  }
}
