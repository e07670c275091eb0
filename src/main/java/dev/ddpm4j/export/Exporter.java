package dev.ddpm4j.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.SamplerKind;
import dev.ddpm4j.diffusion.Spacing;
import dev.ddpm4j.train.Checkpoints;
import dev.ddpm4j.train.Trainer;
import dev.ddpm4j.train.TrainingSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;

/**
 * Writes a trained run as a TensorFlow SavedModel (tag {@code serve}; signatures {@code sample} = {@code
 * serving_default}, {@code denoise}, {@code q_sample}) plus {@code assets.extra/ddpm4j.json}. The export is built in
 * a temporary folder beside the target and renamed into place, so a crash never leaves a half-written model.
 */
public final class Exporter {
  public static final String METADATA = "assets.extra/ddpm4j.json";
  public static final String VERSION = "0.1.0-SNAPSHOT";
  /** 2: sampling signatures take first_index (per-image noise); one sample_<sampler> signature per sampler. */
  public static final int FORMAT_VERSION = 2;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** What was exported. */
  public record Exported(Path dir, long step, String weights, double seconds) {}

  private Exporter() {}

  /** The file that marks a model shipped with ddpm4j (committed under savedmodels/): no command replaces it. */
  public static final String SHIPPED = "SHIPPED";

  /** Whether a folder holds a shipped model. */
  public static boolean isShipped(Path dir) {
    return Files.isRegularFile(dir.resolve(SHIPPED));
  }

  /**
   * Refuses a target folder that holds a shipped model, even with --force: the README's commands must never change a
   * committed model. Replacing one on purpose means deleting the folder first.
   *
   * @param chosenBy the keys or options that chose the folder, for the message
   */
  public static void requireNotShipped(Path target, String chosenBy) {
    if (isShipped(target)) {
      throw new IllegalArgumentException(target + " holds a model shipped with ddpm4j (it has a " + SHIPPED
          + " file) and no command replaces it, --force included; choose another folder by " + chosenBy
          + " (to replace the shipped model on purpose, delete the folder first)");
    }
  }

