package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.PngBytes;
import dev.ddpm4j.config.ExperimentConfig;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.commons.imaging.ImageFormats;
import org.apache.commons.imaging.Imaging;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A TinyImageNet-like layout (root/<wnid>/images/*) of generated images in every supported format. */
class ImageFolderTest {
  @TempDir Path tmp;
  Path root;

  static BufferedImage rgb(int w, int h, int r, int g, int b) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, (r << 16) | (g << 8) | b);
    return img;
  }

  static void write(BufferedImage img, Path file, ImageFormats f) throws IOException {
    Files.createDirectories(file.getParent());
    Imaging.writeImage(img, file.toFile(), f);
  }

  ExperimentConfig.Data cfg(String... overrides) {
    List<String> o = new ArrayList<>(List.of("data.kind=image_folder", "data.path=" + root, "data.image_size=8",
        "data.channels=3", "data.resize=crop", "data.split=all", "model.channel_mults=[1]", "model.attention_resolutions=[]"));
    o.addAll(List.of(overrides));
    return ExperimentConfig.defaults(o).data();
  }

  @BeforeEach
  void layout() throws IOException {
    root = tmp.resolve("train");
    write(rgb(8, 8, 200, 100, 50), root.resolve("n01/images/a.png"), ImageFormats.PNG);
    write(rgb(8, 8, 10, 20, 30), root.resolve("n01/images/b.bmp"), ImageFormats.BMP);
    write(rgb(8, 8, 255, 0, 0), root.resolve("n02/images/c.gif"), ImageFormats.GIF);
    write(rgb(8, 8, 0, 255, 0), root.resolve("n02/images/d.tiff"), ImageFormats.TIFF);
    byte[] gray = new byte[64];
    java.util.Arrays.fill(gray, (byte) 77);
    PngBytes.write(root.resolve("n03/images/e.png"), 8, 8, 1, gray);
    BufferedImage rgba = new BufferedImage(8, 8, BufferedImage.TYPE_INT_ARGB);
    for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) rgba.setRGB(x, y, (x < 4 ? 0xFF000000 : 0x00000000) | 0x00FFFFFF);
    write(rgba, root.resolve("n03/images/f.png"), ImageFormats.PNG);
    Path jpeg = root.resolve("n04/images/g.JPEG");
    Files.createDirectories(jpeg.getParent());
    ImageIO.write(rgb(16, 12, 90, 90, 90), "jpeg", jpeg.toFile());
    Files.writeString(root.resolve("n04/n04_boxes.txt"), "annotations are not images\n");
  }

  @Test
  void readsEveryFormatWithLabelsFromTheFirstFolderLevel() {
    Dataset d = ImageFolder.load(cfg());
    assertEquals(7, d.size());
    assertEquals(List.of("n01", "n02", "n03", "n04"), d.classNames());
    assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2, 3}, d.labels());
    assertEquals(200, d.pixel(0, 3, 3, 0)); // png
    assertEquals(100, d.pixel(0, 3, 3, 1));
    assertEquals(30, d.pixel(1, 0, 0, 2)); // bmp
    assertEquals(255, d.pixel(2, 7, 7, 0)); // gif
    assertEquals(255, d.pixel(3, 1, 1, 1)); // tiff
    assertEquals(77, d.pixel(4, 2, 2, 0)); // grayscale read as stored, repeated into RGB
    assertEquals(77, d.pixel(4, 2, 2, 2));
    assertEquals(255, d.pixel(5, 0, 0, 0)); // opaque white half of the RGBA image
    assertEquals(0, d.pixel(5, 0, 7, 0)); // transparent half composited onto black
    // 16x12 JPEG: shorter side 12 -> 8, then center crop; lossy, so within a few levels of 90
    assertEquals(90, d.pixel(6, 4, 4, 1), 4);
    assertEquals(0, d.skipped());
  }

  @Test
  void aLinkedClassFolderIsReadAndHiddenFoldersAreNeitherClassesNorImages() throws IOException {
    Path elsewhere = tmp.resolve("elsewhere/n05");
    write(rgb(8, 8, 1, 2, 3), elsewhere.resolve("h.png"), ImageFormats.PNG);
    Files.createSymbolicLink(root.resolve("n05"), elsewhere);
    write(rgb(8, 8, 9, 9, 9), root.resolve(".ipynb_checkpoints/x.png"), ImageFormats.PNG);
    write(rgb(8, 8, 9, 9, 9), root.resolve("n01/images/.hidden.png"), ImageFormats.PNG);
    Dataset d = ImageFolder.load(cfg());
    assertEquals(List.of("n01", "n02", "n03", "n04", "n05"), d.classNames());
    assertEquals(8, d.size());
    assertEquals(3, d.pixel(7, 0, 0, 2)); // the linked folder's image, last in sorted order
    List<Path> listed = Splits.folderFiles(cfg());
    assertEquals(8, listed.size());
    assertTrue(listed.contains(root.resolve("n05/h.png")), listed.toString());
    // eval --images lists a folder the same way: a linked folder is read, a hidden one (and a loop) is not
    Path gen = tmp.resolve("generated");
    write(rgb(8, 8, 10, 11, 12), gen.resolve("image-000000.png"), ImageFormats.PNG);
    write(rgb(8, 8, 20, 21, 22), tmp.resolve("more/image-000001.png"), ImageFormats.PNG);
    Files.createSymbolicLink(gen.resolve("more"), tmp.resolve("more"));
    Files.createSymbolicLink(gen.resolve("loop"), gen);
    write(rgb(8, 8, 30, 31, 32), gen.resolve(".ipynb_checkpoints/image-000002.png"), ImageFormats.PNG);
    ImageFolder.Exact exact = ImageFolder.readAllExact(gen, 3, 8, null, false);
    assertEquals(2, exact.count());
    assertEquals(20, exact.pixels()[3 * 64] & 0xFF, "the linked folder's image, second in sorted order");
    var sp = ImageFolder.split(cfg());
    assertEquals(8, sp.train().size() + sp.heldOut().size());
  }

  @Test
  void greyPngBytesLoadUnchanged() throws IOException {
    Path dir = tmp.resolve("grey");
    byte[] px = new byte[256];
    for (int i = 0; i < 256; i++) px[i] = (byte) i;
    PngBytes.write(dir.resolve("all-values.png"), 16, 16, 1, px);
    Dataset d = ImageFolder.load(cfg("data.path=" + dir, "data.channels=1", "data.image_size=16", "data.resize=pad"));
    assertArrayEquals(px, d.pixels(), "every stored grey value must load as itself (no gamma conversion)");
    Dataset rgb = ImageFolder.load(cfg("data.path=" + dir, "data.channels=3", "data.image_size=16", "data.resize=pad"));
    for (int i = 0; i < 256; i++) assertEquals(i, rgb.pixel(0, i / 16, i % 16, 1), "grey repeated into RGB");
  }

  @Test
  void grayscaleConversionUsesBt601Weights() {
    Dataset d = ImageFolder.load(cfg("data.channels=1", "data.limit=1"));
    assertEquals(1, d.channels());
    assertEquals(Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50), d.pixel(0, 0, 0, 0));
  }

  @Test
  void missingPathEmptyFolderAndFileInsteadOfFolder() throws IOException {
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg("data.path=" + tmp.resolve("gone"))));
    assertTrue(e.getMessage().contains("gone") && e.getMessage().contains("not found"), e.getMessage());
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    e = assertThrows(DataException.class, () -> ImageFolder.load(cfg("data.path=" + empty)));
    assertTrue(e.getMessage().contains("no images found"), e.getMessage());
    Path file = root.resolve("n01/images/a.png");
    e = assertThrows(DataException.class, () -> ImageFolder.load(cfg("data.path=" + file)));
    assertTrue(e.getMessage().contains("must be a folder"), e.getMessage());
  }

  @Test
  void everyBadFileIsListedInOneError() throws IOException {
    Files.writeString(root.resolve("n01/images/x.png"), "not a png");
    Files.write(root.resolve("n02/images/y.png"), new byte[0]);
    Files.writeString(root.resolve("n03/images/z.webp"), "webp");
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    String m = e.getMessage();
    assertEquals(root.resolve("n01/images/x.png"), e.file(), "the first bad file (sorted) leads");
    assertTrue(m.contains("2 more bad files") && m.contains("n02/images/y.png: empty file")
        && m.contains("z.webp: unsupported image format"), m);
    assertTrue(m.contains("(3 of 10 image files in 4 class folders are bad; set data.skip_bad_files: true"), m);
    assertEquals(3, ImageFolder.load(cfg("data.skip_bad_files=true")).skipped());
  }

  @Test
  void truncatedFileIsNamedOrSkipped() throws IOException {
    Path good = root.resolve("n01/images/a.png");
    byte[] bytes = Files.readAllBytes(good);
    Path bad = root.resolve("n01/images/trunc.png");
    Files.write(bad, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    assertEquals(bad, e.file());
    assertTrue(e.getMessage().contains("corrupt or truncated") && e.getMessage().contains("skip_bad_files"), e.getMessage());
    Dataset d = ImageFolder.load(cfg("data.skip_bad_files=true"));
    assertEquals(7, d.size());
    assertEquals(1, d.skipped());
  }

  @Test
  void truncatedJpegIsNamed() throws IOException {
    Path jpeg = root.resolve("n04/images/g.JPEG");
    byte[] bytes = Files.readAllBytes(jpeg);
    Files.write(jpeg, java.util.Arrays.copyOf(bytes, bytes.length * 2 / 3));
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    assertEquals(jpeg, e.file());
  }

  @Test
  void corruptFileIsNamed() throws IOException {
    Path bad = root.resolve("n02/images/noise.jpg");
    Files.write(bad, "this is not a jpeg at all".getBytes());
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    assertEquals(bad, e.file());
    assertTrue(e.getMessage().contains("unrecognized or corrupt"), e.getMessage());
    Files.write(bad, new byte[0]);
    e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    assertTrue(e.getMessage().contains("empty file"), e.getMessage());
  }

  @Test
  void unsupportedFormatIsNamedOrSkipped() throws IOException {
    Path webp = root.resolve("n02/images/x.webp");
    Files.write(webp, new byte[] {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'});
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    assertEquals(webp, e.file());
    assertTrue(e.getMessage().contains("unsupported image format '.webp'"), e.getMessage());
    assertEquals(1, ImageFolder.load(cfg("data.skip_bad_files=true")).skipped());
  }

  @Test
  void imageSmallerThanTargetIsNamed() throws IOException {
    Path small = root.resolve("n01/images/small.png");
    write(rgb(4, 6, 1, 2, 3), small, ImageFormats.PNG);
    DataException e = assertThrows(DataException.class, () -> ImageFolder.load(cfg()));
    assertEquals(small, e.file());
    assertTrue(e.getMessage().contains("4x6, smaller than the target 8x8"), e.getMessage());
  }

  @Test
  void padAndResizeModes() {
    byte[] one = {10, 20, 30, 40};
    byte[] padded = Pixels.pad(one, 2, 2, 1, 4);
    assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 10, 20, 0, 0, 30, 40, 0, 0, 0, 0, 0}, padded);
    // 2x2 -> 1x1 averages the block
    assertArrayEquals(new byte[] {25}, Pixels.resize(one, 2, 2, 1, 1, 1));
    // upscaling keeps corners, interpolates centers
    byte[] up = Pixels.resize(new byte[] {0, 100}, 2, 1, 1, 4, 1);
    assertArrayEquals(new byte[] {0, 25, 75, 100}, up);
  }
}
