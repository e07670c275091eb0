package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;

/** Loads the dataset a config names. */
public final class Datasets {
  private Datasets() {}

  /**
   * The part of each image that is the data's own, as {offset, size}: a Fashion-MNIST image's 28x28 when it was padded
   * into a larger square (the padding holds nothing to measure), else the whole image.
   */
  public static int[] ownRegion(ExperimentConfig.Data data) {
    int own = 28;
    if (data.kind().equals("fashion_mnist") && data.resize().equals("pad") && data.imageSize() > own) {
      return new int[] {(data.imageSize() - own) / 2, own};
    }
    return new int[] {0, data.imageSize()};
  }

  public static Dataset load(ExperimentConfig.Data cfg, long seed) {
    Dataset d = switch (cfg.kind()) {
      case "fashion_mnist" -> FashionMnist.load(cfg);
      case "image_folder" -> ImageFolder.load(cfg);
      case "synthetic" -> Synthetic.generate(cfg, seed);
      default -> throw new IllegalArgumentException("unknown data.kind " + cfg.kind());
    };
    if (d.channels() != cfg.channels()) {
      throw new IllegalStateException(d.name() + " has " + d.channels() + " channels, config says " + cfg.channels());
    }
    return d;
  }
}
