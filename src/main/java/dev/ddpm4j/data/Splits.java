package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The real images a config's dataset offers for training and for held-out measurement, and the files they come from:
 * <ul>
 *   <li>{@code fashion_mnist}: the train and t10k IDX files;
 *   <li>{@code image_folder}: one folder has no test split, so a fixed 10% of its images (every image whose position
 *       in a permutation seeded by {@link #HOLDOUT_SEED} falls in the last tenth; the same for every run) is held out;
 *   <li>{@code synthetic}: a generator, so the held-out set is a fresh draw with another seed.
 * </ul>
 * {@code data.limit} applies to the training images only.
 */
public record Splits(Dataset train, Dataset test, String testDescription, List<Path> files) {
  public static final long HOLDOUT_SEED = 0x7E57L;
  public static final double HOLDOUT_SHARE = 0.1;

  public static Splits of(ExperimentConfig.Data cfg, long seed) {
    switch (cfg.kind()) {
      case "fashion_mnist" -> {
        ExperimentConfig.Data test = withSplit(cfg, "test");
        Dataset tr = FashionMnist.load(withSplit(cfg, "train"));
        Dataset te = FashionMnist.load(test);
        return new Splits(tr, te, "the t10k test split", fashionMnistFiles(Path.of(cfg.path())));
      }
      case "image_folder" -> {
        Dataset all = ImageFolder.load(withLimit(cfg, 0));
        int n = all.size();
        int held = Math.max(1, (int) Math.round(n * HOLDOUT_SHARE));
        if (n < 2) throw new DataException(Path.of(cfg.path()), "needs at least 2 images to hold some out");
        int[] perm = BatchIterator.permutation(HOLDOUT_SEED, 0, n);
        int[] trainIdx = java.util.Arrays.copyOfRange(perm, 0, n - held);
        int[] testIdx = java.util.Arrays.copyOfRange(perm, n - held, n);
        java.util.Arrays.sort(trainIdx);
        java.util.Arrays.sort(testIdx);
        Dataset tr = all.select(trainIdx);
        if (cfg.limit() > 0) tr = tr.limit(cfg.limit());
        return new Splits(tr, all.select(testIdx), "a fixed 10% of the folder held out", folderFiles(cfg));
      }
      default -> {
        return new Splits(Synthetic.generate(cfg, seed), Synthetic.generate(withLimit(cfg, 0), seed + 1),
            "a fresh draw of the generator (seed + 1)", List.of());
      }
    }
  }

  /** The four IDX files of a Fashion-MNIST folder. */
  public static List<Path> fashionMnistFiles(Path dir) {
    return List.of(FashionMnist.locate(dir, "train", "images", 3), FashionMnist.locate(dir, "train", "labels", 1),
        FashionMnist.locate(dir, "t10k", "images", 3), FashionMnist.locate(dir, "t10k", "labels", 1));
  }

  /** Every readable image file under an image folder, sorted. */
  public static List<Path> folderFiles(ExperimentConfig.Data cfg) {
    try (Stream<Path> s = Files.walk(Path.of(cfg.path()))) {
      return new ArrayList<>(s.filter(Files::isRegularFile)
          .filter(p -> ImageFolder.READABLE.contains(ImageFolder.extension(p))).sorted().toList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ExperimentConfig.Data withSplit(ExperimentConfig.Data d, String split) {
    return new ExperimentConfig.Data(d.kind(), d.path(), split, d.imageSize(), d.channels(), d.resize(),
        d.normalization(), d.mean(), d.std(), d.randomFlip(), d.skipBadFiles(), split.equals("test") ? 0 : d.limit(),
        d.prefetch(), d.synthetic());
  }

  static ExperimentConfig.Data withLimit(ExperimentConfig.Data d, int limit) {
    return new ExperimentConfig.Data(d.kind(), d.path(), d.split(), d.imageSize(), d.channels(), d.resize(),
        d.normalization(), d.mean(), d.std(), d.randomFlip(), d.skipBadFiles(), limit, d.prefetch(), d.synthetic());
  }
}
