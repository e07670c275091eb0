package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Fashion-MNIST from its four IDX files (raw or .gz), brought to the configured size by padding or resizing. */
public final class FashionMnist {
  public static final List<String> CLASSES = List.of(
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

  private FashionMnist() {}

  /** Finds {@code <prefix>-<kind>-idx?-ubyte[.gz]} in {@code dir}. */
  static Path locate(Path dir, String prefix, String kind, int rank) {
    String base = prefix + "-" + kind + "-idx" + rank + "-ubyte";
    Path gz = dir.resolve(base + ".gz");
    if (Files.isRegularFile(gz)) return gz;
    Path raw = dir.resolve(base);
    if (Files.isRegularFile(raw)) return raw;
    throw new DataException(dir, "no Fashion-MNIST file " + base + ".gz (or " + base + ") in this folder");
  }

  public static Dataset load(ExperimentConfig.Data cfg) {
    Path dir = Path.of(cfg.path());
    if (!Files.exists(dir)) throw new DataException(dir, "Fashion-MNIST folder not found (data.path)");
    if (!Files.isDirectory(dir)) throw new DataException(dir, "data.path must be a folder holding the IDX files");
    String prefix = cfg.split().equals("train") ? "train" : "t10k";
    Path imagesFile = locate(dir, prefix, "images", 3);
    Path labelsFile = locate(dir, prefix, "labels", 1);
    Idx.Array images = Idx.read(imagesFile);
    Idx.Array labels = Idx.read(labelsFile);
    if (images.dims().length != 3) throw new DataException(imagesFile, "expected a rank-3 IDX array of images");
    if (labels.dims().length != 1) throw new DataException(labelsFile, "expected a rank-1 IDX array of labels");
    if (images.count() != labels.count()) {
      throw new DataException(labelsFile, labels.count() + " labels for " + images.count() + " images in " + imagesFile);
    }
    int n = cfg.limit() > 0 ? Math.min(cfg.limit(), images.count()) : images.count();
    int h = images.dims()[1];
    int w = images.dims()[2];
    int size = cfg.imageSize();
    byte[] out = new byte[n * size * size];
    int[] lab = new int[n];
    byte[] one = new byte[h * w];
    for (int i = 0; i < n; i++) {
      System.arraycopy(images.data(), i * h * w, one, 0, h * w);
      byte[] fitted;
      if (w == size && h == size) {
        fitted = one;
      } else if (cfg.resize().equals("pad")) {
        if (w > size || h > size) {
          throw new DataException(imagesFile, w + "x" + h + " images do not fit in " + size + "x" + size + " by padding");
        }
        fitted = Pixels.pad(one, w, h, 1, size);
      } else if (cfg.resize().equals("resize")) {
        fitted = Pixels.resize(one, w, h, 1, size, size);
      } else {
        fitted = ImageFolder.fit(one, w, h, 1, size, "crop", imagesFile);
      }
      System.arraycopy(fitted, 0, out, i * size * size, size * size);
      int l = labels.data()[i] & 0xff;
      if (l >= CLASSES.size()) throw new DataException(labelsFile, "label " + l + " at index " + i + " is not in 0..9");
      lab[i] = l;
    }
    return new Dataset("fashion-mnist/" + cfg.split(), out, lab, n, size, size, 1, CLASSES, 0);
  }
}
