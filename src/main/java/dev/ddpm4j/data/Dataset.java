package dev.ddpm4j.data;

import java.util.List;

/**
 * Images held in memory at their final size and channel count as 8-bit pixels, NHWC, row-major, plus one label per
 * image. Normalization to model space happens later, in {@link BatchIterator}.
 *
 * @param pixels n*height*width*channels bytes (unsigned)
 * @param labels one class index per image (the first folder level for image folders, the class for IDX)
 * @param classNames names of the label values, index = label
 * @param skipped files that could not be read and were skipped ({@code data.skip_bad_files})
 * @param transparent images that had transparent pixels, composited onto {@code data.background} at load time
 */
public record Dataset(
    String name, byte[] pixels, int[] labels, int size, int height, int width, int channels,
    List<String> classNames, int skipped, int transparent) {

  public Dataset(String name, byte[] pixels, int[] labels, int size, int height, int width, int channels,
      List<String> classNames, int skipped) {
    this(name, pixels, labels, size, height, width, channels, classNames, skipped, 0);
  }

  public Dataset {
    if ((long) size * height * width * channels != pixels.length) {
      throw new IllegalArgumentException("pixels has " + pixels.length + " bytes, expected "
          + size + "x" + height + "x" + width + "x" + channels);
    }
    if (labels.length != size) throw new IllegalArgumentException("labels has " + labels.length + " entries, expected " + size);
  }

  public int imageBytes() {
    return height * width * channels;
  }

  /** The unsigned pixel value of image {@code i} at (y, x, c). */
  public int pixel(int i, int y, int x, int c) {
    return pixels[((i * height + y) * width + x) * channels + c] & 0xff;
  }

  /** The first {@code n} images (all when n is 0 or larger than the set). */
  public Dataset limit(int n) {
    if (n <= 0 || n >= size) return this;
    byte[] p = java.util.Arrays.copyOf(pixels, n * imageBytes());
    return new Dataset(name, p, java.util.Arrays.copyOf(labels, n), n, height, width, channels, classNames, skipped);
  }

  /** The images at {@code index}, in that order. */
  public Dataset select(int[] index) {
    int per = imageBytes();
    byte[] p = new byte[index.length * per];
    int[] l = new int[index.length];
    for (int k = 0; k < index.length; k++) {
      System.arraycopy(pixels, index[k] * per, p, k * per, per);
      l[k] = labels[index[k]];
    }
    return new Dataset(name, p, l, index.length, height, width, channels, classNames, skipped);
  }

  /** Images {@code from} (inclusive) to {@code to} (exclusive). */
  public Dataset range(int from, int to) {
    if (from < 0 || to > size || from > to) throw new IndexOutOfBoundsException(from + ".." + to + " of " + size);
    int per = imageBytes();
    return new Dataset(name, java.util.Arrays.copyOfRange(pixels, from * per, to * per),
        java.util.Arrays.copyOfRange(labels, from, to), to - from, height, width, channels, classNames, skipped);
  }
}
