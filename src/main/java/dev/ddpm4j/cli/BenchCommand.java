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
          + "sampler against single denoise calls; quality: FID, KID and precision/recall of --num images per "
          + "sampler setting (--sampler-steps and --spacing lists), with sampling seconds, one JSON line each "
          + "(default: ${DEFAULT-VALUE}).")
  String mode;

  @Option(names = "--model", paramLabel = "DIR", description = "Exported SavedModel (--mode sample).")
  java.nio.file.Path model;

  @Option(names = "--num", defaultValue = "16", description = "Images to sample (--mode sample; default: ${DEFAULT-VALUE}).")
  int num;

  @Option(names = "--sampler", defaultValue = SamplerChoice.DEFAULT_SAMPLER,
      description = "--mode sample/quality: the sampler (default: ${DEFAULT-VALUE}).")
  String sampler;

  @Option(names = "--sampler-steps", split = ",", paramLabel = "K[,K...]",
      description = "--mode sample/quality: network calls per image, a comma list (default: the sampler's default).")
  List<Integer> samplerSteps;

  @Option(names = "--spacing", split = ",", paramLabel = "S[,S...]",
      description = "--mode sample/quality: timestep spacings, a comma list or 'all' the sampler takes "
          + "(default: the sampler's own).")
  List<String> spacings;

  @Option(names = "--eta", defaultValue = "0", description = "--mode sample/quality with ddim: eta (default: ${DEFAULT-VALUE}).")
  float eta;

  @Option(names = "--precision",
      description = "--mode sample/quality: auto, fp32, bf16 or fp32-fast (default: the model's export.precision).")
  String precision;

  @Option(names = "--guidance", split = ",", paramLabel = "W[,W...]",
      description = "--mode quality, class-conditional models: guidance scales, a comma list; images get classes "
          + "i mod num_classes (balanced) (default: unconditional sampling).")
  List<Float> guidance;

  @Option(names = "--seed", defaultValue = "0", description = "--mode quality: sampling seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--features", paramLabel = "DIR",
      description = "--mode quality: feature network (default: <data.path>/features).")
  java.nio.file.Path features;

  @Option(names = "--batch", description = "Batch size (default: the config's train.batch_size).")
  Integer batch;

  @Option(names = "--steps", defaultValue = "10", description = "Timed steps after 3 warm-up steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--profile",
      description = "--mode train: also trace one training step; --mode sample: one denoise call (a sampler's network "
          + "call); reports op time per op type (RunMetadata step stats).")
  boolean profile;

  @Spec CommandSpec commandSpec;

  private CommandSpec spec() {
    return commandSpec;
  }

  @Override
  public Integer call() {
    if (mode.equals("sample") || mode.equals("quality")) {
      if (model == null) throw new Main.UserError("--mode " + mode + " needs --model DIR");
      if (num < 1) throw new Main.UserError("--num must be >= 1");
      long opening = System.nanoTime();
      try (var s = SamplerChoice.open(model, precision, SamplerChoice.signatures(sampler, samplerSteps != null,
          spacings != null), spec().commandLine().getErr())) {
        double load = (System.nanoTime() - opening) / 1e9;
        int timesteps = s.metadata().timesteps();
        List<dev.ddpm4j.sampler.SamplerSpec> specs = new ArrayList<>();
        List<String> sp = spacings == null ? java.util.Collections.singletonList(null) : spacings;
        if (spacings != null && spacings.equals(List.of("all"))) {
          sp = new ArrayList<>();
          for (var x : dev.ddpm4j.diffusion.SamplerKind.parse(sampler).spacings()) sp.add(x.key());
        }
        List<Integer> ks = samplerSteps == null ? java.util.Collections.singletonList(null) : samplerSteps;
        for (Integer k : ks) {
          for (String x : sp) specs.add(SamplerChoice.spec(sampler, k, x, eta, timesteps));
        }
        if (mode.equals("sample")) {
          for (var spec : specs) {
            spec().commandLine().getOut().println(Benchmark.sample(model, s, load, num, spec, profile)
                .toString());
            spec().commandLine().getOut().flush();
          }
        } else {
          QualityBench.run(s, model, specs, guidance, num, SamplerChoice.batch(batch, s), seed, features,
              line -> {
                spec().commandLine().getOut().println(line);
                spec().commandLine().getOut().flush();
              });
        }
      } catch (dev.ddpm4j.sampler.SamplerException | IllegalArgumentException e) {
        throw new Main.UserError(e.getMessage());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      return 0;
    }
    if (!mode.equals("train")) throw new Main.UserError("unknown --mode " + mode + " (available: train, sample, quality)");
    if (steps < 1) throw new Main.UserError("--steps must be >= 1");
    if (precision != null) {
      throw new Main.UserError("--precision is for --mode sample and quality; training takes --set train.precision="
          + precision);
    }
    List<String> overrides = new ArrayList<>(options.overrides);
    if (batch != null) overrides.add("train.batch_size=" + batch);
    options.overrides = overrides;
    ExperimentConfig cfg = options.resolve();
    var json = Benchmark.train(cfg, cfg.train().batchSize(), steps, profile);
    spec().commandLine().getOut().println(json.toString());
    spec().commandLine().getOut().flush();
    return 0;
  }
}
