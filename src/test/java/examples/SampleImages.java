package examples;

import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import java.nio.file.Path;

/**
 * What another JVM app writes to use a trained model: only the {@code dev.ddpm4j.sampler} package and TensorFlow Java.
 * Usage: {@code SampleImages <savedmodel dir> <grid.png> [num] [seed]}.
 */
public final class SampleImages {
  public static void main(String[] args) throws Exception {
    int num = args.length > 2 ? Integer.parseInt(args[2]) : 16;
    long seed = args.length > 3 ? Long.parseLong(args[3]) : 42L;
    try (DiffusionSampler s = DiffusionSampler.load(Path.of(args[0]))) {
      GeneratedImages g = s.sample(num, seed);
      g.writeGrid(Path.of(args[1]));
      System.out.printf("%d images of %dx%dx%d; first pixel %d%n", g.count(), g.height(), g.width(), g.channels(),
          g.pixel(0, 0, 0, 0));
    }
  }
}