  /**
   * Refuses an export target that replacing would lose something by, --force included: a folder that is not an earlier
   * ddpm4j export (no {@code saved_model.pb} beside {@code assets.extra/ddpm4j.json}: a run directory, a folder of runs,
   * {@code savedmodels/} itself, a feature network), a file, or the run directory or a folder above it. An empty folder,
   * a missing one and an earlier export may be the target.
   *
   * @param runDir the run being exported (or trained)
   * @param chosenBy the keys or options that chose the folder, for the message
   */
  public static void requireReplaceable(Path target, Path runDir, String chosenBy) {
    Path t = target.toAbsolutePath().normalize();
    Path run = runDir.toAbsolutePath().normalize();
    requireNotShipped(t, chosenBy);
    if (run.startsWith(t)) {
      throw new IllegalArgumentException("the export target " + t + " is the run directory " + run
          + (run.equals(t) ? "" : "'s parent") + " and replacing it would delete the run; choose another folder by "
          + chosenBy);
    }
    if (!Files.exists(t, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
    if (!Files.isDirectory(t, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      throw new IllegalArgumentException("the export target " + t + " is a file, not a folder; choose another by "
          + chosenBy);
    }
    if (Files.isRegularFile(t.resolve("saved_model.pb")) && Files.isRegularFile(t.resolve(METADATA))) return;
    try (var entries = Files.list(t)) {
      if (entries.findAny().isEmpty()) return;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the export target " + t + ": " + e.getMessage(), e);
    }
    throw new IllegalArgumentException("the export target " + t + " is not an earlier ddpm4j export (it has files but "
        + "no saved_model.pb with " + METADATA + ": a run, a folder of models, a feature network?); export replaces only "
        + "an export, --force included. Choose another folder by " + chosenBy + ", or empty it yourself");
  }

  /**
   * @param checkpoint {@code latest} or a step number
   * @param out target folder, or null for {@code export.dir/run.name}
   * @param weights {@code ema}, {@code raw}, or null for the run's {@code export.weights}
   */
  public static Exported export(Path runDir, String checkpoint, Path out, String weights, boolean force) {
    long t0 = System.nanoTime();
    Path stored = runDir.resolve("config.yaml");
    if (!Files.isRegularFile(stored)) {
      throw new IllegalArgumentException(runDir + " is not a run directory (no config.yaml)");
    }
    ExperimentConfig cfg = ExperimentConfig.load(stored, List.of());
    Checkpoints checkpoints = new Checkpoints(runDir.resolve("checkpoints"), Integer.MAX_VALUE);
    List<Checkpoints.Checkpoint> all = checkpoints.list();
    if (all.isEmpty()) throw new IllegalArgumentException(runDir + " has no checkpoint to export");
    Checkpoints.Checkpoint ckpt;
    if (checkpoint == null || checkpoint.equals("latest")) {
      ckpt = all.get(all.size() - 1);
    } else {
      long step;
      try {
        step = Long.parseLong(checkpoint);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--checkpoint must be 'latest' or a step number, got '" + checkpoint + "'");
      }
      ckpt = checkpoints.at(step).orElseThrow(() -> new IllegalArgumentException("no checkpoint at step " + step
          + " in " + checkpoints.root() + "; available: " + all.stream().map(c -> c.state().step()).toList()));
    }
    String w = weights != null ? weights : cfg.export().weights();
    if (!w.equals("ema") && !w.equals("raw")) throw new IllegalArgumentException("weights must be ema or raw, got " + w);
    Path target = (out != null ? out : Path.of(cfg.export().dir(), cfg.run().name())).toAbsolutePath().normalize();
    requireReplaceable(target, runDir, "export.dir and run.name (or --out)");
    if (Files.exists(target) && !force) {
      throw new IllegalArgumentException(target + " already exists; use --force to replace it");
    }
    Path tmp = target.resolveSibling(".tmp-" + target.getFileName() + "-" + ProcessHandle.current().pid());
    try {
      Files.createDirectories(target.getParent());
      Checkpoints.deleteTree(tmp);
      try (Graph g = new Graph()) {
        InferenceGraph ig = new InferenceGraph(cfg, g, w);
        try (Session s = new Session(g, TrainingSession.sessionConfig(cfg.train().intraOpThreads(),
            cfg.train().interOpThreads()))) {
          s.initialize();
          s.restore(ckpt.variablesPrefix());
          SavedModelBundle.Exporter exporter = SavedModelBundle.exporter(tmp.toString()).withTags("serve")
              .withSession(s).withSignature(ig.sample).withSignature(ig.servingDefault)
              .withSignature(ig.denoise).withSignature(ig.qSample);
          for (var sig : ig.samplers.values()) exporter.withSignature(sig);
          exporter.export();
        }
      }
      Path meta = tmp.resolve(METADATA);
      Files.createDirectories(meta.getParent());
      JSON.writeValue(meta.toFile(), metadata(cfg, ckpt.state().step(), w, Trainer.readClassNames(runDir)));
      Path old = target.resolveSibling(".old-" + target.getFileName() + "-" + ProcessHandle.current().pid());
      boolean replaced = Files.exists(target);
      if (replaced) Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      if (replaced) Checkpoints.deleteTree(old);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot export to " + target + ": " + e.getMessage(), e);
    } finally {
      try {
        Checkpoints.deleteTree(tmp);
      } catch (IOException ignored) {
        // best effort
      }
    }
    return new Exported(target, ckpt.state().step(), w, (System.nanoTime() - t0) / 1e9);
  }

  /** Everything a client without the config needs to use the model. */
  static ObjectNode metadata(ExperimentConfig cfg, long step, String weights, List<String> classNames) {
    Normalizer n = Normalizer.of(cfg.data());
    ObjectNode o = JSON.createObjectNode();
    o.put("format", "ddpm4j-savedmodel");
    o.put("format_version", FORMAT_VERSION);
    o.put("ddpm4j_version", VERSION);
    o.put("image_size", cfg.data().imageSize());
    o.put("channels", cfg.data().channels());
    ObjectNode norm = o.putObject("normalization");
    norm.put("kind", cfg.data().normalization());
    norm.put("forward", "x = pixel * scale[c] + shift[c]");
    norm.put("inverse", "pixel = clip(round((x - shift[c]) / scale[c]), 0, 255)");
    n.scale().forEach(norm.putArray("scale")::add);
    n.shift().forEach(norm.putArray("shift")::add);
    o.put("timesteps", cfg.diffusion().timesteps());
    o.set("schedule", JSON.valueToTree(cfg.toJson().get("diffusion").get("schedule")));
    o.put("prediction", cfg.diffusion().prediction());
    o.put("variance", cfg.diffusion().variance());
    o.put("training_steps", step);
    int classes = cfg.model().numClasses();
    o.put("num_classes", classes);
    if (classes > 0) {
      o.put("null_label", classes);
      if (classNames.size() == classes) classNames.forEach(o.putArray("class_names")::add);
    }
    o.put("weights", weights);
    o.put("precision", cfg.export().precision());
    ObjectNode sig = o.putObject("signatures");
    String common = "seed int64 [], num_images int32 [] (>= 1), first_index int64 [] (image i of the call is image "
        + "first_index + i of the seed's sequence)";
    if (classes > 0) {
      common += ", labels int32 [N] (class index; -1 or " + classes + " = no label), guidance_scale float32 [] "
          + "(classifier-free guidance w: 0 unconditional, 1 conditional)";
    }
    String out = " -> images uint8 [N,H,W,C], samples float32 [N,H,W,C]";
    sig.put("sample", common + out);
    boolean learned = cfg.diffusion().variance().equals("learned_range");
    sig.put("denoise", "x_t float32 [N,H,W,C], t int32 [N]" + (classes > 0 ? ", labels int32 [N]" : "")
        + " -> eps float32 [N,H,W,C], x0 float32 [N,H,W,C]" + (learned ? ", log_variance float32 [N,H,W,C] (the "
        + "learned log sigma_t^2 of p(x_{t-1}|x_t))" : ""));
    sig.put("q_sample", "x0 float32 [N,H,W,C], t int32 [N], noise float32 [N,H,W,C] -> x_t float32 [N,H,W,C]");
    ObjectNode samplers = o.putObject("samplers");
    for (SamplerKind k : SamplerKind.values()) {
      String inputs = common + ", num_steps int32 [] in [1, T], spacing string [] in [" + Spacing.keys(k.spacings())
          + "]" + (k.takesEta() ? ", eta float32 [] in [0, 1]" : "");
      sig.put(k.signature(), inputs + out);
      ObjectNode d = samplers.putObject(k.key());
      d.put("signature", k.signature());
      k.spacings().forEach(sp -> d.withArray("spacings").add(sp.key()));
      d.put("default_spacing", k.defaultSpacing().key());
      d.put("eta", k.takesEta());
    }
    o.set("config", cfg.toJson());
    return o;
  }
}
