package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against the shipped Fashion-MNIST files in data/ (never /usr/share/datasets). */
class IdxAndFashionMnistTest {
  static final Path DIR = Path.of("data/fashion-mnist");
  @TempDir Path tmp;

  @Test
  void trainImagesHeaderAndFirstImage() {
    Idx.Array a = Idx.read(DIR.resolve("train-images-idx3-ubyte.gz"));
    assertArrayEquals(new int[] {60000, 28, 28}, a.dims());
    int sum = 0;
    for (int i = 0; i < 784; i++) sum += a.data()[i] & 0xff;
    assertEquals(76247, sum); // first training image (an ankle boot), sum of its pixels
    assertEquals(0, a.data()[0]);
    assertEquals(193, a.data()[10 * 28 + 13] & 0xff); // row 10, column 13
  }

  @Test
  void firstLabelsMatchThePublishedOrder() {
    Idx.Array train = Idx.read(DIR.resolve("train-labels-idx1-ubyte.gz"));
    Idx.Array test = Idx.read(DIR.resolve("t10k-labels-idx1-ubyte.gz"));
    assertEquals(60000, train.count());
    assertEquals(10000, test.count());
    assertArrayEquals(new byte[] {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, Arrays.copyOf(train.data(), 10));
    assertArrayEquals(new byte[] {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, Arrays.copyOf(test.data(), 10));
  }

  @Test
  void rawAndGzipReadTheSame() throws IOException {
    byte[] raw = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    Path f = tmp.resolve("x-idx1-ubyte");
    Files.write(f, raw);
    Idx.Array a = Idx.read(f);
    assertArrayEquals(new byte[] {7, 8, 9}, a.data());
    Path gz = tmp.resolve("x-idx1-ubyte.gz");
    try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write(raw);
    }
    assertArrayEquals(new byte[] {7, 8, 9}, Idx.read(gz).data());
  }

  @Test
  void truncatedAndForeignFilesAreNamed() throws IOException {
    Path trunc = tmp.resolve("trunc");
    Files.write(trunc, new byte[] {0, 0, 8, 1, 0, 0, 0, 5, 1, 2});
    DataException e = assertThrows(DataException.class, () -> Idx.read(trunc));
    assertTrue(e.getMessage().startsWith(trunc.toString()) && e.getMessage().contains("truncated"), e.getMessage());
    Path png = tmp.resolve("notidx");
    Files.write(png, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3, 4});
    e = assertThrows(DataException.class, () -> Idx.read(png));
    assertTrue(e.getMessage().contains("not an IDX file"), e.getMessage());
    Path badGz = tmp.resolve("bad.gz");
    Files.write(badGz, new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3});
    e = assertThrows(DataException.class, () -> Idx.read(badGz));
    assertTrue(e.getMessage().startsWith(badGz.toString()), e.getMessage());
  }

  @Test
  void fashionMnistIsPaddedToThirtyTwo() {
    ExperimentConfig.Data cfg = ExperimentConfig.defaults(List.of("data.limit=5")).data();
    Dataset d = FashionMnist.load(cfg);
    assertEquals(5, d.size());
    assertEquals(32, d.height());
    assertEquals(9, d.labels()[0]);
    int sum = 0;
    for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) sum += d.pixel(0, y, x, 0);
    assertEquals(76247, sum); // padding adds only zeros
    assertEquals(193, d.pixel(0, 12, 15, 0)); // (10, 13) shifted by the 2-pixel border
    for (int i = 0; i < 32; i++) {
      assertEquals(0, d.pixel(0, 0, i, 0));
      assertEquals(0, d.pixel(0, i, 31, 0));
    }
  }

  @Test
  void fashionMnistResizeModeScales() {
    Dataset d = FashionMnist.load(ExperimentConfig.defaults(List.of("data.limit=2", "data.resize=resize")).data());
    assertEquals(32, d.width());
    int sum = 0;
    for (int y = 0; y < 32; y++) for (int x = 0; x < 32; x++) sum += d.pixel(0, y, x, 0);
    // bilinear upscaling keeps the mean brightness roughly: 76247 * (32*32)/(28*28)
    assertEquals(76247 * 1024.0 / 784, sum, 0.02 * sum);
  }

  @Test
  void testSplitAndMissingFolder() {
    Dataset d = FashionMnist.load(ExperimentConfig.defaults(List.of("data.limit=3", "data.split=test")).data());
    assertArrayEquals(new int[] {9, 2, 1}, d.labels());
    DataException e = assertThrows(DataException.class,
        () -> FashionMnist.load(ExperimentConfig.defaults(List.of("data.path=" + tmp.resolve("none"))).data()));
    assertTrue(e.getMessage().contains("none") && e.getMessage().contains("not found"), e.getMessage());
    e = assertThrows(DataException.class,
        () -> FashionMnist.load(ExperimentConfig.defaults(List.of("data.path=" + tmp)).data()));
    assertTrue(e.getMessage().contains("train-images-idx3-ubyte.gz"), e.getMessage());
  }
}
