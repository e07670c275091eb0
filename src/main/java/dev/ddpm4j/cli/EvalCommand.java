package dev.ddpm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.DataException;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import dev.ddpm4j.data.ImageFolder;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.Elbo;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.export.Exporter;
import dev.ddpm4j.features.FeatureModel;
import dev.ddpm4j.features.QualityEvaluator;
import dev.ddpm4j.features.QualityEvaluator.Metric;
import dev.ddpm4j.features.RealFeatures;
import dev.ddpm4j.metrics.ClassStats;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.sampler.SamplerSpec;
import dev.ddpm4j.train.Checkpoints;
import dev.ddpm4j.train.Progress;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Measure a model. Sample quality (--metric fid,kid,prdc,classes,copies): draw --num images from an "
        + "export (or read --images DIR) and score them in the feature network's space against the real held-out "
        + "images, next to the real-vs-real floor at the same n. The bound (--metric bpd: bits/dim term by term) or "
        + "the noise-prediction MSE per timestep bucket (--metric mse) on the config's test split.")
final class EvalCommand implements Callable<Integer> {
  static final class Source {
    @Option(names = "--model", paramLabel = "DIR", description = "An exported SavedModel.")
    Path model;

    @Option(names = "--run", paramLabel = "DIR", description = "A run directory (its latest checkpoint, EMA weights).")
    Path run;

    @Option(names = "--images", paramLabel = "DIR",
        description = "A folder of PNG (or other readable) images written by anything; needs --config for the data "
            + "they are compared with. Every image must have the config's size and channel count.")
    Path images;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  @Mixin ConfigOptions options;

  @Option(names = "--metric", defaultValue = "bpd", split = ",",
      description = "Comma list of fid, kid, prdc, classes, copies (sample quality), or one of bpd, mse "
          + "(default: bpd; fid for --images).")
  List<String> metrics;

  @Option(names = "--num", description = "Images: generated ones to score (default 1000) or test images for bpd/mse "
      + "(default 64).")
  Integer num;

  @Option(names = "--batch", defaultValue = "64",
      description = "Images per sampler or network call (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--seed", defaultValue = "0",
      description = "Sampling seed; forward-process noise seed for bpd/mse (default: ${DEFAULT-VALUE}).")
  long seed;

  @Mixin SamplerChoice samplerChoice;

  @Option(names = "--features", paramLabel = "DIR",
      description = "Feature network (default: <data.path>/features, trained by `ddpm4j features train`).")
  Path features;

  @Option(names = "--format", defaultValue = "table", description = "table or json (one line) (default: ${DEFAULT-VALUE}).")
  String format;

  @Option(names = "--skip-bad", description = "--images: skip unreadable or wrongly shaped files and count them.")
  boolean skipBad;

