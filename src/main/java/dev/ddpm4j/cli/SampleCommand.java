package dev.ddpm4j.cli;

import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.sampler.SamplerSpec;
import dev.ddpm4j.train.Progress;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "sample", mixinStandardHelpOptions = true,
    description = "Generate images from an exported SavedModel and write them as PNG. Needs only the export. Image i "
        + "depends on (seed, i) alone: batch size and --start-index never change an image.")
final class SampleCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Exported SavedModel directory.")
  Path model;

  @Option(names = "--num", paramLabel = "N", description = "Number of images (default: the model's "
      + "sample.num_images, 64 unless its training config says otherwise; with --class all, per class).")
  Integer numOption;

  @Option(names = "--seed", paramLabel = "SEED", description = "Random seed (default: the model's sample.seed, 0 "
      + "unless its training config says otherwise).")
  Long seedOption;

  int num;
  long seed;

  @Option(names = "--batch", description = "Images per sampler call (default: " + SamplerChoice.BATCH_HELP + ").")
  Integer batch;

  @Option(names = "--start-index", defaultValue = "0",
      description = "Index of the first image in the seed's sequence, to continue an interrupted run "
          + "(default: ${DEFAULT-VALUE}).")
  long startIndex;

  @Option(names = "--out", defaultValue = "samples.png", paramLabel = "FILE",
      description = "Grid PNG to write (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--out-dir", paramLabel = "DIR",
      description = "Write one PNG per image (image-000000.png, ... numbered by index) into DIR as they are drawn, "
          + "instead of a grid.")
  Path outDir;

  @Option(names = "--grid", description = "With --out-dir, also write grid.png there.")
  boolean grid;

  @Option(names = "--force", description = "With --out-dir: delete the images an earlier sample left there first.")
  boolean force;

  @Mixin SamplerChoice samplerChoice;

  /** The training config's {@code sample} section stored in the export (empty if absent). */
  static Map<?, ?> sampleSection(DiffusionSampler s) {
    Object config = s.metadata().asMap().get("config");
    Object sample = config instanceof Map<?, ?> c ? c.get("sample") : null;
    return sample instanceof Map<?, ?> m ? m : Map.of();
  }

  @Spec CommandSpec spec;

  /**
   * A folder with an earlier sample's images (image-*.png, grid.png): new images beside them would make one mixed set
   * that {@code eval --images} scores as one. Continuing that set ({@code --start-index}) is allowed; otherwise
   * {@code --force} deletes them (the caller, once the model has loaded), and without it the command stops before
   * drawing anything.
   *
   * @return the files --force deletes
   */
  private List<Path> earlierImages(Path dir) throws IOException {
    List<Path> old;
    try (var files = Files.list(dir)) {
      old = files.filter(p -> {
        String n = p.getFileName().toString();
        return n.equals("grid.png") || (n.startsWith("image-") && n.endsWith(".png"));
      }).sorted().toList();
    }
    if (old.isEmpty() || startIndex > 0) return List.of();
    if (!force) {
      throw new Main.UserError(dir + " already holds " + old.size() + " image file(s) of an earlier sample (" + old.get(0)
          .getFileName() + (old.size() > 1 ? ", ..." : "") + "); new images would mix with them into one set. Choose an "
          + "empty folder, add --force to delete them first, or continue that set with --start-index N");
    }
    return old;
  }

  @Override
  public Integer call() throws IOException {
    if (numOption != null && numOption < 1) throw new Main.UserError("--num must be >= 1, got " + numOption);
    if (batch != null && batch < 1) throw new Main.UserError("--batch must be >= 1, got " + batch);
    if (startIndex < 0) throw new Main.UserError("--start-index must be >= 0, got " + startIndex);
    var parsed = spec.commandLine().getParseResult();
    if (outDir != null && parsed.hasMatchedOption("--out")) {
      throw new Main.UserError("--out writes one grid file and --out-dir one PNG per image; choose one (--out-dir DIR "
          + "--grid writes DIR/grid.png too)");
    }
    if (grid && outDir == null) {
      throw new Main.UserError("--grid adds grid.png to --out-dir; without --out-dir the output is a grid already "
          + "(--out FILE)");
    }
    if (outDir != null && Files.exists(outDir) && !Files.isDirectory(outDir)) {
      throw new Main.UserError(outDir + " is a file, not a folder (--out-dir takes the folder to write images into)");
    }
    List<Path> earlier = outDir != null && Files.isDirectory(outDir) ? earlierImages(outDir) : List.of();
    PrintWriter o = spec.commandLine().getOut();
    long t0 = System.nanoTime();
    try (DiffusionSampler s = samplerChoice.load(model, spec.commandLine().getErr())) {
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      Map<?, ?> defaults = sampleSection(s);
      Object n = defaults.get("num_images");
      Object sd = defaults.get("seed");
      num = numOption != null ? numOption : n instanceof Number v ? v.intValue() : 64;
      seed = seedOption != null ? seedOption : sd instanceof Number v ? v.longValue() : 0;
      SamplerSpec choice = samplerChoice.spec(s.metadata().timesteps());
      java.util.function.IntUnaryOperator labels = samplerChoice.labels(s);
      if (labels == null && parsed.hasMatchedOption("--guidance")) {
        throw new Main.UserError(s.metadata().numClasses() == 0
            ? "--guidance: this model is unconditional (no classes), so there is nothing to guide"
            : "--guidance needs --class (a class name or index, all, or balanced)");
      }
      int classes = s.metadata().numClasses();
      boolean perClass = "all".equals(samplerChoice.clazz);
      // --class all: --num images of every class, one grid row per class
      int perRow = num;
      java.util.function.IntUnaryOperator drawLabels = labels;
      if (perClass) {
        num = num * classes;
        drawLabels = i -> i / perRow;
      }
      long t1 = System.nanoTime();
      int size = s.metadata().imageSize();
      int per = size * size * s.metadata().channels();
      byte[] all = outDir == null || grid ? new byte[num * per] : null;
      for (Path p : earlier) Files.delete(p); // --force, now that the model and the options are known to be good
      if (outDir != null) Files.createDirectories(outDir);
      SamplerChoice.draw(s, choice, startIndex, num, SamplerChoice.batch(batch, s), seed, drawLabels,
          samplerChoice.guidance, Progress.forConsole(num), (first, g) -> {
        if (all != null) System.arraycopy(g.pixels(), 0, all, (int) (first - startIndex) * per, g.count() * per);
        if (outDir != null) {
          for (int i = 0; i < g.count(); i++) g.writePng(i, outDir.resolve(String.format("image-%06d.png", first + i)));
        }
      });
      double seconds = (System.nanoTime() - t1) / 1e9;
      GeneratedImages images = all != null ? GeneratedImages.ofPixels(all, num, size, size, s.metadata().channels())
          : null;
      GeneratedImages gridImages = images == null ? null : perClass ? images.grid(perRow, classes) : images.grid();
      if (outDir != null) {
        if (grid) gridImages.writePng(0, outDir.resolve("grid.png"));
        o.printf("wrote %d images to %s%n", num, outDir);
      } else {
        gridImages.writePng(0, out);
        o.printf("wrote a grid of %d images to %s%s%n", num, out, perClass ? " (one row per class)" : "");
      }
      String conditioning = labels == null ? "" : String.format(", class %s, guidance %s", samplerChoice.clazz,
          samplerChoice.guidance);
      o.printf("sampled %d images (%s, seed %d, first index %d%s, %s) in %.1fs: %.2f images/s (model loaded in "
          + "%.1fs)%n", num, choice, seed, startIndex, conditioning, s.precision(), seconds, num / seconds,
          loadSeconds);
      o.flush();
    } catch (SamplerException | IllegalArgumentException e) {
      throw new Main.UserError(e.getMessage());
    }
    return 0;
  }
}
