package dev.ddpm4j.cli;

import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.sampler.SamplerException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "sample", mixinStandardHelpOptions = true,
    description = "Generate images from an exported SavedModel and write them as PNG. Needs only the export.")
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

  @Option(names = "--out-dir", paramLabel = "DIR",
      description = "Write one PNG per image (image-000.png, ...) into DIR instead of a grid.")
  Path outDir;

  @Option(names = "--grid", description = "With --out-dir, also write grid.png there.")
  boolean grid;

  @Option(names = "--sampler", defaultValue = "ancestral",
      description = "ancestral (all T steps, the DDPM sampler) or ddim (default: ${DEFAULT-VALUE}).")
  String sampler;

  @Option(names = "--steps", description = "ddim: number of steps K in [1, T] (default: T / 10, at least 1).")
  Integer steps;

  @Option(names = "--eta", defaultValue = "0", description = "ddim: 0 deterministic .. 1 ancestral-like noise "
      + "(default: ${DEFAULT-VALUE}).")
  float eta;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (num < 1) throw new Main.UserError("--num must be >= 1, got " + num);
    if (!sampler.equals("ancestral") && !sampler.equals("ddim")) {
      throw new Main.UserError("--sampler must be ancestral or ddim, got " + sampler);
    }
    PrintWriter o = spec.commandLine().getOut();
    long t0 = System.nanoTime();
    try (DiffusionSampler s = DiffusionSampler.load(model)) {
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      long t1 = System.nanoTime();
      int total = s.metadata().timesteps();
      int k = steps != null ? steps : Math.max(1, total / 10);
      if (sampler.equals("ddim") && (k < 1 || k > total)) throw new Main.UserError("--steps must be in [1, " + total + "]");
      if (sampler.equals("ddim") && !(eta >= 0 && eta <= 1)) throw new Main.UserError("--eta must be in [0, 1]");
      GeneratedImages g = sampler.equals("ddim") ? s.sampleDdim(num, seed, k, eta) : s.sample(num, seed);
      int usedSteps = sampler.equals("ddim") ? k : total;
      double seconds = (System.nanoTime() - t1) / 1e9;
      if (outDir != null) {
        Files.createDirectories(outDir);
        for (int i = 0; i < num; i++) {
          g.writePng(i, outDir.resolve(String.format("image-%03d.png", i)));
        }
        if (grid) g.writeGrid(outDir.resolve("grid.png"));
        o.printf("wrote %d images to %s%n", num, outDir);
      } else {
        g.writeGrid(out);
        o.printf("wrote a grid of %d images to %s%n", num, out);
      }
      o.printf("sampled %d images (%s, %d steps, seed %d) in %.1fs: %.2f images/s (model loaded in %.1fs)%n", num,
          sampler, usedSteps, seed, seconds, num / seconds, loadSeconds);
      o.flush();
    } catch (SamplerException e) {
      throw new Main.UserError(e.getMessage());
    }
    return 0;
  }
}
