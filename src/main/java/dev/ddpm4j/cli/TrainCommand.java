package dev.ddpm4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a DDPM; writes runs/<run.name>/ (config, metrics.jsonl, checkpoints, sample grids).")
final class TrainCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--resume", description = "Continue the run in runs/<run.name>/ from its latest checkpoint "
      + "(default: ${DEFAULT-VALUE}; without it an existing run with checkpoints is refused).")
  boolean resume;

  @Override
  public Integer call() {
    options.resolve();
    throw new Main.UserError("training is not available yet in this build");
  }
}
