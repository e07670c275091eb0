package dev.ddpm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.ImageFolder;
import dev.ddpm4j.data.Splits;
import dev.ddpm4j.diffusion.Elbo;
import dev.ddpm4j.export.Exporter;

import dev.ddpm4j.features.BoundEvaluator;
import dev.ddpm4j.features.Calibration;
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

    @Option(names = "--calibrate",
        description = "Calibrate the feature network on the data of --config (default: configs/default.yaml): score "
            + "real training images under blur, noise, quantization, a shift and pure noise against the floor, print "
            + "the table and store it beside the network as calibration.json (what every evaluation checks).")
    boolean calibrate;
  }

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  @Mixin ConfigOptions options;

  @Option(names = "--metric", defaultValue = "bpd", split = ",",
      description = "Comma list of fid, kid, prdc, classes, copies, detail (sample quality; fid and kid in both "
          + "feature spaces), or one of bpd, mse (default: bpd; fid,detail for --images).")
  List<String> metrics;

  @Option(names = "--num", description = "Images: generated ones to score (default 1000) or test images for bpd/mse "
      + "(default 64).")
  Integer num;

  @Option(names = "--batch",
      description = "Images per sampler call (default: " + SamplerChoice.BATCH_HELP + ") or per network call of bpd "
          + "and mse (default: " + SamplerChoice.BATCH + ").")
  Integer batch;

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

  @Option(names = "--force", description = "--calibrate: replace a calibration the network holds for other data.")
  boolean force;

  @Option(names = "--buckets", defaultValue = "10", description = "Timestep buckets for mse (default: ${DEFAULT-VALUE}).")
  int buckets;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (!format.equals("table") && !format.equals("json")) throw new Main.UserError("--format must be table or json");
    if (source.calibrate) return calibrate();
    if (source.images != null && metrics.equals(List.of("bpd"))) metrics = List.of("fid", "detail");
    Set<Metric> quality = EnumSet.noneOf(Metric.class);
    List<String> bound = new ArrayList<>();
    for (String m : metrics) {
      Metric q = Metric.parse(m.trim());
      if (q != null) {
        quality.add(q);
      } else if (m.trim().equals("bpd") || m.trim().equals("mse")) {
        bound.add(m.trim());
      } else {
        throw new Main.UserError("unknown metric '" + m + "' (available: fid, kid, prdc, classes, copies, detail, bpd, "
            + "mse)");
      }
    }
    if (!quality.isEmpty() && !bound.isEmpty()) {
      throw new Main.UserError("bpd/mse score test images and fid/kid/prdc/classes/copies/detail score generated images; "
          + "run them as two evaluations");
    }
    if (bound.size() > 1) throw new Main.UserError("choose one of bpd and mse");
    if ((batch != null && batch < 1) || buckets < 1) throw new Main.UserError("--batch and --buckets must be >= 1");
    if (num != null && num < 1) throw new Main.UserError("--num must be >= 1");
    if (source.images != null) {
      if (!bound.isEmpty()) {
        throw new Main.UserError("--images can be scored with fid, kid, prdc, classes, copies and detail");
      }
      if (options.config == null) throw new Main.UserError("--images needs --config F: the data the images are compared with");
      if (samplerChoice.precision != null) {
        throw new Main.UserError("--precision is for sampling a model; --images are scored as they are");
      }
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
      try (DiffusionSampler s = samplerChoice.load(model, spec.commandLine().getErr())) {
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
      ImageFolder.Exact l = ImageFolder.readAllExact(source.images, cfg.data().channels(), cfg.data().imageSize(), num,
          skipBad);
      pixels = l.pixels();
      n = l.count();
      skipped = l.skipped();
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
      pixels = SamplerChoice.pixels(s, spec, n, SamplerChoice.batch(batch, s), seed, labelOf, samplerChoice.guidance,
          log);
      samplingSeconds = (System.nanoTime() - t0) / 1e9;
      what = spec + (labelOf == null ? "" : ", class " + samplerChoice.clazz + ", guidance " + samplerChoice.guidance);
    }
    QualityEvaluator.Report r;
    try (FeatureModel fm = FeatureModel.load(featureDir, "ddpm4j features train --config <the training config> --out "
        + featureDir)) {
      RealFeatures real = RealFeatures.of(fm, cfg.data(), cfg.run().seed(), log::message);
      r = new QualityEvaluator(fm, real, seed, RealFeatures.region(cfg.data())).evaluate(pixels, n, metrics, requested);
    }
    print(r, metrics, what, s == null ? null : s.precision(), skipped, samplingSeconds);
    return 0;
  }

  private int calibrate() throws IOException {
    ExperimentConfig cfg = options.resolve();
    int n = num != null ? num : 1000;
    if (n < 2) throw new Main.UserError("--num must be >= 2 for a calibration");
    Path featureDir = features != null ? features : FeatureModel.defaultDir(cfg.data());
    Progress log = Progress.forConsole(n);
    try (FeatureModel fm = FeatureModel.load(featureDir, "ddpm4j features train --config <the training config> --out "
        + featureDir)) {
      RealFeatures real = RealFeatures.of(fm, cfg.data(), cfg.run().seed(), log::message);
      Calibration old = Calibration.read(featureDir);
      if (old != null && !old.key().equals(real.key()) && !force) {
        // a calibration is the network's record of what it sees on its data: another data setting must not replace it
        throw new Main.UserError(featureDir.resolve(Calibration.FILE) + " holds a calibration made for other data or "
            + "another network (real_features_key " + old.key() + ", this data's is " + real.key() + "); --calibrate "
            + "would replace it. Add --force to replace it, or calibrate a copy of the network (--features DIR)");
      }
      QualityEvaluator ev = new QualityEvaluator(fm, real, seed, RealFeatures.region(cfg.data()));
      Calibration c = Calibration.run(ev, real, Splits.of(cfg.data(), cfg.run().seed()).train(), n, seed, log::message);
      boolean written = c.write(featureDir);
      PrintWriter o = spec.commandLine().getOut();
      c.table().forEach(o::println);
      o.println(written ? "stored in " + featureDir.resolve(Calibration.FILE)
          : featureDir.resolve(Calibration.FILE) + " already holds this network's calibration on this data; kept");
      o.flush();
      return 0;
    } catch (IllegalArgumentException e) {
      throw new Main.UserError(e.getMessage());
    }
  }

  private void print(QualityEvaluator.Report r, Set<Metric> metrics, String what, String samplingPrecision, int skipped,
      double sampling) {
    PrintWriter o = spec.commandLine().getOut();
    QualityEvaluator.Scores g = r.images();
    QualityEvaluator.Scores f = r.floor();
    if (format.equals("json")) {
      ObjectNode j = new ObjectMapper().createObjectNode();
      j.put("images", g.n());
      j.put("source", what);
      if (samplingPrecision != null) j.put("sampling_precision", samplingPrecision); // "precision" is PRDC's
      if (skipped > 0) j.put("skipped", skipped);
      j.put("held_out_images", r.heldOutImages());
      j.put("held_out", r.heldOutDescription());
      j.put("floor_images", f.n());
      g.put(j, "");
      f.put(j, "floor_");
      if (!r.warnings().isEmpty()) r.warnings().forEach(j.putArray("warnings")::add);
      ObjectNode sec = j.putObject("seconds");
      sec.put(source.images != null ? "reading" : "sampling", round(sampling, 2));
      sec.put("features", round(r.featureSeconds(), 2));
      sec.put("scoring", round(r.scoringSeconds(), 2));
      o.println(j);
    } else {
      o.printf("%d images (%s)%s, scored against %d held-out real images (%s)%n", g.n(),
          what + (samplingPrecision == null ? "" : ", " + samplingPrecision),
          skipped > 0 ? ", " + skipped + " files skipped" : "", r.heldOutImages(), r.heldOutDescription());
      o.printf("%-28s %14s %14s%n", "metric", "images", "real floor");
      if (g.fid() != null) row(o, "FID (classifier)", g.fid(), f.fid());
      if (g.fidDetail() != null) row(o, "FID (detail)", g.fidDetail(), f.fidDetail());
      if (g.kid() != null) {
        kidRow(o, "KID (classifier, x1000)", g.kid(), f.kid());
        kidRow(o, "KID (detail, x1000)", g.kidDetail(), f.kidDetail());
      }
      if (g.detailRatio() != null) row(o, "detail ratio (1 = real)", g.detailRatio(), f.detailRatio());
      if (g.histogram() != null) row(o, "pixel histogram distance", g.histogram(), f.histogram());
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
      r.warnings().forEach(w -> o.println("warning: " + w));
    }
    o.flush();
  }

  private static void kidRow(PrintWriter o, String name, dev.ddpm4j.metrics.Kid.Result a, dev.ddpm4j.metrics.Kid.Result b) {
    o.printf("%-28s %14s %14s%n", name, String.format("%.3f +- %.3f", 1000 * a.mean(), 1000 * a.std()),
        String.format("%.3f +- %.3f", 1000 * b.mean(), 1000 * b.std()));
  }

  private static void row(PrintWriter o, String name, double a, double b) {
    o.printf("%-28s %14.4f %14.4f%n", name, a, b);
  }

  private static double round(double v, int digits) {
    double s = Math.pow(10, digits);
    return Math.round(v * s) / s;
  }

  private int bound(ExperimentConfig cfg, DiffusionSampler s, String metric) {
    if (cfg.data().kind().equals("synthetic")) {
      throw new Main.UserError("synthetic data has no test split: the bound would score the training images; "
          + "evaluate a model trained on fashion_mnist or an image folder");
    }
    BoundEvaluator.Report r = BoundEvaluator.evaluate(cfg, s, num != null ? num : 64,
        batch != null ? batch : SamplerChoice.BATCH, seed, buckets);
    printBound(r.result(), r.data(), r.config(), r.seconds(), metric, r.ownRegion());
    dev.ddpm4j.data.Splits.trainedOnHeldOut(cfg.data())
        .ifPresent(w -> spec.commandLine().getOut().println("warning: " + w));
    return 0;
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
