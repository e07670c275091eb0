package dev.ddpm4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "sample", mixinStandardHelpOptions = true,
    description = "Generate images from an exported SavedModel and write them as PNG.")
final class SampleCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Exported SavedModel directory.")
  Path model;

  @Option(names = "--num", defaultValue = "64", description = "Number of images (default: ${DEFAULT-VALUE}).")
  int num;

  @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--out", defaultValue = "samples.png", paramLabel = "FILE",
      description = "Grid PNG to write (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--out-dir", paramLabel = "DIR", description = "Write one PNG per image into DIR instead.")
  Path outDir;

  @Override
  public Integer call() {
    throw new Main.UserError("sampling from a SavedModel is not available yet in this build");
  }
}
