package dev.ddpm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.features.FeatureModel;
import dev.ddpm4j.features.QualityEvaluator;
import dev.ddpm4j.features.RealFeatures;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerSpec;
import dev.ddpm4j.train.Benchmark;
import dev.ddpm4j.train.Progress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.function.Consumer;

/** {@code bench --mode quality}: quality against sampling time for a list of sampler settings, one model load. */
final class QualityBench {
  private QualityBench() {}

  static void run(DiffusionSampler s, Path model, List<SamplerSpec> specs, List<Float> guidance, int n, int batch,
      long seed, Path features, Consumer<String> out) throws IOException {
    int classes = s.metadata().numClasses();
    if (guidance != null && classes == 0) throw new IllegalArgumentException("--guidance: this model is unconditional");
    ExperimentConfig cfg = ExperimentConfig.parse(new ObjectMapper().readTree(
        model.resolve(DiffusionSampler.METADATA).toFile()).get("config").toString(), model.toString(), List.of());
    Path featureDir = features != null ? features : FeatureModel.defaultDir(cfg.data());
    Progress log = Progress.forConsole(n);
    try (FeatureModel fm = FeatureModel.load(featureDir, "ddpm4j features train --out " + featureDir)) {
      RealFeatures real = RealFeatures.of(fm, cfg.data(), cfg.run().seed(), log::message);
      QualityEvaluator evaluator = new QualityEvaluator(fm, real, seed, RealFeatures.region(cfg.data()));
      boolean first = true;
      s.sample(1, seed, specs.get(0)); // warm-up: the first call of a signature builds its kernels
      List<Float> scales = guidance != null ? guidance : java.util.Collections.singletonList(null);
      for (SamplerSpec spec : specs) for (Float w : scales) {
        java.util.function.IntUnaryOperator labels = w == null ? null : i -> i % classes;
        int[] requested = null;
        if (labels != null) {
          requested = new int[n];
          for (int i = 0; i < n; i++) requested[i] = labels.applyAsInt(i);
        }
        long t0 = System.nanoTime();
        byte[] px = SamplerChoice.pixels(s, spec, n, batch, seed, labels, w == null ? 1f : w, Progress.forConsole(n));
        double sampling = (System.nanoTime() - t0) / 1e9;
        QualityEvaluator.Report r = evaluator.evaluate(px, n, EnumSet.of(QualityEvaluator.Metric.FID,
            QualityEvaluator.Metric.KID, QualityEvaluator.Metric.PRDC, QualityEvaluator.Metric.CLASSES,
            QualityEvaluator.Metric.DETAIL), requested);
        if (first) r.warnings().forEach(x -> log.message("warning: " + x));
        first = false;
        ObjectNode j = new ObjectMapper().createObjectNode();
        j.put("mode", "quality");
        j.put("model", model.toString());
        j.put("sampler", spec.sampler());
        j.put("sampling_precision", s.precision()); // "precision" is PRDC's
        j.put("network_calls", spec.isFullAncestral() ? s.metadata().timesteps() : spec.steps());
        j.put("spacing", spec.spacing() == null ? "all" : spec.spacing());
        if (spec.eta() != 0) j.put("eta", spec.eta());
        if (w != null) {
          j.put("classes", "balanced");
          j.put("guidance", w);
        }
        j.put("images", n);
        j.put("batch", batch);
        j.put("sampling_s", Math.round(sampling * 10) / 10.0);
        j.put("seconds_per_1000_images", Math.round(sampling / n * 1000 * 10) / 10.0);
        r.images().put(j, "");
        r.floor().put(j, "floor_");
        if (!r.warnings().isEmpty()) r.warnings().forEach(j.putArray("warnings")::add);
        j.put("scoring_s", Math.round((r.featureSeconds() + r.scoringSeconds()) * 10) / 10.0);
        j.put("peak_rss_mb", Benchmark.peakRssKb() / 1024);
        out.accept(j.toString());
      }
    }
  }
}
