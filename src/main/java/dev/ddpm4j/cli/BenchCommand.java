package dev.ddpm4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure speed; prints one JSON line.")
final class BenchCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--mode", defaultValue = "train", description = "train (default: ${DEFAULT-VALUE}).")
  String mode;

  @Option(names = "--batch", defaultValue = "64", description = "Batch size (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--steps", defaultValue = "10", description = "Timed steps after warm-up (default: ${DEFAULT-VALUE}).")
  int steps;

  @Override
  public Integer call() {
    options.resolve();
    throw new Main.UserError("benchmarks are not available yet in this build");
  }
}
