package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** {@code --config FILE} and repeated {@code --set key.path=value}, shared by the commands that read a config. */
public final class ConfigOptions {
  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "Experiment YAML (default: configs/default.yaml, else the copy inside the jar).")
  Path config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Override one key, e.g. --set train.batch_size=32 --set model.channel_mults=[1,2,2]. Repeatable.")
  List<String> overrides = new ArrayList<>();

  /** The resolved, validated config. */
  public ExperimentConfig resolve() {
    return config == null ? ExperimentConfig.defaultExperiment(overrides) : ExperimentConfig.load(config, overrides);
  }
}
