package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.export.Exporter;
import dev.ddpm4j.train.Progress;
import dev.ddpm4j.train.Trainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a DDPM; writes runs/<run.name>/ (config.yaml, metrics.jsonl, checkpoints/, samples/) "
        + "and exports the result to <export.dir>/<run.name>/.")
final class TrainCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--resume", arity = "0..1", paramLabel = "RUN_DIR", fallbackValue = "",
      description = "Continue a run from its latest checkpoint: weights, Adam state, EMA, step and data position. "
          + "With RUN_DIR the run's stored config.yaml is used (plus --set); without, the run named by the config.")
  String resume;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    ExperimentConfig cfg;
    if (resume != null && !resume.isEmpty()) {
      Path stored = Path.of(resume).resolve("config.yaml");
      if (!Files.isRegularFile(stored)) throw new Main.UserError(resume + " is not a run directory (no config.yaml)");
      cfg = ExperimentConfig.load(stored, options.overrides);
    } else {
      cfg = options.resolve();
      Path stored = cfg.runDir().resolve("config.yaml");
      if (resume != null && Files.isRegularFile(stored)) cfg = ExperimentConfig.load(stored, options.overrides);
    }
    Progress progress = Progress.forConsole(cfg.train().steps());
    progress.message("run " + cfg.runDir() + ": " + cfg.train().steps() + " steps of batch " + cfg.train().batchSize());
    Trainer.Outcome o = new Trainer(cfg, resume != null, progress, (c, runDir, bar) -> {
      // The run owns its export: a resumed or retrained run replaces it.
      Exporter.Exported e = Exporter.export(runDir, "latest", null, null, true);
      bar.message(String.format("exported step %d (%s weights) to %s", e.step(), e.weights(), e.dir()));
    }).run();
    spec.commandLine().getOut().printf("trained %s to step %d (smoothed loss %.4f)%n", o.runDir(), o.step(),
        o.smoothedLoss());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
