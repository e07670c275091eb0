package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The real images a config's dataset offers for training and for held-out measurement, and the files they come from:
 * <ul>
 *   <li>{@code fashion_mnist}: the train and t10k IDX files;
 *   <li>{@code image_folder}: one folder has no test split, so a fixed tenth of its files is held out by a hash of
 *       each file's path ({@link ImageFolder}); training reads only the rest;
 *   <li>{@code synthetic}: a generator, so the held-out set is a fresh draw with another seed.
 * </ul>
 * {@code data.limit} applies to the training images only.
 */
public record Splits(Dataset train, Dataset test, String testDescription, List<Path> files) {

  public static Splits of(ExperimentConfig.Data cfg, long seed) {
    switch (cfg.kind()) {
      case "fashion_mnist" -> {
        ExperimentConfig.Data test = withSplit(cfg, "test");
        Dataset tr = FashionMnist.load(withSplit(cfg, "train"));
        Dataset te = FashionMnist.load(test);
        return new Splits(tr, te, "the t10k test split", fashionMnistFiles(Path.of(cfg.path())));
      }
      case "image_folder" -> {
        Dataset tr = ImageFolder.load(withSplit(cfg, "train"));
        Dataset te = ImageFolder.load(withSplit(cfg, "test"));
        return new Splits(tr, te, "the folder's held-out tenth (" + te.size() + " images, never trained on)",
            folderFiles(cfg));
      }
      default -> {
        return new Splits(Synthetic.generate(cfg, seed), Synthetic.generate(withLimit(cfg, 0), seed + 1),
            "a fresh draw of the generator (seed + 1)", List.of());
      }
    }
  }

  /**
   * What training read when it was not the training split ({@code data.split: test} or {@code all}): then the held-out
   * images that eval and the bound score against were trained on, and the scores are not held-out ones. Empty for
   * {@code data.split: train}.
   */
  public static java.util.Optional<String> trainedOnHeldOut(ExperimentConfig.Data cfg) {
    if (cfg.split().equals("train") || cfg.kind().equals("synthetic")) return java.util.Optional.empty();
    String what = cfg.split().equals("all") ? "every file of the folder, the held-out tenth included"
        : cfg.kind().equals("fashion_mnist") ? "the t10k test images" : "only the folder's held-out tenth";
    return java.util.Optional.of("the model was trained with data.split = " + cfg.split() + " (" + what + "), so the "
        + "held-out images scored against were trained on: these are not held-out scores");
  }

  /** The four IDX files of a Fashion-MNIST folder. */
  public static List<Path> fashionMnistFiles(Path dir) {
    return List.of(FashionMnist.locate(dir, "train", "images", 3), FashionMnist.locate(dir, "train", "labels", 1),
        FashionMnist.locate(dir, "t10k", "images", 3), FashionMnist.locate(dir, "t10k", "labels", 1));
  }

  /** Every readable image file under an image folder, sorted. */
  public static List<Path> folderFiles(ExperimentConfig.Data cfg) {
    try {
      return new ArrayList<>(ImageFolder.files(Path.of(cfg.path())).stream()
          .filter(p -> ImageFolder.READABLE.contains(ImageFolder.extension(p))).toList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ExperimentConfig.Data withSplit(ExperimentConfig.Data d, String split) {
    return new ExperimentConfig.Data(d.kind(), d.path(), split, d.imageSize(), d.channels(), d.resize(), d.background(),
        d.normalization(), d.mean(), d.std(), d.randomFlip(), d.skipBadFiles(), split.equals("test") ? 0 : d.limit(),
        d.prefetch(), d.synthetic());
  }

  static ExperimentConfig.Data withLimit(ExperimentConfig.Data d, int limit) {
    return new ExperimentConfig.Data(d.kind(), d.path(), d.split(), d.imageSize(), d.channels(), d.resize(), d.background(),
        d.normalization(), d.mean(), d.std(), d.randomFlip(), d.skipBadFiles(), limit, d.prefetch(), d.synthetic());
  }
}
