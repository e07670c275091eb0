package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.features.FeatureTrainer;
import dev.ddpm4j.data.Splits;
import dev.ddpm4j.features.Calibration;
import dev.ddpm4j.features.FeatureModel;
import dev.ddpm4j.features.QualityEvaluator;
import dev.ddpm4j.features.RealFeatures;
import dev.ddpm4j.train.Progress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "features", mixinStandardHelpOptions = true,
    description = "The feature network that sample-quality metrics (eval --metric fid, kid, prdc, classes, copies) "
        + "measure images with.",
    subcommands = {FeaturesCommand.Train.class})
final class FeaturesCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(name = "train", mixinStandardHelpOptions = true,
      description = "Train the feature network (a small CNN classifier) on the config's training images and labels, "
          + "print its held-out accuracy, write it as a SavedModel (signatures features and logits), then calibrate "
          + "it (the table eval --calibrate prints, stored beside it as calibration.json).")
  static final class Train implements Callable<Integer> {
    @Mixin ConfigOptions options;

    @Option(names = "--out", paramLabel = "DIR",
        description = "Where to write it (default: <data.path>/features, where eval looks for it).")
    Path out;

    @Option(names = "--epochs", defaultValue = "10", description = "Passes over the training images (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "128", description = "Batch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.001", description = "Adam learning rate, decayed to 0 on a cosine (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--dropout", defaultValue = "0.3", description = "Dropout before the last layer (default: ${DEFAULT-VALUE}).")
    double dropout;

    @Option(names = "--seed", defaultValue = "0", description = "Initialization, data order and dropout (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--force", description = "Replace an existing feature network.")
    boolean force;

    @Option(names = "--calibration-images", defaultValue = "1000",
        description = "Real images per calibration row, 0 to skip the calibration (default: ${DEFAULT-VALUE}).")
    int calibrationImages;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      ExperimentConfig cfg = options.resolve();
      Path target = out != null ? out : FeatureModel.defaultDir(cfg.data());
      FeatureTrainer.Options o;
      try {
        o = new FeatureTrainer.Options(epochs, batch, lr, dropout, seed);
      } catch (IllegalArgumentException e) {
        throw new Main.UserError(e.getMessage());
      }
      FeatureTrainer.Outcome r;
      try {
        r = FeatureTrainer.train(cfg, target, o, force, Progress::forConsole);
      } catch (IllegalArgumentException e) {
        throw new Main.UserError(e.getMessage());
      }
      spec.commandLine().getOut().printf("feature network: held-out accuracy %.4f on %d images (%d training images, "
          + "%d steps, %.0fs); written to %s%n", r.testAccuracy(), r.testImages(), r.trainImages(), r.steps(),
          r.seconds(), r.dir());
      spec.commandLine().getOut().flush();
      if (calibrationImages > 1) {
        try (FeatureModel fm = FeatureModel.load(r.dir(), "ddpm4j features train")) {
          Progress log = Progress.forConsole(calibrationImages);
          RealFeatures real = RealFeatures.of(fm, cfg.data(), cfg.run().seed(), log::message);
          QualityEvaluator ev = new QualityEvaluator(fm, real, 0, RealFeatures.region(cfg.data()));
          Calibration c = Calibration.run(ev, real, Splits.of(cfg.data(), cfg.run().seed()).train(),
              calibrationImages, 0, log::message);
          c.write(r.dir());
          c.table().forEach(spec.commandLine().getOut()::println);
          spec.commandLine().getOut().flush();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException("cannot store the calibration in " + r.dir() + ": " + e.getMessage(), e);
        }
      }
      return 0;
    }
  }
}
