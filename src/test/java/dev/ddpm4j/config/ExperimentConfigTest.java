package dev.ddpm4j.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class ExperimentConfigTest {
  @TempDir Path tmp;

  static Stream<Path> shippedConfigs() throws IOException {
    return Files.list(Path.of("configs")).filter(p -> p.toString().endsWith(".yaml")).sorted();
  }

  @ParameterizedTest
  @MethodSource("shippedConfigs")
  void everyShippedConfigLoadsAndRoundTrips(Path file) {
    ExperimentConfig c = ExperimentConfig.load(file, List.of());
    ExperimentConfig again = ExperimentConfig.parse(c.toYaml(), "roundtrip", List.of());
    assertEquals(c, again);
  }

  @Test
  void stringsThatLookLikeNumbersOrWordsRoundTrip() {
    for (String name : List.of("7", "1e3", "0.5", "true", "null", "yes", "07")) {
      ExperimentConfig c = ExperimentConfig.defaults(List.of("run.name=\"" + name + "\""));
      assertEquals(name, c.run().name());
      assertEquals(c, ExperimentConfig.parse(c.toYaml(), "roundtrip", List.of()), name);
    }
  }

  @Test
  void shippedConfigsExist() throws IOException {
    List<String> names = shippedConfigs().map(p -> p.getFileName().toString()).toList();
    assertTrue(names.contains("default.yaml"), names.toString());
    assertTrue(names.contains("tiny-imagenet-64.yaml"), names.toString());
  }

  /**
   * bf16 sampling was chosen on the default recipe's scores only, so only its exports say auto; the recipes that
   * extend it without a measurement must not inherit it.
   */
  @Test
  void onlyTheDefaultRecipeExportsForBf16Sampling() throws Exception {
    try (var files = java.nio.file.Files.list(Path.of("configs"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        String want = f.getFileName().toString().equals("default.yaml") ? "auto" : "fp32";
        assertEquals(want, ExperimentConfig.load(f, List.of()).export().precision(), f.toString());
      }
    }
  }

  @Test
  void tinyImagenetReproducesTheSeedSetting() {
    ExperimentConfig c = ExperimentConfig.load(Path.of("configs/tiny-imagenet-64.yaml"), List.of());
    assertEquals(64, c.data().imageSize());
    assertEquals(3, c.data().channels());
    assertEquals("mean_std", c.data().normalization());
    assertEquals(List.of(0.485, 0.456, 0.406), c.data().mean());
    assertEquals(List.of(0.229, 0.224, 0.225), c.data().std());
    // inherited from default.yaml through extends
    assertEquals(1000, c.diffusion().timesteps());
  }

  @Test
  void defaultsAreDocumentedValues() {
    ExperimentConfig c = ExperimentConfig.defaults(List.of());
    assertEquals(1000, c.diffusion().timesteps());
    assertEquals(1e-4, c.diffusion().schedule().betaStart());
    assertEquals(0.02, c.diffusion().schedule().betaEnd());
    assertEquals(0.9999, c.train().emaDecay());
    assertEquals("fashion_mnist", c.data().kind());
    assertEquals(Path.of("runs", "default"), c.runDir());
  }

  @Test
  void overridesParseYamlValues() {
    ExperimentConfig c = ExperimentConfig.defaults(List.of(
        "train.batch_size=32", "model.channel_mults=[1,2,2,2]", "data.random_flip=true", "train.lr=1e-3",
        "run.name=exp-1"));
    assertEquals(32, c.train().batchSize());
    assertEquals(List.of(1, 2, 2, 2), c.model().channelMults());
    assertTrue(c.data().randomFlip());
    assertEquals(1e-3, c.train().lr());
    assertEquals("exp-1", c.run().name());
  }

  @Test
  void extendsMergesSectionsKeyByKey() throws IOException {
    Files.writeString(tmp.resolve("base.yaml"), "train:\n  batch_size: 16\n  steps: 7\nmodel:\n  channel_mults: [1, 2]\n  attention_resolutions: []\n");
    Path child = tmp.resolve("sub/child.yaml");
    Files.createDirectories(child.getParent());
    Files.writeString(child, "extends: ../base.yaml\ntrain:\n  steps: 9\n");
    ExperimentConfig c = ExperimentConfig.load(child, List.of("train.lr=0.001"));
    assertEquals(16, c.train().batchSize());
    assertEquals(9, c.train().steps());
    assertEquals(List.of(1, 2), c.model().channelMults());
    assertEquals(0.001, c.train().lr());
  }

  @Test
  void circularExtendsIsAnError() throws IOException {
    Files.writeString(tmp.resolve("a.yaml"), "extends: b.yaml\n");
    Files.writeString(tmp.resolve("b.yaml"), "extends: a.yaml\n");
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.load(tmp.resolve("a.yaml"), List.of()));
    assertTrue(e.getMessage().contains("circular extends"), e.getMessage());
  }

  @Test
  void missingFileIsNamed() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ExperimentConfig.load(tmp.resolve("nope.yaml"), List.of()));
    assertTrue(e.getMessage().contains("nope.yaml") && e.getMessage().contains("not found"), e.getMessage());
  }

  @Test
  void yamlSyntaxErrorsGiveLineAndColumn() throws IOException {
    Path f = tmp.resolve("bad.yaml");
    Files.writeString(f, "train:\n  batch_size: [1, 2\n");
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.load(f, List.of()));
    assertTrue(e.getMessage().matches("(?s).*bad\\.yaml:\\d+:\\d+.*not valid YAML.*"), e.getMessage());
  }

  @Test
  void unknownKeysSuggestTheClosestKnownKeyWithLine() throws IOException {
    Path f = tmp.resolve("typo.yaml");
    Files.writeString(f, "train:\n  batch_sise: 8\nmodle:\n  x: 1\n");
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.load(f, List.of()));
    assertEquals(2, e.problems().size(), e.getMessage());
    ConfigProblem p = e.problems().stream().filter(q -> q.path().equals("train.batch_sise")).findFirst().orElseThrow();
    assertTrue(p.message().contains("did you mean 'batch_size'"), p.toString());
    assertTrue(p.source().endsWith("typo.yaml:2:3"), p.source());
    assertTrue(e.getMessage().contains("modle: unknown key (did you mean 'model'?)"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}={1}")
  @CsvSource(delimiter = '|', value = {
      "diffusion.timesteps|0|diffusion.timesteps|must be in [2, 100000]",
      "diffusion.timesteps|1|diffusion.timesteps|one step has no posterior to learn",
      "model.num_classes|-1|model.num_classes|must be in [0, 100000]",
      "train.label_dropout|1|train.label_dropout|must be in [0, 1)",
      "diffusion.timesteps|'\"ten\"'|diffusion.timesteps|must be an integer",
      "diffusion.schedule.beta_end|0.00001|diffusion.schedule.beta_end|must be > beta_start",
      "diffusion.schedule.beta_start|1.5|diffusion.schedule.beta_start|must be in (0, 1)",
      "diffusion.schedule.beta_end|0|diffusion.schedule.beta_end|must be in (0, 1)",
      "train.lr|0|train.lr|must be in (0, 1)",
      "train.lr|-0.1|train.lr|must be in (0, 1)",
      "train.batch_size|0|train.batch_size|must be > 0",
      "train.batch_size|2.5|train.batch_size|must be an integer",
      "model.dropout|1.0|model.dropout|must be in [0, 1)",
      "model.dropout|-0.1|model.dropout|must be in [0, 1)",
      "data.image_size|30|data.image_size|must be divisible by 2^(levels-1) = 4",
      "model.groups|12|model.groups|must divide every level's channel count",
      "model.attention_resolutions|[16, 5]|model.attention_resolutions|resolution 5 does not exist",
      "data.channels|3|data.channels|Fashion-MNIST is grayscale",
      "data.channels|2|data.channels|must be 1 (grayscale) or 3",
      "data.kind|fashion|data.kind|did you mean 'fashion_mnist'",
      "data.random_flip|yes please|data.random_flip|must be true or false",
      "model.channel_mults|[]|model.channel_mults|needs at least one level",
      "model.channel_mults|3|model.channel_mults|must be a list of integers",
      "run.name|../x|run.name|must be a folder name",
      "diffusion.variance|sigma|diffusion.variance|must be one of [beta, beta_tilde, learned_range]",
      "diffusion.loss|hybrid|diffusion.loss|needs diffusion.variance: learned_range (is beta)",
      "diffusion.variance|learned_range|diffusion.variance|diffusion.loss simple has none: use hybrid",
      "train|5|train|must be a mapping",
      "diffusion.prediction|noise|diffusion.prediction|must be one of [eps, x0, mean, v]",
      "diffusion.loss|vlb|diffusion.loss|must be one of [simple, weighted_vlb, hybrid]",
      "diffusion.vlb_weight|0|diffusion.vlb_weight|must be > 0",
      "diffusion.snr_gamma|-1|diffusion.snr_gamma|must be >= 0",
      "diffusion.schedule.kind|cosin|diffusion.schedule.kind|did you mean 'cosine'",
      "diffusion.schedule.cosine_s|1.5|diffusion.schedule.cosine_s|must be in [0, 1)",
      "diffusion.schedule.max_beta|1|diffusion.schedule.max_beta|must be in (0, 1)",
  })
  void validationRulesNameKeyAndValue(String key, String value, String path, String message) {
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.defaults(List.of(key + "=" + value)));
    ConfigProblem p = e.problems().stream().filter(q -> q.path().equals(path)).findFirst()
        .orElseThrow(() -> new AssertionError("no problem for " + path + " in " + e.getMessage()));
    assertTrue(p.message().contains(message), p.toString());
  }

  @Test
  void minSnrNeedsAParameterizationAndASimpleTerm() {
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.defaults(List.of(
        "diffusion.prediction=mean", "diffusion.snr_gamma=5")));
    assertTrue(e.getMessage().contains("not mean"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> ExperimentConfig.defaults(List.of(
        "diffusion.loss=weighted_vlb", "diffusion.snr_gamma=5")));
    assertTrue(e.getMessage().contains("use simple or hybrid"), e.getMessage());
  }

  @Test
  void meanStdNeedsOneEntryPerChannel() {
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.defaults(List.of(
        "data.kind=image_folder", "data.channels=3", "data.normalization=mean_std", "data.mean=[0.5]",
        "data.std=[0.2, 0.2, 0.2]")));
    assertEquals(1, e.problems().size(), e.getMessage());
    assertEquals("data.mean", e.problems().get(0).path());
  }

  @Test
  void allProblemsOfAFileAreReportedTogether() throws IOException {
    Path f = tmp.resolve("many.yaml");
    Files.writeString(f, """
        diffusion:
          timesteps: -1
        train:
          lr: 0
          batch_size: 0
        model:
          dropout: 2
        """);
    ConfigException e = assertThrows(ConfigException.class, () -> ExperimentConfig.load(f, List.of()));
    assertEquals(List.of("diffusion.timesteps", "train.batch_size", "train.lr", "model.dropout").stream().sorted().toList(),
        e.problems().stream().map(ConfigProblem::path).sorted().toList(), e.getMessage());
    ConfigProblem lr = e.problems().stream().filter(p -> p.path().equals("train.lr")).findFirst().orElseThrow();
    assertTrue(lr.source().endsWith("many.yaml:4:3"), lr.source());
    assertEquals("0", lr.value());
  }
}
