package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.train.Benchmark;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure speed and memory; prints one JSON line.")
final class BenchCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--mode", defaultValue = "train",
      description = "train: training steps against the in-process MatMul ceiling; sample: an export's in-graph "
          + "sampler against single denoise calls (default: ${DEFAULT-VALUE}).")
  String mode;

  @Option(names = "--model", paramLabel = "DIR", description = "Exported SavedModel (--mode sample).")
  java.nio.file.Path model;

  @Option(names = "--num", defaultValue = "16", description = "Images to sample (--mode sample; default: ${DEFAULT-VALUE}).")
  int num;

  @Mixin SamplerChoice samplerChoice;

  @Option(names = "--batch", description = "Batch size (default: the config's train.batch_size).")
  Integer batch;

  @Option(names = "--steps", defaultValue = "10", description = "Timed steps after 3 warm-up steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--profile",
      description = "--mode train: also trace one step and report op time per op type (RunMetadata step stats).")
  boolean profile;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (mode.equals("sample")) {
      if (model == null) throw new Main.UserError("--mode sample needs --model DIR");
      if (num < 1) throw new Main.UserError("--num must be >= 1");
      try {
        int timesteps;
        try (var s = dev.ddpm4j.sampler.DiffusionSampler.load(model)) {
          timesteps = s.metadata().timesteps();
        }
        spec.commandLine().getOut().println(Benchmark.sample(model, num, samplerChoice.spec(timesteps)).toString());
      } catch (dev.ddpm4j.sampler.SamplerException e) {
        throw new Main.UserError(e.getMessage());
      }
      spec.commandLine().getOut().flush();
      return 0;
    }
    if (!mode.equals("train")) throw new Main.UserError("unknown --mode " + mode + " (available: train, sample)");
    if (steps < 1) throw new Main.UserError("--steps must be >= 1");
    List<String> overrides = new ArrayList<>(options.overrides);
    if (batch != null) overrides.add("train.batch_size=" + batch);
    options.overrides = overrides;
    ExperimentConfig cfg = options.resolve();
    var json = Benchmark.train(cfg, cfg.train().batchSize(), steps, profile);
    spec.commandLine().getOut().println(json.toString());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
