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
          + "With RUN_DIR the run's stored config.yaml is used (plus --set) and the run trains there; without, the run "
          + "named by the config. With --config F, F's train.*, run.*, sample.* and export.* values apply.")
  String resume;

  @Spec CommandSpec spec;

  /**
   * A run's stored config with --set changes: only keys that do not change what the weights mean (train.*, run.*,
   * sample.*, export.*) may change on resume; the rest would continue on weights trained for another model.
   */
  static ExperimentConfig resumed(Path stored, java.util.List<String> overrides) {
    ExperimentConfig after = ExperimentConfig.load(stored, overrides);
    java.util.List<String> changed = meaningChanges(ExperimentConfig.load(stored, java.util.List.of()), after);
    if (!changed.isEmpty()) {
      throw new Main.UserError("--resume continues the stored run's weights; these keys would change what they mean: "
          + changed + " (only train.*, run.*, sample.* and export.* may change; start a new run.name instead)");
    }
    return after;
  }

  /** The data.*, model.* and diffusion.* keys whose values differ: what the trained weights mean. */
  static java.util.List<String> meaningChanges(ExperimentConfig before, ExperimentConfig after) {
    java.util.List<String> changed = new java.util.ArrayList<>();
    var a = before.toJson();
    var b = after.toJson();
    for (String section : java.util.List.of("data", "model", "diffusion")) {
      a.get(section).fieldNames().forEachRemaining(k -> {
        if (!a.get(section).get(k).equals(b.get(section).get(k))) changed.add(section + "." + k);
      });
    }
    return changed;
  }

  /**
   * The config a run trains with. A new run: the config file plus --set. {@code --resume RUN_DIR}: the run in RUN_DIR
   * (its stored config.yaml plus --set; it trains and writes there, wherever run.output_dir pointed when it was made).
   * {@code --resume} alone: the run the config names. With an explicit {@code --config F}, F's train.*, run.*,
   * sample.* and export.* values apply to the resumed run; a key of F that would change what the weights mean is refused.
   */
  ExperimentConfig resolveRun() {
    if (resume == null) return options.resolve();
    Path dir;
    if (!resume.isEmpty()) {
      dir = Path.of(resume);
      if (!Files.isRegularFile(dir.resolve("config.yaml"))) {
        throw new Main.UserError(resume + " is not a run directory (no config.yaml)");
      }
    } else {
      ExperimentConfig named = options.resolve();
      dir = named.runDir();
      if (!Files.isRegularFile(dir.resolve("config.yaml"))) return named; // no stored run: checked below
    }
    Path stored = dir.resolve("config.yaml");
    java.util.List<String> sets = new java.util.ArrayList<>(options.overrides);
    ExperimentConfig cfg = options.config != null ? resumedWith(stored, options.config, sets) : resumed(stored, sets);
    Path want = dir.toAbsolutePath().normalize();
    if (!sameFolder(cfg.runDir(), want)) {
      boolean named = sets.stream().anyMatch(o -> o.startsWith("run.name=") || o.startsWith("run.output_dir="));
      if (!resume.isEmpty() && (named || options.config != null)) {
        throw new Main.UserError("--resume continues the run in " + want + ", but run.output_dir/run.name ("
            + (options.config != null ? "from " + options.config + " and --set" : "--set") + ") name " + cfg.runDir()
            + "; a resumed run stays where it is (copy it first to continue it elsewhere)");
      }
      // a run moved or copied since it was made: it continues where it is now (values quoted: a folder called 2 or
      // "a: b" is a string)
      Path real = realPath(want);
      com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
      try {
        sets.add("run.output_dir=" + json.writeValueAsString(real.getParent().toString()));
        sets.add("run.name=" + json.writeValueAsString(real.getFileName().toString()));
        cfg = options.config != null ? resumedWith(stored, options.config, sets) : resumed(stored, sets);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      } catch (dev.ddpm4j.config.ConfigException e) {
        throw new Main.UserError("--resume " + want + ": the run's folder name cannot be its run.name (" + e.getMessage()
            + "); rename the folder");
      }
    }
    return cfg;
  }

  /** Whether two paths name one folder: the same path, or links to the same place. */
  private static boolean sameFolder(Path a, Path b) {
    if (a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize())) return true;
    try {
      return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static Path realPath(Path p) {
    try {
      return p.toRealPath();
    } catch (java.io.IOException e) {
      return p;
    }
  }

  /**
   * A run's stored config with the train.*, run.*, sample.* and export.* values of an explicit config file and --set;
   * a data.*, model.* or diffusion.* key that differs from the stored run is refused by name.
   */
  static ExperimentConfig resumedWith(Path stored, Path file, java.util.List<String> overrides) {
    ExperimentConfig after = ExperimentConfig.load(file, overrides);
    java.util.List<String> changed = meaningChanges(ExperimentConfig.load(stored, java.util.List.of()), after);
    if (!changed.isEmpty()) {
      throw new Main.UserError("--resume continues the stored run's weights, but " + file + " (with --set) differs "
          + "from the run's " + stored + " in " + changed + ", which would change what they mean (only train.*, run.*, "
          + "sample.* and export.* may change; start a new run.name instead)");
    }
    return after;
  }

  @Override
  public Integer call() {
    ExperimentConfig cfg = resolveRun();
    try { // before any training: the run would end by replacing a shipped model
      Exporter.requireReplaceable(Path.of(cfg.export().dir(), cfg.run().name()), cfg.runDir(),
          "run.name (--set run.name=NAME) or export.dir");
    } catch (IllegalArgumentException e) {
      throw new Main.UserError("run.name " + cfg.run().name() + ": " + e.getMessage());
    }
    var latest = new dev.ddpm4j.train.Checkpoints(cfg.runDir().resolve("checkpoints"), 1).latest();
    if (resume != null && latest.isEmpty()) {
      throw new Main.UserError("--resume: " + cfg.runDir() + " has no checkpoint to resume (looked for "
          + cfg.runDir().resolve("checkpoints").resolve("step-*") + "); start the run without --resume");
    }
    if (resume != null && cfg.train().maxMinutes() > 0
        && latest.get().state().elapsedSeconds() >= cfg.train().maxMinutes() * 60) {
      throw new Main.UserError(String.format("--resume: the run's time budget is spent (train.max_minutes = %s, %.1f "
          + "minutes trained, step %d of %d); extend it with --set train.max_minutes=M (0 = no limit)",
          cfg.train().maxMinutes(), latest.get().state().elapsedSeconds() / 60, latest.get().state().step(),
          cfg.train().steps()));
    }
    if (resume != null && latest.get().state().step() >= cfg.train().steps()) {
      throw new Main.UserError("--resume: " + cfg.runDir() + " already reached train.steps = " + cfg.train().steps()
          + "; extend it with --set train.steps=N (to export it again: ddpm4j export --run " + cfg.runDir() + " --force)");
    }
    if (resume == null && latest.isPresent()) {
      throw new Main.UserError("run " + cfg.runDir() + " already has checkpoints (latest step "
          + latest.get().state().step() + "); continue it with --resume, or choose another run.name");
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
