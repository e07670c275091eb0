package dev.ddpm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ddpm4j.PngBytes;
import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.TinyModel;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.features.FeatureTrainer;
import dev.ddpm4j.train.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** eval's sample-quality path end to end on a tiny synthetic model and a feature network trained for it. */
class EvalQualityTest {
  @TempDir static Path tmp;
  static Path model;
  static Path features;
  static ExperimentConfig cfg;

  @BeforeAll
  static void trainModelAndFeatureNetwork() {
    model = TinyModel.export();
    cfg = TinyModel.config();
    ExperimentConfig shapes = TinyConfigs.config(tmp, "data.synthetic.num_images=512");
    features = tmp.resolve("features");
    FeatureTrainer.train(shapes, features, new FeatureTrainer.Options(3, 32, 2e-3, 0.3, 0), false,
        t -> new Progress(new PrintStream(new ByteArrayOutputStream()), false, t));
  }

  static JsonNode json(CliTest.Outcome o) throws Exception {
    assertEquals(0, o.code(), o.err());
    return new ObjectMapper().readTree(o.out());
  }

  @Test
  void scoresAModelsSamplesNextToTheRealFloorReproducibly() throws Exception {
    String[] args = {"eval", "--model", model.toString(), "--metric", "fid,kid,prdc,classes,copies,detail", "--num", "24",
        "--batch", "10", "--sampler", "ddim", "--steps", "5", "--features", features.toString(), "--format", "json"};
    JsonNode a = json(CliTest.run(args));
    assertEquals(24, a.get("images").asInt());
    assertEquals(16, a.get("floor_images").asInt(), "the floor draws min(n, training images) real images");
    for (String k : List.of("fid", "floor_fid", "kid", "kid_std", "floor_kid", "precision", "recall", "density",
        "coverage", "floor_precision", "class_entropy_bits", "confident_share", "copies", "floor_copies", "fid_detail",
        "floor_fid_detail", "kid_detail", "floor_kid_detail", "detail_ratio", "floor_detail_ratio", "histogram_tv",
        "floor_histogram_tv")) {
      assertTrue(a.has(k) && Double.isFinite(a.get(k).asDouble()), k + " in " + a);
    }
    String warnings = a.get("warnings").toString();
    assertTrue(warnings.contains("has no calibration") && warnings.contains("eval --calibrate"), warnings);
    assertTrue(warnings.contains("held-out real images"), "512 held-out images are too few for a stable FID: "
        + warnings);
    assertEquals(24, sum(a.get("class_histogram")));
    assertTrue(a.get("seconds").has("sampling") && a.get("seconds").has("scoring"), a.toString());
    // the precision the images were drawn in has one key (the text names it beside the sampler)
    assertEquals("fp32", a.get("sampling_precision").asText(), a.toString());
    assertFalse(a.get("source").asText().contains("fp32"), a.toString());
    JsonNode b = json(CliTest.run(args));
    assertEquals(a.get("fid").asDouble(), b.get("fid").asDouble(), 0, "same seed, same images, same score");
    assertEquals(a.get("kid").asDouble(), b.get("kid").asDouble(), 0);

    CliTest.Outcome table = CliTest.run("eval", "--model", model.toString(), "--metric", "fid", "--num", "8",
        "--sampler", "ddim", "--steps", "2", "--features", features.toString());
    assertEquals(0, table.code(), table.err());
    assertTrue(table.out().contains("FID") && table.out().contains("real floor") && table.out().contains("8 images"),
        table.out());
    assertTrue(table.out().contains(", fp32), scored against"), table.out());
  }

  @Test
  void aCalibrationForOtherDataIsReplacedOnlyWithForce() throws Exception {
    Path net = tmp.resolve("features-copy");
    CliTest.copyTree(features, net);
    Files.deleteIfExists(net.resolve(dev.ddpm4j.features.Calibration.FILE));
    Path yaml = tmp.resolve("shapes.yaml");
    Files.writeString(yaml, TinyConfigs.config(tmp, "data.synthetic.num_images=512").toYaml());
    String[] args = {"eval", "--calibrate", "--config", yaml.toString(), "--features", net.toString(), "--num", "4"};
    CliTest.Outcome first = CliTest.run(args);
    assertEquals(0, first.code(), first.err());
    Path file = net.resolve(dev.ddpm4j.features.Calibration.FILE);
    String stored = Files.readString(file);
    String[] other = java.util.Arrays.copyOf(args, args.length + 2);
    other[args.length] = "--set";
    other[args.length + 1] = "data.synthetic.num_images=256";
    CliTest.Outcome refused = CliTest.run(other);
    assertEquals(Main.EXIT_INPUT, refused.code(), refused.err());
    assertTrue(refused.err().contains("made for other data") && refused.err().contains("--force"), refused.err());
    assertEquals(stored, Files.readString(file), "the calibration is kept");
    String[] forced = java.util.Arrays.copyOf(other, other.length + 1);
    forced[other.length] = "--force";
    CliTest.Outcome replaced = CliTest.run(forced);
    assertEquals(0, replaced.code(), replaced.err());
    assertTrue(!stored.equals(Files.readString(file)), "replaced with --force");
  }

