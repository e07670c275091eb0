package dev.ddpm4j.cli;

import dev.ddpm4j.train.LossPlot;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "plot", mixinStandardHelpOptions = true, description = "Plot a run's loss curve to a PNG.")
final class PlotCommand implements Callable<Integer> {
  @Option(names = "--run", required = true, paramLabel = "DIR", description = "Run directory (runs/<name>).")
  Path run;

  @Option(names = "--out", paramLabel = "FILE", description = "PNG to write (default: <run>/loss.png).")
  Path out;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Path png = out != null ? out : run.resolve("loss.png");
    try {
      LossPlot.write(run.resolve("metrics.jsonl"), "ddpm4j " + run.getFileName(), png);
    } catch (IllegalArgumentException e) {
      throw new Main.UserError(e.getMessage());
    }
    spec.commandLine().getOut().println("wrote " + png);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
