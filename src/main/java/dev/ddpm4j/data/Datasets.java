package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;

/** Loads the dataset a config names. */
public final class Datasets {
  private Datasets() {}

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
