package dev.ddpm4j.features;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.data.Corruption;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.features.QualityEvaluator.Metric;
import dev.ddpm4j.features.QualityEvaluator.Scores;
import dev.ddpm4j.metrics.Detail;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a feature network's metrics see: the floor's real training images under each {@link Corruption#CALIBRATION}
 * corruption, scored like generated images (FID and KID in both spaces, the detail ratio). The clean row is the
 * real-vs-real floor itself. A network passes when
 * <ul>
 *   <li>every mild corruption (blur 0.5, noise 0.02, 16 levels) scores at least {@link #MILD_FACTOR} times the floor
 *       in at least one view: FID in either space, or the pixel-histogram distance;
 *   <li>every metric rises with the strength of each corruption (blur 0.5 &lt; 1, noise 0.02 &lt; 0.05, 16 &gt; 4
 *       levels; the detail ratio as |ln ratio|);
 *   <li>pure noise scores at least {@link #NOISE_FACTOR} times the floor's FID in every space and more than every
 *       other corruption.
 * </ul>
 * Stored beside the network as {@value #FILE} (keyed by the network's and the data's hash, no timings, so the same
 * network and data give the same bytes), and read by every evaluation, which warns when it is missing, was made on
 * other data, or failed.
 */
public record Calibration(String key, int n, long seed, Map<String, Map<String, Double>> rows, List<String> failures) {
  public static final String FILE = "calibration.json";
  public static final double MILD_FACTOR = 5;
  public static final double NOISE_FACTOR = 10;
  /** The metrics of each row, in table order. */
  public static final List<String> METRICS = List.of("fid", "fid_detail", "kid", "kid_detail", "detail_ratio",
      "histogram_tv");
  /** The views a mild corruption must stand out in (one of them), each as a multiple of the floor. */
  static final List<String> VIEWS = List.of("fid", "fid_detail", "histogram_tv");
  private static final int KID_SUBSETS = 20;

  /** Scores every corruption of the floor's n training images. */
  public static Calibration run(QualityEvaluator evaluator, RealFeatures real, Dataset train, int n, long seed,
      java.util.function.Consumer<String> log) {
    int[] idx = evaluator.floorIndex(n);
    Dataset clean = train.select(idx);
    Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
    for (Corruption c : Corruption.CALIBRATION) {
      byte[] px = c.apply(clean.pixels(), clean.size(), clean.height(), clean.width(), clean.channels(), seed);
      QualityEvaluator.Report r = evaluator.kidSubsets(KID_SUBSETS).evaluate(px, clean.size(),
          EnumSet.of(Metric.FID, Metric.KID, Metric.DETAIL));
      rows.put(c.key(), values(r.images()));
      log.accept(String.format(Locale.ROOT, "calibration %-11s FID %.2f, detail FID %.2f, detail ratio %.3f", c.key(),
          r.images().fid(), r.images().fidDetail(), r.images().detailRatio()));
    }
    return new Calibration(real.key(), clean.size(), seed, rows, check(rows));
  }

  private static Map<String, Double> values(Scores s) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("fid", s.fid());
    m.put("fid_detail", s.fidDetail());
    m.put("kid", s.kid().mean());
    m.put("kid_detail", s.kidDetail().mean());
    m.put("detail_ratio", s.detailRatio());
    m.put("histogram_tv", s.histogram());
    return m;
  }

  /** What the rows fail of the three rules above, one line each; empty when they pass. */
  static List<String> check(Map<String, Map<String, Double>> rows) {
    List<String> out = new ArrayList<>();
    Map<String, Double> floor = rows.get(Corruption.CLEAN.key());
    List<String> fids = List.of("fid", "fid_detail");
    for (Corruption c : Corruption.CALIBRATION) {
      if (!c.mild()) continue;
      Map<String, Double> r = rows.get(c.key());
      double best = 0;
      StringBuilder what = new StringBuilder();
      for (String m : VIEWS) {
        double f = r.get(m) / floor.get(m);
        best = Math.max(best, f);
        what.append(what.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1fx in %s", f, m));
      }
      if (best < MILD_FACTOR) {
        out.add(c.key() + " scores only " + what + " (a mild corruption needs " + (int) MILD_FACTOR
            + "x the floor in one view)");
      }
    }
    String[][] pairs = {{"blur_0.5", "blur_1"}, {"noise_0.02", "noise_0.05"}, {"levels_16", "levels_4"}};
    for (String[] p : pairs) {
      for (String m : METRICS) {
        double a = strength(m, rows.get(p[0]).get(m));
        double b = strength(m, rows.get(p[1]).get(m));
        if (!(b > a)) {
          out.add(String.format(Locale.ROOT, "%s does not rise from %s (%.4g) to %s (%.4g)", m, p[0], a, p[1], b));
        }
      }
    }
    Map<String, Double> noise = rows.get("pure_noise");
    for (String m : fids) {
      double v = noise.get(m);
      if (v < NOISE_FACTOR * floor.get(m)) {
        out.add(String.format(Locale.ROOT, "pure noise scores %s %.3g, under %dx the floor (%.3g)", m, v,
            (int) NOISE_FACTOR, floor.get(m)));
      }
      List<String> above = new ArrayList<>();
      for (var e : rows.entrySet()) {
        if (!e.getKey().equals("pure_noise") && e.getValue().get(m) >= v) {
          above.add(String.format(Locale.ROOT, "%s (%.3g)", e.getKey(), e.getValue().get(m)));
        }
      }
      if (!above.isEmpty()) {
        out.add(String.format(Locale.ROOT, "pure noise scores %s %.3g, no more than %s", m, v, String.join(", ", above)));
      }
    }
    return out;
  }

  /** A metric's distance from real images: the value itself, or |ln ratio| for the detail ratio. */
  static double strength(String metric, double value) {
    return metric.equals("detail_ratio") ? Detail.error(value) : value;
  }

  /** The table: one row per corruption, each FID also as a multiple of the floor. */
  public List<String> table() {
    List<String> out = new ArrayList<>();
    out.add(String.format(Locale.ROOT, "calibration: %d real training images per row, the clean row is the floor", n));
    out.add(String.format(Locale.ROOT, "%-12s %18s %18s %12s %12s %12s %18s", "corruption", "FID (x floor)",
        "detail FID (x fl.)", "KID x1000", "detail KID", "detail ratio", "histogram (x fl.)"));
    Map<String, Double> floor = rows.get(Corruption.CLEAN.key());
    for (var e : rows.entrySet()) {
      Map<String, Double> r = e.getValue();
      out.add(String.format(Locale.ROOT, "%-12s %10.2f (%5.1f) %10.2f (%5.1f) %12.3f %12.3f %12.3f %10.4f (%5.1f)",
          e.getKey(), r.get("fid"), r.get("fid") / floor.get("fid"), r.get("fid_detail"),
          r.get("fid_detail") / floor.get("fid_detail"), 1000 * r.get("kid"), 1000 * r.get("kid_detail"),
          r.get("detail_ratio"), r.get("histogram_tv"), r.get("histogram_tv") / floor.get("histogram_tv")));
    }
    out.add(failures.isEmpty() ? "calibration passed" : "calibration FAILED: " + String.join("; ", failures));
    return out;
  }

  /**
   * Writes {@value #FILE} into the network's folder (atomically) unless one for the same network and data is there:
   * features computed on another CPU may differ in the last float bits, and a shipped calibration must not change.
   *
   * @return whether the file was written
   */
  public boolean write(Path networkDir) throws IOException {
    Calibration old = read(networkDir);
    if (old != null && old.key().equals(key)) return false;
    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode j = om.createObjectNode();
    j.put("format", "ddpm4j-calibration");
    j.put("format_version", 1);
    j.put("real_features_key", key);
    j.put("images", n);
    j.put("seed", seed);
    ObjectNode rs = j.putObject("rows");
    rows.forEach((k, v) -> {
      ObjectNode r = rs.putObject(k);
      v.forEach(r::put);
    });
    var f = j.putArray("failures");
    failures.forEach(f::add);
    byte[] bytes = (om.writeValueAsString(j) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Path file = networkDir.resolve(FILE);
    Path tmp = networkDir.resolve(".tmp-" + FILE + "-" + ProcessHandle.current().pid());
    Files.write(tmp, bytes);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return true;
  }

  /** The stored calibration of a network, or null when it has none (or an unreadable one). */
  public static Calibration read(Path networkDir) {
    Path file = networkDir.resolve(FILE);
    if (!Files.isRegularFile(file)) return null;
    try {
      JsonNode j = new ObjectMapper().readTree(file.toFile());
      Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
      j.path("rows").fields().forEachRemaining(e -> {
        Map<String, Double> r = new LinkedHashMap<>();
        e.getValue().fields().forEachRemaining(v -> r.put(v.getKey(), v.getValue().asDouble()));
        rows.put(e.getKey(), r);
      });
      List<String> failures = new ArrayList<>();
      j.path("failures").forEach(x -> failures.add(x.asText()));
      return new Calibration(j.path("real_features_key").asText(), j.path("images").asInt(), j.path("seed").asLong(),
          rows, failures);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /**
   * What an evaluation with this network on this data must warn about: no calibration, one made on other data, or a
   * failed one (naming what failed). Empty when the stored calibration matches and passed.
   */
  public static List<String> warnings(Path networkDir, String realFeaturesKey, String howToCalibrate) {
    Calibration c = read(networkDir);
    if (c == null) {
      return List.of("the feature network " + networkDir + " has no calibration (" + FILE + "), so nothing shows what "
          + "its numbers see; make one with: " + howToCalibrate);
    }
    if (!c.key().equals(realFeaturesKey)) {
      return List.of("the feature network's calibration (" + networkDir.resolve(FILE) + ") was made for another "
          + "network or other data; make a new one with: " + howToCalibrate);
    }
    if (!c.failures().isEmpty()) {
      return List.of("the feature network " + networkDir + " failed its calibration, so these numbers may not see what "
          + "a person sees: " + String.join("; ", c.failures()));
    }
    return List.of();
  }
}
