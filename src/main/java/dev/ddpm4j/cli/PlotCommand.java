package dev.ddpm4j.cli;

import dev.ddpm4j.train.LossPlot;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "plot", mixinStandardHelpOptions = true,
    description = "Plot a run's loss curve, or FID against network calls from bench --mode quality lines, to a PNG.")
final class PlotCommand implements Callable<Integer> {
  static final class What {
    @Option(names = "--run", paramLabel = "DIR", description = "Run directory (runs/<name>): its loss curve.")
    Path run;

    @Option(names = "--quality", paramLabel = "FILE", split = ",",
        description = "Files of bench --mode quality JSON lines: FID against network calls, a line per sampler "
            + "and spacing, with the real-vs-real floor.")
    java.util.List<Path> quality;
  }

  @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
  What what;

  @Option(names = "--out", paramLabel = "FILE",
      description = "PNG to write (default: <run>/loss.png; quality.png for --quality).")
  Path out;

  @Option(names = "--title", description = "Chart title (default: the run's name, or the first file's name).")
  String title;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    Path png;
    try {
      if (what.run != null) {
        png = out != null ? out : what.run.resolve("loss.png");
        LossPlot.write(what.run.resolve("metrics.jsonl"), title != null ? title : "ddpm4j " + what.run.getFileName(),
            png);
      } else {
        png = out != null ? out : Path.of("quality.png");
        dev.ddpm4j.train.QualityPlot.write(what.quality, title != null ? title
            : "sample quality: " + what.quality.get(0).getFileName(), png);
      }
    } catch (IllegalArgumentException e) {
      throw new Main.UserError(e.getMessage());
    }
    spec.commandLine().getOut().println("wrote " + png);
    spec.commandLine().getOut().flush();
    return 0;
  }
}
