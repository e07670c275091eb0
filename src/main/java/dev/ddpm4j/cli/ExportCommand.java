package dev.ddpm4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Export a trained run as a TensorFlow SavedModel.")
final class ExportCommand implements Callable<Integer> {
  @Option(names = "--run", required = true, paramLabel = "DIR", description = "Run directory (runs/<name>).")
  Path run;

  @Option(names = "--checkpoint", defaultValue = "latest", description = "latest or a step number (default: ${DEFAULT-VALUE}).")
  String checkpoint;

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: savedmodels/<name>).")
  Path out;

  @Option(names = "--weights", description = "ema or raw (default: the run's export.weights).")
  String weights;

  @Option(names = "--force", description = "Replace an existing export.")
  boolean force;

  @Override
  public Integer call() {
    throw new Main.UserError("export is not available yet in this build");
  }
}
