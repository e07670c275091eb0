package dev.ddpm4j.sampler;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/** Images from {@link DiffusionSampler#sample}: 8-bit pixels (NHWC) and the model-space floats they came from. */
public final class GeneratedImages {
  private final byte[] pixels;
  private final float[] samples;
  private final int count;
  private final int height;
  private final int width;
  private final int channels;

  /** Images from 8-bit NHWC pixels alone (the model-space floats are then the pixels as floats). */
  public static GeneratedImages ofPixels(byte[] pixels, int count, int height, int width, int channels) {
    if ((long) count * height * width * channels != pixels.length) {
      throw new IllegalArgumentException(pixels.length + " pixels are not " + count + " images of " + height + "x"
          + width + "x" + channels);
    }
    float[] asFloats = new float[pixels.length];
    for (int i = 0; i < pixels.length; i++) asFloats[i] = pixels[i] & 0xff;
    return new GeneratedImages(pixels.clone(), asFloats, count, height, width, channels);
  }

  GeneratedImages(byte[] pixels, float[] samples, int count, int height, int width, int channels) {
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

  /** The model-space x_0 (float32, same layout). */
  public float[] samples() {
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

  public BufferedImage toBufferedImage(int i) {
    BufferedImage img = new BufferedImage(width, height,
        channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        if (channels == 1) {
          img.getRaster().setSample(x, y, 0, pixel(i, y, x, 0));
        } else {
          img.setRGB(x, y, (pixel(i, y, x, 0) << 16) | (pixel(i, y, x, 1) << 8) | pixel(i, y, x, 2));
        }
      }
    }
    return img;
  }

  public List<BufferedImage> toBufferedImages() {
    List<BufferedImage> out = new ArrayList<>();
    for (int i = 0; i < count; i++) out.add(toBufferedImage(i));
    return out;
  }

  /** All images in a near-square grid with 2-pixel black gaps. */
  public BufferedImage toGrid() {
    int cols = (int) Math.ceil(Math.sqrt(count));
    int rows = (count + cols - 1) / cols;
    int pad = 2;
    BufferedImage g = new BufferedImage(cols * width + (cols + 1) * pad, rows * height + (rows + 1) * pad,
        channels == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < count; i++) {
      g.getRaster().setRect(pad + (i % cols) * (width + pad), pad + (i / cols) * (height + pad),
          toBufferedImage(i).getRaster());
    }
    return g;
  }

  /** Writes the grid as PNG (javax.imageio; no dependency beyond the JDK). */
  public void writeGrid(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) Files.createDirectories(parent);
    if (!ImageIO.write(toGrid(), "png", file.toFile())) throw new IOException("no PNG writer available");
  }
}
