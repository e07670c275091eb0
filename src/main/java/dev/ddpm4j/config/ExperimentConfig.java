package dev.ddpm4j.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A fully resolved, validated experiment: what to train on, which U-Net, which diffusion, how to train, sample, export
 * and where the run goes. Immutable; built only through {@link #load}, {@link #parse} or {@link #defaults}, all of which
 * validate every field and report all problems at once. The defaults below are the documented defaults of every key
 * (see README "Config reference").
 */
public record ExperimentConfig(
    Data data, Model model, Diffusion diffusion, Train train, Sample sample, Export export, Run run,
    Distributed distributed) {

  /** Where the images come from and how they become model inputs. */
  public record Data(
      String kind, String path, String split, int imageSize, int channels, String resize, List<Integer> background,
      String normalization, List<Double> mean, List<Double> std, boolean randomFlip,
      boolean skipBadFiles, int limit, int prefetch, Synthetic synthetic) {

    /** {@code data.background} as a config spells it: its name in {@link #NAMED_COLOURS}, or the triple. */
    public String backgroundName() {
      return NAMED_COLOURS.entrySet().stream().filter(e -> e.getValue().equals(background)).map(Map.Entry::getKey)
          .findFirst().orElse(background.toString());
    }
  }

  /** The synthetic dataset ({@code data.kind: synthetic}). */
  public record Synthetic(String pattern, int numImages) {}

  /** The U-Net. */
  public record Model(
      int baseChannels, List<Integer> channelMults, int numResBlocks, List<Integer> attentionResolutions,
      int heads, double dropout, int groups, String upsample, int numClasses) {

    public int levels() {
      return channelMults.size();
    }

    /** Whether the model takes class labels (and a "no label" token for classifier-free guidance). */
    public boolean conditional() {
      return numClasses > 0;
    }
  }

  /** The forward process and what the network predicts. */
  public record Diffusion(int timesteps, Schedule schedule, String prediction, String variance, String loss,
      double vlbWeight, double snrGamma) {}

  /**
   * The beta schedule: {@code linear}, {@code quadratic} and {@code sigmoid} run from beta_start to beta_end;
   * {@code cosine} (Nichol and Dhariwal 2021) uses cosine_s and clips betas at max_beta.
   */
  public record Schedule(String kind, double betaStart, double betaEnd, double cosineS, double maxBeta) {}

  /** The optimizer loop. */
  public record Train(
      int batchSize, int steps, double lr, int warmupSteps, double gradClip, double emaDecay,
      int logEvery, int sampleEvery, int sampleImages, int checkpointEvery, int keepCheckpoints,
      int intraOpThreads, int interOpThreads, double labelDropout, String precision, double maxMinutes,
      String fusedGroupNorm, String conv3x3) {}

  /** Defaults of the sample command. */
  public record Sample(int numImages, long seed) {}

  /** What an export holds and where it goes. */
  public record Export(String weights, String dir, String precision) {}

  /** Identity and location of a run. */
  public record Run(String name, String outputDir, long seed) {}

  /**
   * Data-parallel training on TensorFlow's distributed runtime: {@code cluster} lists host:port of every task (task 0
   * is the chief, which runs `train`; the others run `ddpm4j worker`); empty for one process.
   */
  public record Distributed(String cluster, boolean chiefReplica, double connectTimeoutS, double stepTimeoutS) {
    public boolean enabled() {
      return !cluster.isBlank();
    }

    /** host:port of each task, task 0 first. */
    public List<String> tasks() {
      return cluster.isBlank() ? List.of() : java.util.Arrays.stream(cluster.split(",")).map(String::trim).toList();
    }

    /** How many replicas share each batch: every task, or every task but the chief. */
    public int replicas() {
      return enabled() ? tasks().size() - (chiefReplica ? 0 : 1) : 1;
    }
  }

  public static final List<String> DATA_KINDS = List.of("fashion_mnist", "image_folder", "synthetic");
  /**
   * {@code train}: the training images; {@code test}: the held-out ones (Fashion-MNIST's t10k, an image folder's
   * held-out tenth); {@code all}: every file of an image folder (no held-out set).
   */
  public static final List<String> SPLITS = List.of("train", "test", "all");
  public static final List<String> RESIZE_MODES = List.of("pad", "resize", "crop");
  /** The colours {@code data.background} takes by name; any other is an RGB triple. */
  public static final Map<String, List<Integer>> NAMED_COLOURS = Map.of("black", List.of(0, 0, 0), "white",
      List.of(255, 255, 255));
  public static final List<String> NORMALIZATIONS = List.of("minus_one_one", "mean_std");
  public static final List<String> SYNTHETIC_PATTERNS = List.of("shapes", "gradients", "rings");
  public static final List<String> UPSAMPLE_MODES = List.of("nearest_conv", "transposed_conv");
  public static final List<String> SCHEDULES = List.of("linear", "cosine", "quadratic", "sigmoid");
  public static final List<String> PREDICTIONS = List.of("eps", "x0", "mean", "v");
  public static final List<String> VARIANCES = List.of("beta", "beta_tilde", "learned_range");
  public static final List<String> LOSSES = List.of("simple", "weighted_vlb", "hybrid");
  public static final List<String> EXPORT_WEIGHTS = List.of("ema", "raw");
  public static final List<String> PRECISIONS = List.of("auto", "fp32", "bf16");
  /** train.fused_group_norm: auto (where the op library loaded), fused (or fail), tensorflow (TensorFlow's ops). */
  public static final List<String> FUSED_GROUP_NORM = List.of("auto", "fused", "tensorflow");
  /**
   * train.conv3x3: auto (Winograd where the training runs in float32 and the op library loaded), winograd (or fail),
   * tensorflow (TensorFlow's Conv2D).
   */
  public static final List<String> CONV3X3 = List.of("auto", "winograd", "tensorflow");

  private static final ObjectMapper WRITER = new ObjectMapper(new YAMLFactory()
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
      .disable(YAMLGenerator.Feature.MINIMIZE_QUOTES)) // every string quoted: a run called 7 or 1e3 reads back as one
      .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

  /** Loads a YAML file (following {@code extends:}) and applies {@code key.path=value} overrides. */
  public static ExperimentConfig load(Path file, List<String> overrides) {
    ConfigTree tree = ConfigTree.load(file);
    overrides.forEach(tree::override);
    return bind(tree, file.toString());
  }

  /** Parses YAML text; {@code source} names it in errors. {@code extends:} is not allowed here. */
  public static ExperimentConfig parse(String yaml, String source, List<String> overrides) {
    ConfigTree tree = ConfigTree.parse(yaml, source);
    if (tree.root.has("extends")) {
      throw new ConfigException(source, "extends", tree.root.get("extends").toString(),
          "extends is only supported when loading from a file");
    }
    overrides.forEach(tree::override);
    return bind(tree, source);
  }

  /** The built-in defaults, with overrides. */
  public static ExperimentConfig defaults(List<String> overrides) {
    ConfigTree tree = ConfigTree.empty();
    overrides.forEach(tree::override);
    return bind(tree, "<defaults>");
  }

  /**
   * The default experiment: {@code configs/default.yaml} from the working directory when present, else the copy
   * embedded in the jar.
   */
  public static ExperimentConfig defaultExperiment(List<String> overrides) {
    Path local = Path.of("configs", "default.yaml");
    if (Files.isRegularFile(local)) return load(local, overrides);
    try (InputStream in = ExperimentConfig.class.getResourceAsStream("/configs/default.yaml")) {
      if (in == null) return defaults(overrides);
      return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "classpath:configs/default.yaml", overrides);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The resolved config as YAML, every key spelled out; {@link #parse} of it gives back an equal config. */
  public String toYaml() {
    try {
      return WRITER.writeValueAsString(this);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialize config", e);
    }
  }

  /** The resolved config as a JSON tree with the same keys as the YAML (stored in exported models). */
  public com.fasterxml.jackson.databind.JsonNode toJson() {
    return WRITER.valueToTree(this);
  }

  /** Output folder of this run: {@code run.output_dir/run.name}. */
  public Path runDir() {
    return Path.of(run.outputDir(), run.name());
  }

  private static ExperimentConfig bind(ConfigTree tree, String file) {
    Binder b = new Binder(tree, file);
    String positive = "must be > 0";
    String nonNegative = "must be >= 0";

    b.section("data");
    b.section("data.synthetic");
    Data data = new Data(
        b.choice("data.kind", "fashion_mnist", DATA_KINDS),
        b.string("data.path", "data/fashion-mnist"),
        b.choice("data.split", "train", SPLITS),
        b.integer("data.image_size", 32, v -> v >= 4 && v <= 1024, "must be in [4, 1024]"),
        b.integer("data.channels", 1, v -> v == 1 || v == 3, "must be 1 (grayscale) or 3 (RGB)"),
        b.choice("data.resize", "pad", RESIZE_MODES),
        b.rgb("data.background", NAMED_COLOURS.get("black"), NAMED_COLOURS),
        b.choice("data.normalization", "minus_one_one", NORMALIZATIONS),
        b.doubleList("data.mean", List.of(0.5), v -> v >= 0 && v <= 1, "entries must be in [0, 1]"),
        b.doubleList("data.std", List.of(0.5), v -> v > 0, "entries must be > 0"),
        b.bool("data.random_flip", false),
        b.bool("data.skip_bad_files", false),
        b.integer("data.limit", 0, v -> v >= 0, nonNegative + " (0 = all images)"),
        b.integer("data.prefetch", 4, v -> v >= 1 && v <= 1024, "must be in [1, 1024]"),
        new Synthetic(
            b.choice("data.synthetic.pattern", "shapes", SYNTHETIC_PATTERNS),
            b.integer("data.synthetic.num_images", 512, v -> v > 0, positive)));

    b.section("model");
    Model model = new Model(
        b.integer("model.base_channels", 32, v -> v > 0 && v <= 4096, "must be in [1, 4096]"),
        b.intList("model.channel_mults", List.of(1, 2, 2), v -> v > 0, "entries must be > 0"),
        b.integer("model.num_res_blocks", 1, v -> v > 0 && v <= 16, "must be in [1, 16]"),
        b.intList("model.attention_resolutions", List.of(8), v -> v > 0, "entries must be > 0"),
        b.integer("model.heads", 1, v -> v > 0, positive),
        b.number("model.dropout", 0.1, v -> v >= 0 && v < 1, "must be in [0, 1)"),
        b.integer("model.groups", 8, v -> v > 0, positive),
        b.choice("model.upsample", "nearest_conv", UPSAMPLE_MODES),
        b.integer("model.num_classes", 0, v -> v >= 0 && v <= 100000,
            "must be in [0, 100000] (0 = unconditional)"));

    b.section("diffusion");
    b.section("diffusion.schedule");
    Diffusion diffusion = new Diffusion(
        b.integer("diffusion.timesteps", 1000, v -> v >= 2 && v <= 100000,
            "must be in [2, 100000] (one step has no posterior to learn)"),
        new Schedule(
            b.choice("diffusion.schedule.kind", "linear", SCHEDULES),
            b.number("diffusion.schedule.beta_start", 1e-4, v -> v > 0 && v < 1, "must be in (0, 1)"),
            b.number("diffusion.schedule.beta_end", 0.02, v -> v > 0 && v < 1, "must be in (0, 1)"),
            b.number("diffusion.schedule.cosine_s", 0.008, v -> v >= 0 && v < 1, "must be in [0, 1)"),
            b.number("diffusion.schedule.max_beta", 0.999, v -> v > 0 && v < 1, "must be in (0, 1)")),
        b.choice("diffusion.prediction", "eps", PREDICTIONS),
        b.choice("diffusion.variance", "beta", VARIANCES),
        b.choice("diffusion.loss", "simple", LOSSES),
        b.number("diffusion.vlb_weight", 0.001, v -> v > 0, "must be > 0"),
        b.number("diffusion.snr_gamma", 0.0, v -> v >= 0, "must be >= 0 (0 = off)"));

    b.section("train");
    Train train = new Train(
        b.integer("train.batch_size", 64, v -> v > 0, positive),
        b.integer("train.steps", 10000, v -> v > 0, positive),
        b.number("train.lr", 2e-4, v -> v > 0 && v < 1, "must be in (0, 1)"),
        b.integer("train.warmup_steps", 500, v -> v >= 0, nonNegative),
        b.number("train.grad_clip", 1.0, v -> v >= 0, nonNegative + " (0 = no clipping)"),
        b.number("train.ema_decay", 0.9999, v -> v >= 0 && v < 1, "must be in [0, 1)"),
        b.integer("train.log_every", 50, v -> v > 0, positive),
        b.integer("train.sample_every", 1000, v -> v >= 0, nonNegative + " (0 = never)"),
        b.integer("train.sample_images", 64, v -> v > 0 && v <= 1024, "must be in [1, 1024]"),
        b.integer("train.checkpoint_every", 500, v -> v > 0, positive),
        b.integer("train.keep_checkpoints", 3, v -> v > 0, positive),
        b.integer("train.intra_op_threads", 2, v -> v >= 0, nonNegative + " (0 = TensorFlow chooses)"),
        b.integer("train.inter_op_threads", 2, v -> v >= 0, nonNegative + " (0 = TensorFlow chooses)"),
        b.number("train.label_dropout", 0.1, v -> v >= 0 && v < 1, "must be in [0, 1)"),
        b.choice("train.precision", "auto", PRECISIONS),
        b.number("train.max_minutes", 0.0, v -> v >= 0, nonNegative + " (0 = no time limit)"),
        b.choice("train.fused_group_norm", "auto", FUSED_GROUP_NORM),
        b.choice("train.conv3x3", "auto", CONV3X3));

    b.section("sample");
    Sample sample = new Sample(
        b.integer("sample.num_images", 64, v -> v > 0 && v <= 4096, "must be in [1, 4096]"),
        b.longValue("sample.seed", 0L));

    b.section("export");
    Export export = new Export(
        b.choice("export.weights", "ema", EXPORT_WEIGHTS),
        b.string("export.dir", "savedmodels"),
        b.choice("export.precision", "fp32", PRECISIONS));

    b.section("run");
    Run run = new Run(
        b.string("run.name", "default"),
        b.string("run.output_dir", "runs"),
        b.longValue("run.seed", 0L));
    if (!run.name().matches("[A-Za-z0-9._-]+") || run.name().startsWith(".")) {
      b.problem("run.name", run.name(), "must be a folder name: letters, digits, '.', '_', '-', not starting with '.'");
    }

    b.section("distributed");
    Distributed distributed = new Distributed(
        b.string("distributed.cluster", ""),
        b.bool("distributed.chief_replica", true),
        b.number("distributed.connect_timeout_s", 60.0, v -> v > 0, positive),
        b.number("distributed.step_timeout_s", 600.0, v -> v > 0, positive));
    if (distributed.enabled()) {
      for (String task : distributed.tasks()) {
        if (!task.matches("[A-Za-z0-9._-]+:[0-9]{1,5}")) {
          b.problem("distributed.cluster", distributed.cluster(), "each task must be host:port, got '" + task + "'");
        }
      }
      if (train.precision().equals("bf16")) {
        b.problem("train.precision", train.precision(), "distributed training runs in fp32 (use auto or fp32 with "
            + "distributed.cluster)");
      }
      if (distributed.tasks().size() < 2) {
        b.problem("distributed.cluster", distributed.cluster(), "needs the chief and at least one worker (host:port, "
            + "comma-separated)");
      } else if (train.batchSize() % distributed.replicas() != 0) {
        b.problem("train.batch_size", train.batchSize(), "must split evenly over the " + distributed.replicas()
            + " replicas of distributed.cluster");
      }
    }

    b.reportUnknownKeys();
    crossFieldRules(b, data, model, diffusion);
    if (!b.problems().isEmpty()) throw new ConfigException(b.problems());
    return new ExperimentConfig(data, model, diffusion, train, sample, export, run, distributed);
  }

  private static void crossFieldRules(Binder b, Data data, Model model, Diffusion diffusion) {
    Schedule s = diffusion.schedule();
    if (s.betaEnd() <= s.betaStart()) {
      b.problem("diffusion.schedule.beta_end", s.betaEnd(), "must be > beta_start (" + s.betaStart() + ")");
    }
    if (diffusion.snrGamma() > 0 && diffusion.prediction().equals("mean")) {
      b.problem("diffusion.snr_gamma", diffusion.snrGamma(), "min-SNR weighting is defined for prediction eps, x0 "
          + "and v, not mean");
    }
    boolean learned = diffusion.variance().equals("learned_range");
    if (diffusion.loss().equals("hybrid") && !learned) {
      b.problem("diffusion.loss", diffusion.loss(), "hybrid is the improved-DDPM loss: simple for the mean plus "
          + "vlb_weight x the bound for a learned variance; it needs diffusion.variance: learned_range (is "
          + diffusion.variance() + ")");
    }
    if (learned && diffusion.loss().equals("simple")) {
      b.problem("diffusion.variance", diffusion.variance(), "a learned variance learns only from the bound; "
          + "diffusion.loss simple has none: use hybrid (or weighted_vlb)");
    }
    if (diffusion.snrGamma() > 0 && diffusion.loss().equals("weighted_vlb")) {
      b.problem("diffusion.snr_gamma", diffusion.snrGamma(), "weights the simple loss; loss weighted_vlb has none "
          + "(use simple or hybrid)");
    }
    if (model.channelMults().isEmpty()) {
      b.problem("model.channel_mults", "[]", "needs at least one level");
      return;
    }
    int levels = model.levels();
    int factor = 1 << (levels - 1);
    if (data.imageSize() % factor != 0) {
      b.problem("data.image_size", data.imageSize(), "must be divisible by 2^(levels-1) = " + factor
          + " for " + levels + " levels (model.channel_mults " + model.channelMults() + ")");
    }
    List<Integer> resolutions = new java.util.ArrayList<>();
    for (int i = 0; i < levels; i++) resolutions.add(data.imageSize() >> i);
    for (int r : model.attentionResolutions()) {
      if (!resolutions.contains(r)) {
        b.problem("model.attention_resolutions", model.attentionResolutions(),
            "resolution " + r + " does not exist in this U-Net; its levels run at " + resolutions);
      }
    }
    java.util.TreeSet<Integer> widths = new java.util.TreeSet<>();
    widths.add(model.baseChannels());
    for (int m : model.channelMults()) widths.add(model.baseChannels() * m);
    for (int w : widths) {
      if (w % model.groups() != 0) {
        b.problem("model.groups", model.groups(), "must divide every level's channel count; " + w
            + " (of " + widths + ") is not divisible");
        break;
      }
      if (w % model.heads() != 0) {
        b.problem("model.heads", model.heads(), "must divide every level's channel count; " + w + " is not divisible");
        break;
      }
    }
    if (data.split().equals("all") && !data.kind().equals("image_folder")) {
      b.problem("data.split", data.split(), "all is for an image folder (every file, none held out); "
          + data.kind() + " has train and test");
    }
    if (data.kind().equals("fashion_mnist") && data.channels() != 1) {
      b.problem("data.channels", data.channels(), "Fashion-MNIST is grayscale: channels must be 1");
    }
    if (data.kind().equals("fashion_mnist") && data.resize().equals("pad") && data.imageSize() < 28) {
      b.problem("data.image_size", data.imageSize(), "Fashion-MNIST images are 28x28 and cannot be padded to "
          + data.imageSize() + "; use data.resize: resize");
    }
    if (model.conditional()) {
      Integer classes = switch (data.kind()) {
        case "fashion_mnist" -> 10;
        case "synthetic" -> data.synthetic().pattern().equals("gradients") ? 3 : 2;
        default -> null; // an image folder's classes are its first-level folders, counted when it is loaded
      };
      if (classes != null && classes != model.numClasses()) {
        b.problem("model.num_classes", model.numClasses(), "data.kind " + data.kind()
            + (data.kind().equals("synthetic") ? " (pattern " + data.synthetic().pattern() + ")" : "") + " has "
            + classes + " classes");
      }
    }
    if (data.normalization().equals("mean_std")) {
      if (data.mean().size() != data.channels()) {
        b.problem("data.mean", data.mean(), "needs one entry per channel (" + data.channels() + ")");
      }
      if (data.std().size() != data.channels()) {
        b.problem("data.std", data.std(), "needs one entry per channel (" + data.channels() + ")");
      }
    }
  }
}
