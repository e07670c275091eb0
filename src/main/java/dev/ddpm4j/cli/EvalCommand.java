package dev.ddpm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.Elbo;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.export.Exporter;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.train.Checkpoints;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Measure a model on the config's test split: the variational bound in bits/dim, term by term "
        + "(--metric bpd), or the noise-prediction MSE per timestep bucket (--metric mse).")
final class EvalCommand implements Callable<Integer> {
  static final class Source {
    @Option(names = "--model", paramLabel = "DIR", description = "An exported SavedModel.")
    Path model;

    @Option(names = "--run", paramLabel = "DIR", description = "A run directory (its latest checkpoint, EMA weights).")
    Path run;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  @Option(names = "--metric", defaultValue = "bpd", description = "bpd or mse (default: ${DEFAULT-VALUE}).")
  String metric;

  @Option(names = "--num", defaultValue = "64", description = "Test images (default: ${DEFAULT-VALUE}).")
  int num;

  @Option(names = "--batch", defaultValue = "64", description = "Images per network call (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the forward-process noise (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--buckets", defaultValue = "10", description = "Timestep buckets for mse (default: ${DEFAULT-VALUE}).")
  int buckets;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (!metric.equals("bpd") && !metric.equals("mse")) throw new Main.UserError("--metric must be bpd or mse");
    if (num < 1 || batch < 1 || buckets < 1) throw new Main.UserError("--num, --batch and --buckets must be >= 1");
    Path tmp = null;
    Path model = source.model;
    try {
      if (source.run != null) {
        if (new Checkpoints(source.run.resolve("checkpoints"), 1).latest().isEmpty()) {
          throw new Main.UserError(source.run + " has no checkpoint to evaluate");
        }
        tmp = Files.createTempDirectory("ddpm4j-eval");
        model = Exporter.export(source.run, "latest", tmp.resolve("model"), "ema", true).dir();
      }
      try (DiffusionSampler s = DiffusionSampler.load(model)) {
        // Jackson keeps integers as integers (the client API's small reader makes every number a double)
        String configJson = new ObjectMapper().readTree(model.resolve(DiffusionSampler.METADATA).toFile())
            .get("config").toString();
        String source = model + "/" + DiffusionSampler.METADATA;
        ExperimentConfig cfg = ExperimentConfig.parse(configJson, source, List.of());
        if (cfg.data().kind().equals("fashion_mnist")) { // its own test split: the t10k files
          cfg = ExperimentConfig.parse(configJson, source, List.of("data.split=test"));
        }
        Dataset data = Datasets.load(cfg.data(), cfg.run().seed()).limit(num);
        Normalizer norm = Normalizer.of(cfg.data());
        int dims = data.imageBytes();
        float[] x0 = new float[data.size() * dims];
        norm.normalize(data.pixels(), 0, x0, 0, x0.length);
        double[] scale = norm.scale().stream().mapToDouble(Double::doubleValue).toArray();
        double[] shift = norm.shift().stream().mapToDouble(Double::doubleValue).toArray();
        Elbo.Denoise net = (xt, t) -> batched(s, xt, t, dims);
        long t0 = System.nanoTime();
        Elbo.Result r = Elbo.evaluate(Schedule.of(cfg.diffusion()), cfg.diffusion().variance(), x0, data.size(), dims,
            scale, shift, net, seed, buckets);
        print(r, data, cfg, (System.nanoTime() - t0) / 1e9);
      }
    } catch (SamplerException | IllegalArgumentException e) {
      throw new Main.UserError(e.getMessage());
    } finally {
      if (tmp != null) Checkpoints.deleteTree(tmp);
    }
    return 0;
  }

  private float[] batched(DiffusionSampler s, float[] xt, int[] t, int dims) {
    float[] out = new float[xt.length];
    for (int start = 0; start < t.length; start += batch) {
      int n = Math.min(batch, t.length - start);
      float[] x = java.util.Arrays.copyOfRange(xt, start * dims, (start + n) * dims);
      float[] x0 = s.denoise(x, java.util.Arrays.copyOfRange(t, start, start + n)).x0();
      System.arraycopy(x0, 0, out, start * dims, n * dims);
    }
    return out;
  }

  private void print(Elbo.Result r, Dataset data, ExperimentConfig cfg, double seconds) {
    PrintWriter o = spec.commandLine().getOut();
    o.printf("%s, %d images, %d timesteps, variance %s (%.1fs)%n", data.name(), r.images(),
        cfg.diffusion().timesteps(), cfg.diffusion().variance(), seconds);
    if (metric.equals("bpd")) {
      o.printf("prior KL(q(x_T|x_0) || N(0,I))     %10.5f bits/dim%n", r.prior());
      o.printf("sum_t KL(q(x_t-1|x_t,x_0) || p)    %10.5f bits/dim%n", r.diffusionTerms());
      o.printf("decoder -log p(x_0|x_1)            %10.5f bits/dim%n", r.decoder());
      o.printf("total (negative ELBO)              %10.5f bits/dim  (standard error %.5f)%n", r.total(),
          r.totalStandardError());
    } else {
      int steps = cfg.diffusion().timesteps();
      List<String> rows = new ArrayList<>();
      for (int b = 0; b < r.epsMsePerBucket().length; b++) {
        int lo = b * steps / buckets + 1;
        int hi = (b + 1) * steps / buckets;
        rows.add(String.format("t %5d..%-5d  eps MSE %.5f", lo, hi, r.epsMsePerBucket()[b]));
      }
      rows.forEach(o::println);
    }
    o.flush();
  }
}