  @Option(names = "--buckets", defaultValue = "10", description = "Timestep buckets for mse (default: ${DEFAULT-VALUE}).")
  int buckets;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (!format.equals("table") && !format.equals("json")) throw new Main.UserError("--format must be table or json");
    if (source.images != null && metrics.equals(List.of("bpd"))) metrics = List.of("fid");
    Set<Metric> quality = EnumSet.noneOf(Metric.class);
    List<String> bound = new ArrayList<>();
    for (String m : metrics) {
      Metric q = Metric.parse(m.trim());
      if (q != null) {
        quality.add(q);
      } else if (m.trim().equals("bpd") || m.trim().equals("mse")) {
        bound.add(m.trim());
      } else {
        throw new Main.UserError("unknown metric '" + m + "' (available: fid, kid, prdc, classes, copies, bpd, mse)");
      }
    }
    if (!quality.isEmpty() && !bound.isEmpty()) {
      throw new Main.UserError("bpd/mse score test images and fid/kid/prdc/classes/copies score generated images; "
          + "run them as two evaluations");
    }
    if (bound.size() > 1) throw new Main.UserError("choose one of bpd and mse");
    if (batch < 1 || buckets < 1) throw new Main.UserError("--batch and --buckets must be >= 1");
    if (num != null && num < 1) throw new Main.UserError("--num must be >= 1");
    if (source.images != null) {
      if (!bound.isEmpty()) throw new Main.UserError("--images can be scored with fid, kid, prdc, classes and copies");
      if (options.config == null) throw new Main.UserError("--images needs --config F: the data the images are compared with");
      return quality(options.resolve(), null, quality);
    }
    if (options.config != null) {
      throw new Main.UserError("--config is for --images; a model carries its training config (--set changes keys)");
    }
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
      try (DiffusionSampler s = samplerChoice.load(model)) {
        ExperimentConfig cfg = storedConfig(model);
        if (!quality.isEmpty()) return quality(cfg, s, quality);
        return bound(cfg, s, bound.get(0));
      }
    } catch (SamplerException | IllegalArgumentException e) {
      throw new Main.UserError(e.getMessage());
    } finally {
      if (tmp != null) Checkpoints.deleteTree(tmp);
    }
  }

  /** The training config stored in an export (plus --set overrides). */
  private ExperimentConfig storedConfig(Path model) throws IOException {
    // Jackson keeps integers as integers (the client API's small reader makes every number a double)
    String configJson = new ObjectMapper().readTree(model.resolve(DiffusionSampler.METADATA).toFile())
        .get("config").toString();
    return ExperimentConfig.parse(configJson, model + "/" + DiffusionSampler.METADATA, options.overrides);
  }

  private int quality(ExperimentConfig cfg, DiffusionSampler s, Set<Metric> metrics) throws IOException {
    int n = num != null ? num : 1000;
    if (n < 2) throw new Main.UserError("--num must be >= 2 for sample-quality metrics");
    if (cfg.data().kind().equals("synthetic") && features == null) {
      throw new Main.UserError("synthetic data has no feature network by default; pass --features DIR");
    }
    Path featureDir = features != null ? features : FeatureModel.defaultDir(cfg.data());
    Progress log = Progress.forConsole(n);
    double samplingSeconds = 0;
    byte[] pixels;
    String what;
    int skipped = 0;
    int[] requested = null;
    if (s == null) {
      long t0 = System.nanoTime();
      Loaded l = loadImages(source.images, cfg.data().channels(), cfg.data().imageSize());
      pixels = l.pixels;
      n = l.count;
      skipped = l.skipped;
      samplingSeconds = (System.nanoTime() - t0) / 1e9;
      what = source.images.toString();
    } else {
      SamplerSpec spec = samplerChoice.spec(s.metadata().timesteps());
      long t0 = System.nanoTime();
      var labelOf = samplerChoice.labels(s);
      if (labelOf != null) {
        requested = new int[n];
        for (int i = 0; i < n; i++) requested[i] = labelOf.applyAsInt(i);
      }
      pixels = SamplerChoice.pixels(s, spec, n, batch, seed, labelOf, samplerChoice.guidance, log);
      samplingSeconds = (System.nanoTime() - t0) / 1e9;
      what = spec + (labelOf == null ? "" : ", class " + samplerChoice.clazz + ", guidance " + samplerChoice.guidance);
    }
    QualityEvaluator.Report r;
    try (FeatureModel fm = FeatureModel.load(featureDir, "ddpm4j features train --config <the training config> --out "
        + featureDir)) {
      RealFeatures real = RealFeatures.of(fm, cfg.data(), cfg.run().seed(), log::message);
      r = new QualityEvaluator(fm, real, seed).evaluate(pixels, n, metrics, requested);
    }
    print(r, metrics, what, skipped, samplingSeconds);
    return 0;
  }

  private record Loaded(byte[] pixels, int count, int skipped) {}

  private Loaded loadImages(Path dir, int channels, int size) {
    if (!Files.isDirectory(dir)) throw new DataException(dir, "no such folder (--images)");
    List<Path> files;
    try (Stream<Path> st = Files.walk(dir)) {
      files = st.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
          .filter(p -> ImageFolder.READABLE.contains(ImageFolder.extension(p))).sorted().toList();
    } catch (IOException e) {
      throw new DataException(dir, "cannot list: " + e.getMessage(), e);
    }
    if (files.isEmpty()) throw new DataException(dir, "no images found (--images)");
    if (num != null && files.size() > num) files = files.subList(0, num);
    int per = size * size * channels;
    byte[] px = new byte[files.size() * per];
    int kept = 0;
    int skipped = 0;
    for (Path f : files) {
      try {
        System.arraycopy(ImageFolder.readExact(f, channels, size), 0, px, kept * per, per);
        kept++;
      } catch (DataException e) {
        if (!skipBad) throw new DataException(e.file(), e.getMessage().substring(e.file().toString().length() + 2)
            + " (--skip-bad skips such files)");
        skipped++;
      }
    }
    return new Loaded(java.util.Arrays.copyOf(px, kept * per), kept, skipped);
  }

  private void print(QualityEvaluator.Report r, Set<Metric> metrics, String what, int skipped, double sampling) {
    PrintWriter o = spec.commandLine().getOut();
    QualityEvaluator.Scores g = r.images();
    QualityEvaluator.Scores f = r.floor();
    if (format.equals("json")) {
      ObjectNode j = new ObjectMapper().createObjectNode();
      j.put("images", g.n());
      j.put("source", what);
      if (skipped > 0) j.put("skipped", skipped);
      j.put("held_out_images", r.heldOutImages());
      j.put("held_out", r.heldOutDescription());
      j.put("floor_images", f.n());
      put(j, "", g);
      put(j, "floor_", f);
      ObjectNode sec = j.putObject("seconds");
      sec.put(source.images != null ? "reading" : "sampling", round(sampling, 2));
      sec.put("features", round(r.featureSeconds(), 2));
      sec.put("scoring", round(r.scoringSeconds(), 2));
      o.println(j);
    } else {
      o.printf("%d images (%s)%s, scored against %d held-out real images (%s)%n", g.n(), what,
          skipped > 0 ? ", " + skipped + " files skipped" : "", r.heldOutImages(), r.heldOutDescription());
      o.printf("%-28s %14s %14s%n", "metric", "images", "real floor");
      if (g.fid() != null) row(o, "FID", g.fid(), f.fid());
      if (g.kid() != null) {
        o.printf("%-28s %14s %14s%n", "KID (x1000, +- std)", String.format("%.3f +- %.3f", 1000 * g.kid().mean(),
            1000 * g.kid().std()), String.format("%.3f +- %.3f", 1000 * f.kid().mean(), 1000 * f.kid().std()));
      }
      if (g.prdc() != null) {
        row(o, "precision (k=5)", g.prdc().precision(), f.prdc().precision());
        row(o, "recall", g.prdc().recall(), f.prdc().recall());
        row(o, "density", g.prdc().density(), f.prdc().density());
        row(o, "coverage", g.prdc().coverage(), f.prdc().coverage());
      }
      if (g.classes() != null) {
        row(o, "class entropy (bits)", g.classes().entropyBits(), f.classes().entropyBits());
        row(o, "confident (p >= " + ClassStats.CONFIDENT + ")", g.classes().confidentShare(),
            f.classes().confidentShare());
        if (!Double.isNaN(g.classes().requestedShare())) {
          row(o, "requested class (floor: acc.)", g.classes().requestedShare(), f.classes().requestedShare());
        }
        o.printf("%-28s %s%n", "class histogram", java.util.Arrays.toString(g.classes().histogram()));
        o.printf("%-28s %s%n", "  real floor", java.util.Arrays.toString(f.classes().histogram()));
      }
      if (g.copies() != null) row(o, "copies (share)", g.copies().share(), f.copies().share());
      o.printf("floor: %d real training images (copies: held-out images); %s %.1fs, features %.1fs, scoring %.1fs%n",
          f.n(), source.images != null ? "reading" : "sampling", sampling, r.featureSeconds(), r.scoringSeconds());
    }
    o.flush();
  }

  private static void row(PrintWriter o, String name, double a, double b) {
    o.printf("%-28s %14.4f %14.4f%n", name, a, b);
  }

  private static double round(double v, int digits) {
    double s = Math.pow(10, digits);
    return Math.round(v * s) / s;
  }

  static void put(ObjectNode j, String prefix, QualityEvaluator.Scores s) {
    if (s.fid() != null) j.put(prefix + "fid", s.fid());
    if (s.kid() != null) {
      j.put(prefix + "kid", s.kid().mean());
      j.put(prefix + "kid_std", s.kid().std());
    }
    if (s.prdc() != null) {
      j.put(prefix + "precision", s.prdc().precision());
      j.put(prefix + "recall", s.prdc().recall());
      j.put(prefix + "density", s.prdc().density());
      j.put(prefix + "coverage", s.prdc().coverage());
    }
    if (s.classes() != null) {
      j.put(prefix + "class_entropy_bits", s.classes().entropyBits());
      j.put(prefix + "confident_share", s.classes().confidentShare());
      if (!Double.isNaN(s.classes().requestedShare())) j.put(prefix + "requested_class_share", s.classes().requestedShare());
      var h = j.putArray(prefix + "class_histogram");
      for (int c : s.classes().histogram()) h.add(c);
    }
    if (s.copies() != null) j.put(prefix + "copies", s.copies().share());
  }

  private int bound(ExperimentConfig cfg, DiffusionSampler s, String metric) {
    if (cfg.data().kind().equals("synthetic")) {
      throw new Main.UserError("synthetic data has no test split: the bound would score the training images; "
          + "evaluate a model trained on fashion_mnist or an image folder");
    }
    if (cfg.data().kind().equals("fashion_mnist")) { // its own test split: the t10k files
      cfg = ExperimentConfig.parse(cfg.toYaml(), "stored config", List.of("data.split=test"));
    }
    Dataset data = Datasets.load(cfg.data(), cfg.run().seed()).limit(num != null ? num : 64);
    Normalizer norm = Normalizer.of(cfg.data());
    int dims = data.imageBytes();
    float[] x0 = new float[data.size() * dims];
    norm.normalize(data.pixels(), 0, x0, 0, x0.length);
    double[] scale = norm.scale().stream().mapToDouble(Double::doubleValue).toArray();
    double[] shift = norm.shift().stream().mapToDouble(Double::doubleValue).toArray();
    boolean[] scored = ownPixels(cfg, data);
    Elbo.Denoise net = (xt, t) -> batched(s, xt, t, dims);
    long t0 = System.nanoTime();
    Elbo.Result r = Elbo.evaluate(Schedule.of(cfg.diffusion()), cfg.diffusion().variance(), x0, data.size(), dims,
        scale, shift, scored, true, net, seed, buckets);
    printBound(r, data, cfg, (System.nanoTime() - t0) / 1e9, metric, scored != null);
    return 0;
  }

  /**
   * The dimensions of the data's own pixels when a dataset was padded to the model's size (Fashion-MNIST's centered
   * 28x28), else null (all).
   */
  static boolean[] ownPixels(ExperimentConfig cfg, Dataset data) {
    int size = data.height();
    int own = 28;
    if (!cfg.data().kind().equals("fashion_mnist") || !cfg.data().resize().equals("pad") || size <= own) return null;
    int c = data.channels();
    boolean[] m = new boolean[size * size * c];
    int o = (size - own) / 2;
    for (int y = o; y < o + own; y++) for (int x = o; x < o + own; x++) for (int k = 0; k < c; k++) m[(y * size + x) * c + k] = true;
    return m;
  }

  private Elbo.Prediction batched(DiffusionSampler s, float[] xt, int[] t, int dims) {
    float[] out = new float[xt.length];
    float[] logVar = null;
    for (int start = 0; start < t.length; start += batch) {
      int n = Math.min(batch, t.length - start);
      float[] x = java.util.Arrays.copyOfRange(xt, start * dims, (start + n) * dims);
      DiffusionSampler.Denoised d = s.denoise(x, java.util.Arrays.copyOfRange(t, start, start + n));
      System.arraycopy(d.x0(), 0, out, start * dims, n * dims);
      if (d.logVariance() != null) {
        if (logVar == null) logVar = new float[xt.length];
        System.arraycopy(d.logVariance(), 0, logVar, start * dims, n * dims);
      }
    }
    return new Elbo.Prediction(out, logVar);
  }

  private void printBound(Elbo.Result r, Dataset data, ExperimentConfig cfg, double seconds, String metric,
      boolean region) {
    PrintWriter o = spec.commandLine().getOut();
    o.printf("%s, %d images, %d timesteps, variance %s, x0 clipped to the data range (%.1fs)%n", data.name(),
        r.images(), cfg.diffusion().timesteps(), cfg.diffusion().variance(), seconds);
    if (metric.equals("bpd")) {
      if (region) {
        o.printf("bits/dim over the data's own %d pixels (the %dx%d padding excluded):%n", r.scoredDims(),
            data.height(), data.width());
      }
      o.printf("prior KL(q(x_T|x_0) || N(0,I))     %10.5f bits/dim%n", r.prior());
      o.printf("sum_t KL(q(x_t-1|x_t,x_0) || p)    %10.5f bits/dim%n", r.diffusionTerms());
      o.printf("decoder -log p(x_0|x_1)            %10.5f bits/dim%n", r.decoder());
      o.printf("total (negative ELBO)              %10.5f bits/dim  (standard error %.5f)%n", r.total(),
          r.totalStandardError());
      if (region) {
        o.printf("all %d dimensions, padding included: %.5f bits/dim (standard error %.5f)%n", r.dims(),
            r.all().total(), r.all().totalStandardError());
      }
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