  @Test
  void scoresOfAModelTrainedOnTheHeldOutImagesSaySo() throws Exception {
    Path folder = tmp.resolve("grey-folder");
    for (int i = 0; i < 30; i++) {
      byte[] px = new byte[64];
      java.util.Arrays.fill(px, (byte) (i * 8));
      PngBytes.write(folder.resolve("c/img" + i + ".png"), 8, 8, 1, px);
    }
    try (dev.ddpm4j.features.FeatureModel fm = dev.ddpm4j.features.FeatureModel.load(features, "test")) {
      for (String split : List.of("all", "train", "test")) { // "train" second: its features come from the cache
        ExperimentConfig.Data data = TinyConfigs.config(tmp, "data.kind=image_folder", "data.path=" + folder,
            "data.resize=pad", "data.split=" + split).data();
        dev.ddpm4j.features.RealFeatures real = dev.ddpm4j.features.RealFeatures.of(fm, data, 0, m -> { });
        assertEquals(!split.equals("train"), real.trainedOnHeldOut().isPresent(), split);
        byte[] pixels = new byte[4 * 64];
        var r = new dev.ddpm4j.features.QualityEvaluator(fm, real, 0, dev.ddpm4j.features.RealFeatures.region(data))
            .evaluate(pixels, 4, java.util.Set.of(dev.ddpm4j.features.QualityEvaluator.Metric.FID));
        assertEquals(!split.equals("train"), r.warnings().stream().anyMatch(w -> w.contains("not held-out scores")),
            split + ": " + r.warnings());
      }
    }
  }

  @Test
  void benchQualityPrintsOneLinePerSamplerSetting() throws Exception {
    CliTest.Outcome o = CliTest.run("bench", "--mode", "quality", "--model", model.toString(), "--num", "12",
        "--sampler", "ddim", "--sampler-steps", "2,3", "--spacing", "all", "--features", features.toString());
    assertEquals(0, o.code(), o.err());
    List<String> lines = o.out().lines().toList();
    assertEquals(6, lines.size(), o.out());
    JsonNode first = new ObjectMapper().readTree(lines.get(0));
    assertEquals("ddim", first.get("sampler").asText());
    assertEquals(2, first.get("network_calls").asInt());
    assertEquals("leading", first.get("spacing").asText());
    assertEquals("trailing", new ObjectMapper().readTree(lines.get(1)).get("spacing").asText());
    for (String k : List.of("fid", "floor_fid", "kid", "precision", "recall", "seconds_per_1000_images")) {
      assertTrue(first.has(k), k + " in " + first);
    }
    // PRDC's precision is a fraction; the arithmetic the images were sampled in has a key of its own
    assertTrue(first.get("precision").isNumber(), first.toString());
    assertTrue(List.of("fp32", "bf16").contains(first.get("sampling_precision").asText()), first.toString());
  }

  static int sum(JsonNode arr) {
    int s = 0;
    for (JsonNode n : arr) s += n.asInt();
    return s;
  }

  @Test
  void scoresAFolderOfImagesAndNamesEveryBadFile() throws Exception {
    Path dir = tmp.resolve("pngs");
    byte[] img = new byte[64];
    for (int i = 0; i < 12; i++) {
      for (int p = 0; p < 64; p++) img[p] = (byte) ((p * 7 + i * 31) % 256);
      PngBytes.write(dir.resolve(String.format("img-%02d.png", i)), 8, 8, 1, img);
    }
    Path config = tmp.resolve("tiny.yaml");
    Files.writeString(config, cfg.toYaml());
    String[] base = {"eval", "--images", dir.toString(), "--config", config.toString(), "--features",
        features.toString(), "--metric", "fid,classes", "--format", "json"};
    JsonNode ok = json(CliTest.run(base));
    assertEquals(12, ok.get("images").asInt());

    Path corrupt = dir.resolve("zz-corrupt.png");
    Files.write(corrupt, "not a png".getBytes());
    CliTest.Outcome o = CliTest.run(base);
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains(corrupt.toString()) && o.err().contains("--skip-bad"), o.err());
    Files.delete(corrupt);

    Path big = dir.resolve("zz-big.png");
    PngBytes.write(big, 16, 16, 1, new byte[256]);
    o = CliTest.run(base);
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains(big.toString()) && o.err().contains("16x16, expected 8x8"), o.err());
    Files.delete(big);

    Path rgb = dir.resolve("zz-rgb.png");
    PngBytes.write(rgb, 8, 8, 3, new byte[192]);
    o = CliTest.run(base);
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains(rgb.toString()) && o.err().contains("3 colour channels (RGB), expected 1"), o.err());

    String[] skipping = java.util.Arrays.copyOf(base, base.length + 1);
    skipping[base.length] = "--skip-bad";
    JsonNode skipped = json(CliTest.run(skipping));
    assertEquals(12, skipped.get("images").asInt());
    assertEquals(1, skipped.get("skipped").asInt());
  }

  @Test
  void refusesMixedMetricsAndImagesWithoutConfig() {
    CliTest.Outcome o = CliTest.run("eval", "--model", model.toString(), "--metric", "fid,bpd");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("two evaluations"), o.err());
    o = CliTest.run("eval", "--images", tmp.toString());
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("--images needs --config"), o.err());
    o = CliTest.run("eval", "--model", model.toString(), "--metric", "fjd");
    assertTrue(o.err().contains("unknown metric 'fjd'"), o.err());
  }
}
