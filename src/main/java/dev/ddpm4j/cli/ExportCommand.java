package dev.ddpm4j.cli;

import dev.ddpm4j.export.Exporter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Export a trained run as a TensorFlow SavedModel with the signatures " + ExportCommand.SIGNATURES
        + " (README \"The exported SavedModel\" gives their inputs and outputs).")
final class ExportCommand implements Callable<Integer> {
  /** Every signature an export has; a test checks it against SamplerKind. */
  static final String SIGNATURES = "sample (= serving_default), sample_ancestral, sample_ddim, sample_dpmpp_2m, "
      + "sample_dpmpp_3m, sample_dpmpp_2m_sde, denoise, q_sample";

  @Option(names = "--run", required = true, paramLabel = "DIR", description = "Run directory (runs/<name>).")
  Path run;

  @Option(names = "--checkpoint", defaultValue = "latest",
      description = "latest or a step number (default: ${DEFAULT-VALUE}).")
  String checkpoint;

  @Option(names = "--out", paramLabel = "DIR", description = "Output directory (default: <export.dir>/<run.name>).")
  Path out;

  @Option(names = "--weights", description = "ema or raw (default: the run's export.weights).")
  String weights;

  @Option(names = "--force", description = "Replace an existing export.")
  boolean force;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Exporter.Exported e;
    try {
      e = Exporter.export(run, checkpoint, out, weights, force);
    } catch (IllegalArgumentException bad) {
      throw new Main.UserError(bad.getMessage());
    }
    spec.commandLine().getOut().printf("exported step %d (%s weights) to %s in %.1fs%n", e.step(), e.weights(),
        e.dir(), e.seconds());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
