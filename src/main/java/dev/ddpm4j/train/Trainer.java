package dev.ddpm4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ConfigException;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.BatchIterator;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.sampler.GeneratedImages;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The training loop over a run directory {@code runs/<name>/}: {@code config.yaml} (the resolved config),
 * {@code metrics.jsonl}, {@code checkpoints/}, {@code samples/step-NNNNNN.png} (EMA weights). Resumes from the latest
 * checkpoint with the same weights, optimizer state, EMA, step and data position, so the loss curve continues.
 */
public final class Trainer {
  /** Called at the end of training with the run directory (export plugs in here). */
  public interface ExportHook {
    void afterTraining(ExperimentConfig cfg, Path runDir, Progress progress);
  }

  /** How a training run ended. */
  public record Outcome(long step, Path runDir, double smoothedLoss, double imagesPerSecond) {}

  /** A loss that is NaN or infinite. */
  public static final class DivergedException extends RuntimeException {
    public DivergedException(String message) {
      super(message);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private final ExperimentConfig cfg;
  private final boolean resume;
  private final Progress progress;
  private final ExportHook exportHook;
  private volatile boolean stopRequested;
  private final CountDownLatch stopped = new CountDownLatch(1);

  public Trainer(ExperimentConfig cfg, boolean resume, Progress progress, ExportHook exportHook) {
    this.cfg = cfg;
    this.resume = resume;
    this.progress = progress;
    this.exportHook = exportHook;
  }

  /** Asks the loop to save a checkpoint and stop after the current step (used on Ctrl-C / SIGTERM). */
  public void requestStop() {
    stopRequested = true;
  }

  /**
   * {@code split.json}: which images training reads and which are held out for measurement. For an image folder the
   * held-out files by name; when a resumed run finds them changed (files added or removed), it says so.
   */
  private void writeSplit(Path runDir, ExperimentConfig.Data d) {
    com.fasterxml.jackson.databind.ObjectMapper om = new com.fasterxml.jackson.databind.ObjectMapper()
        .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
    var j = om.createObjectNode();
    j.put("data", d.kind());
    j.put("data_split", d.split());
    dev.ddpm4j.data.Splits.trainedOnHeldOut(d).ifPresent(w -> j.put("warning", w));
    switch (d.kind()) {
      case "fashion_mnist" -> {
        boolean test = d.split().equals("test");
        j.put("training", test ? "the t10k IDX files (10,000 images; data.split: test)"
            : "the train IDX files (60,000 images)");
        j.put("held_out", test ? "the t10k IDX files (10,000 images), trained on"
            : "the t10k IDX files (10,000 images), never trained on");
      }
      case "image_folder" -> {
        dev.ddpm4j.data.ImageFolder.Split sp = dev.ddpm4j.data.ImageFolder.split(d);
        j.put("rule", "a file is held out when sha256(\"" + dev.ddpm4j.data.ImageFolder.HOLDOUT_SALT
            + "\" + its path under data.path) mod 1000 < " + dev.ddpm4j.data.ImageFolder.HOLDOUT_PER_MILLE);
        int read = switch (d.split()) {
          case "all" -> sp.train().size() + sp.heldOut().size();
          case "test" -> sp.heldOut().size();
          default -> sp.train().size();
        };
        j.put("training_files", read);
        j.put("held_out_files", sp.heldOut().size());
        j.put("held_out_trained_on", !d.split().equals("train"));
        sp.heldOut().forEach(j.putArray("held_out")::add);
        Path old = runDir.resolve("split.json");
        if (resume && Files.isRegularFile(old)) {
          try {
            var before = new java.util.ArrayList<String>();
            om.readTree(old.toFile()).path("held_out").forEach(x -> before.add(x.asText()));
            if (!before.equals(sp.heldOut())) {
              progress.message("warning: the folder's held-out files changed since the run started (" + before.size()
                  + " then, " + sp.heldOut().size() + " now): files were added or removed; the old split.json is "
                  + "replaced");
            }
          } catch (IOException e) {
            progress.message("note: " + old + " unreadable (" + e.getMessage() + "); written again");
          }
        }
      }
      default -> j.put("held_out", "a fresh draw of the synthetic generator (seed + 1)");
    }
    try {
      Files.writeString(runDir.resolve("split.json"), om.writeValueAsString(j) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + runDir.resolve("split.json") + ": " + e.getMessage(), e);
    }
  }

  /** What of the data training reads, when it is not all of it or not the usual part. */
  private static String readNote(ExperimentConfig.Data d) {
    if (d.kind().equals("image_folder")) {
      return switch (d.split()) {
        case "all" -> " (data.split all: every file, the held-out tenth included)";
        case "test" -> " (data.split test: only the folder's held-out tenth)";
        default -> " (the folder's held-out tenth is not read)";
      };
    }
    return d.kind().equals("fashion_mnist") && d.split().equals("test") ? " (data.split test: the t10k images)" : "";
  }

  public Outcome run() {
    Path runDir = cfg.runDir();
    boolean created = !Files.exists(runDir);
    try (RunLock lock = RunLock.acquire(runDir)) {
      return run(runDir, created);
    }
  }

  private Outcome run(Path runDir, boolean created) {
    Checkpoints checkpoints = new Checkpoints(runDir.resolve("checkpoints"), cfg.train().keepCheckpoints());
    var latest = checkpoints.latest();
    if (latest.isPresent() && !resume) {
      throw new IllegalStateException("run " + runDir + " already has checkpoints (latest step "
          + latest.get().state().step() + "); continue it with --resume, or choose another run.name");
    }
    if (resume && latest.isEmpty()) {
      throw new IllegalStateException("no checkpoint to resume in " + runDir.resolve("checkpoints"));
    }
    try {
      return run(runDir, checkpoints, latest);
    } catch (RuntimeException e) {
      // a run that failed before its first checkpoint (bad data, a graph that cannot be built) leaves nothing behind:
      // a stub would later be taken for a run, and its config.yaml named in errors about the user's own file
      if (created && checkpoints.latest().isEmpty()) {
        try {
          Checkpoints.deleteTree(runDir);
        } catch (IOException | RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
      }
      throw e;
    }
  }

  private Outcome run(Path runDir, Checkpoints checkpoints, java.util.Optional<Checkpoints.Checkpoint> latest) {
    if (!resume) {
      // a fresh run in the folder of one that never reached a checkpoint (killed before it): its logs go, so that
      // the new curve and grid scores are not appended to the old ones
      for (Path log : List.of(runDir.resolve("metrics.jsonl"), runDir.resolve("samples").resolve("quality.jsonl"))) {
        if (Files.isRegularFile(log)) {
          progress.message("note: " + log + " is from an earlier run of this name that never reached a checkpoint; "
              + "replaced");
          truncateLog(log, -1);
        }
      }
    }
    Dataset data = Datasets.load(cfg.data(), cfg.run().seed());
    if (resume && latest.isPresent() && latest.get().state().position().cursor() >= data.size()) {
      // checked before the run's records are rewritten: they still describe the data the run was trained on
      throw new IllegalStateException("checkpoint " + latest.get().dir() + " stopped at image "
          + latest.get().state().position().cursor() + " of its epoch, but the data (" + data.name()
          + (cfg.data().kind().equals("image_folder") ? ", data.path " + cfg.data().path() : "") + ") now has "
          + data.size() + " training images: files were removed since the run started; restore them, or start a new "
          + "run.name");
    }
    try {
      Files.createDirectories(runDir.resolve("samples"));
      Files.writeString(runDir.resolve("config.yaml"), cfg.toYaml());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write run directory " + runDir + ": " + e.getMessage(), e);
    }
    progress.message(String.format("data: %s, %d training images %dx%dx%d, %d class%s%s%s%s", data.name(), data.size(),
        data.height(), data.width(), data.channels(), data.classNames().size(),
        data.classNames().size() == 1 ? "" : "es",
        readNote(cfg.data()),
        data.skipped() > 0 ? " (" + data.skipped() + " unreadable files skipped)" : "",
        data.transparent() > 0 ? "; " + data.transparent() + " had transparency, composited onto "
            + cfg.data().backgroundName() + " (data.background)" : ""));
    if (data.size() < cfg.train().batchSize()) {
      progress.message("note: the dataset has fewer images (" + data.size() + ") than train.batch_size; "
          + "batches repeat images across epochs");
    }
    checkLabels(cfg, data);
    double signal = Math.sqrt(dev.ddpm4j.diffusion.Schedule.of(cfg.diffusion()).alphaBar[cfg.diffusion().timesteps() - 1]);
    if (signal > 0.05) {
      progress.message(String.format("warning: x_T keeps %.0f%% of the image (sqrt(alpha_bar_T) = %.3f), but every "
          + "sampler starts from pure noise; raise diffusion.schedule.beta_end or use diffusion.schedule.kind: cosine",
          100 * signal, signal));
    }
    writeClassNames(runDir, data.classNames());
    writeSplit(runDir, cfg.data());
    Normalizer norm = Normalizer.of(cfg.data());
    if (cfg.distributed().enabled()) {
      progress.message(String.format("distributed: %d tasks %s, %d replicas of %d images each (the chief, task 0, "
          + "holds the weights and applies the optimizer%s)", cfg.distributed().tasks().size(),
          cfg.distributed().tasks(), cfg.distributed().replicas(), cfg.train().batchSize() / cfg.distributed().replicas(),
          cfg.distributed().chiefReplica() ? " and computes a replica" : ""));
      progress.note(cfg.distributed().replicas() + " replicas");
    }
    progress.message("building the training graph ...");
    long t0 = System.nanoTime();
    Thread hook = new Thread(() -> {
      requestStop();
      try {
        stopped.await(120, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "ddpm4j-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try (TrainingSession ts = new TrainingSession(cfg, progress)) {
      long step = 0;
      double elapsedBefore = 0;
      BatchIterator.Position position = BatchIterator.Position.START;
      if (resume && latest.isPresent()) {
        Checkpoints.Checkpoint c = latest.get();
        ts.restore(c.variablesPrefix());
        step = ts.globalStep();
        if (step != c.state().step()) {
          throw new IllegalStateException("checkpoint " + c.dir() + " holds step " + step + " but its state.json says "
              + c.state().step());
        }
        position = c.state().position();
        elapsedBefore = c.state().elapsedSeconds();
        truncateLog(runDir.resolve("metrics.jsonl"), step);
        truncateLog(runDir.resolve("samples").resolve("quality.jsonl"), step);
        progress.message("resumed from " + c.dir() + " at step " + step);
      }
      progress.message(String.format("graph ready in %.1fs: %,d parameters, precision %s, "
          + "GroupNorm: %s, 3x3 convolutions: %s%s", (System.nanoTime() - t0) / 1e9, ts.net.weights.count(),
          ts.net.precision, ts.net.groupNorm, ts.net.conv3x3,
          cfg.train().maxMinutes() > 0 ? String.format(", time budget %s min", cfg.train().maxMinutes()) : ""));
      writeEnvironment(runDir, cfg, ts.net);
      return loop(ts, data, norm, checkpoints, runDir, step, position, elapsedBefore);
    } finally {
      stopped.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the JVM is already exiting; the hook is waiting for us and has been released
      }
    }
  }

  private Outcome loop(TrainingSession ts, Dataset data, Normalizer norm, Checkpoints checkpoints, Path runDir,
      long step, BatchIterator.Position position, double elapsedBefore) {
    ExperimentConfig.Train tc = cfg.train();
    Progress bar = progress;
    if (tc.maxMinutes() > 0) bar.deadline(tc.maxMinutes() * 60 - elapsedBefore);
    long savedStep = step;
    GridQuality gridQuality = null;
    double lossSum = 0;
    int lossCount = 0;
    long intervalStart = System.nanoTime();
    long started = System.nanoTime();
    int intervalSteps = 0;
    double imagesPerSecond = 0;
    double secondsPerStep = 0;
    TrainingSession.StepResult last = null;
    try (BatchIterator it = new BatchIterator(data, norm, tc.batchSize(), cfg.run().seed(), cfg.data().randomFlip(),
        cfg.data().prefetch(), position)) {
      boolean budgetReached = false;
      while (step < tc.steps() && !stopRequested && !budgetReached) {
        BatchIterator.Batch batch = it.next();
        try {
          last = ts.step(batch.images(), batch.labels());
        } catch (org.tensorflow.exceptions.TensorFlowException e) {
          if (!cfg.distributed().enabled()) throw e;
          bar.finish();
          throw clusterFailure(e, step, savedStep, checkpoints);
        }
        step = last.step();
        if (!Float.isFinite(last.loss())) {
          bar.finish();
          throw new DivergedException("loss is " + last.loss() + " at step " + step + "; stopped. "
              + (savedStep > 0 ? "The last good checkpoint is step " + savedStep + " in " + checkpoints.root()
                  : "No checkpoint was written yet") + ". Try a lower train.lr or train.grad_clip.");
        }
        bar.step(last.loss());
        lossSum += last.loss();
        lossCount++;
        intervalSteps++;
        long now = System.nanoTime();
        double dt = (now - intervalStart) / 1e9;
        secondsPerStep = dt / intervalSteps;
        imagesPerSecond = tc.batchSize() / secondsPerStep;
        double elapsed = elapsedBefore + (now - started) / 1e9;
        budgetReached = tc.maxMinutes() > 0 && elapsed >= tc.maxMinutes() * 60;
        boolean final_ = step == tc.steps() || budgetReached;
        boolean logNow = step % tc.logEvery() == 0 || final_;
        bar.show(step, imagesPerSecond, secondsPerStep, logNow);
        if (logNow) {
          writeMetric(runDir, step, lossSum / lossCount, last, imagesPerSecond, elapsed,
              final_ ? (budgetReached ? "time_budget" : "steps") : null);
          lossSum = 0;
          lossCount = 0;
          intervalStart = System.nanoTime();
          intervalSteps = 0;
        }
        if (step % tc.checkpointEvery() == 0 || final_) {
          checkpoints.save(ts.session, state(step, it.position(), elapsedBefore, started));
          savedStep = step;
        }
        if (tc.sampleEvery() > 0 && (step % tc.sampleEvery() == 0 || final_)) {
          Samples grid = writeSamples(ts, norm, runDir, step);
          if (gridQuality == null) gridQuality = new GridQuality(data, cfg);
          GridQuality.Scores q = gridQuality.score(grid.pixels(), grid.n());
          writeGridQuality(runDir, step, q);
          bar.message(String.format("step %d: wrote %s; %s", step, grid.file(), q.describe()));
          intervalStart = System.nanoTime();
          intervalSteps = 0;
        }
      }
      if (stopRequested && step > savedStep) {
        checkpoints.save(ts.session, state(step, it.position(), elapsedBefore, started));
        bar.message("stopped at step " + step + "; checkpoint saved; continue with --resume");
      }
      if (budgetReached) {
        bar.finish();
        bar.message(String.format("stopped at step %d of %d: the time budget train.max_minutes = %s is spent",
            step, tc.steps(), tc.maxMinutes()));
      }
    }
    bar.finish();
    if (!stopRequested && exportHook != null) exportHook.afterTraining(cfg, runDir, bar);
    return new Outcome(step, runDir, bar.smoothedLoss(), imagesPerSecond);
  }

  /** A distributed step failed: which tasks stopped answering, and how to continue. */
  public static final class ClusterFailure extends RuntimeException {
    ClusterFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private ClusterFailure clusterFailure(RuntimeException e, long step, long savedStep, Checkpoints checkpoints) {
    List<String> tasks = cfg.distributed().tasks();
    List<Integer> down = Cluster.unreachable(tasks);
    String who = down.isEmpty() ? "a task of the cluster failed" : Cluster.describe(tasks, down) + " stopped answering";
    String first = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
    return new ClusterFailure(who + " during step " + (step + 1) + " (" + first + "). "
        + (savedStep > 0 ? "The last good checkpoint is step " + savedStep + " in " + checkpoints.root()
            : "No checkpoint was written yet") + "; when every worker is back, continue with train --resume.", e);
  }

  /** A class-conditional config needs a dataset whose labels are its classes. */
  static void checkLabels(ExperimentConfig cfg, Dataset data) {
    int n = cfg.model().numClasses();
    if (n == 0) return;
    if (data.classNames().contains("")) {
      List<String> stray = new ArrayList<>();
      try (var files = Files.list(Path.of(cfg.data().path()))) {
        files.filter(Files::isRegularFile).map(f -> f.getFileName().toString())
            .filter(f -> dev.ddpm4j.data.ImageFolder.READABLE.contains(dev.ddpm4j.data.ImageFolder.extension(Path.of(f))))
            .sorted().forEach(stray::add);
      } catch (IOException e) {
        stray.add("(cannot list: " + e.getMessage() + ")");
      }
      throw new ConfigException("the config", "model.num_classes", String.valueOf(n), stray.size() + " image file"
          + (stray.size() == 1 ? " lies" : "s lie") + " directly under data.path " + cfg.data().path() + " and so "
          + "carry no class label (an image folder's labels are its first-level folders): "
          + String.join(", ", stray.subList(0, Math.min(10, stray.size()))) + (stray.size() > 10 ? ", ..." : "")
          + "; move them into a class folder, or use model.num_classes: 0");
    }
    if (data.classNames().size() < 2) {
      throw new ConfigException("the config", "model.num_classes", String.valueOf(n),
          data.name() + " carries no class labels (an image folder's labels are its first-level folders); use "
              + "model.num_classes: 0");
    }
    if (data.classNames().size() != n) {
      throw new ConfigException("the config", "model.num_classes", String.valueOf(n),
          data.name() + " has " + data.classNames().size() + " classes " + data.classNames());
    }
  }

  /** The machine and the choices made on it ({@code environment.json}): CPU, flags, oneDNN, precision. */
  static void writeEnvironment(Path runDir, ExperimentConfig cfg, TrainingGraph net) {
    try {
      var env = dev.ddpm4j.platform.Platform.describe();
      env.put("precision_setting", cfg.train().precision());
      env.put("precision", net.precision.value());
      env.put("precision_why", net.precision.why());
      env.put("group_norm", net.groupNorm);
      env.put("conv3x3", net.conv3x3);
      if (cfg.distributed().enabled()) {
        env.put("cluster", cfg.distributed().tasks());
        env.put("replicas", cfg.distributed().replicas());
      }
      Files.writeString(runDir.resolve("environment.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(
          env));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + runDir.resolve("environment.json") + ": " + e.getMessage(), e);
    }
  }

  /** The run's class names ({@code classes.json}): the export's metadata names the labels with them. */
  static void writeClassNames(Path runDir, List<String> names) {
    try {
      Files.writeString(runDir.resolve("classes.json"), JSON.writeValueAsString(names));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + runDir.resolve("classes.json") + ": " + e.getMessage(), e);
    }
  }

  /** The class names a run stored (empty when it has none). */
  public static List<String> readClassNames(Path runDir) {
    Path f = runDir.resolve("classes.json");
    if (!Files.isRegularFile(f)) return List.of();
    try {
      List<String> out = new ArrayList<>();
      JSON.readTree(f.toFile()).forEach(n -> out.add(n.asText()));
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + f + ": " + e.getMessage(), e);
    }
  }

  private static Checkpoints.State state(long step, BatchIterator.Position p, double before, long started) {
    return new Checkpoints.State(step, p.epoch(), p.cursor(), before + (System.nanoTime() - started) / 1e9);
  }

  /** A grid written: its file and its images' pixels. */
  record Samples(Path file, byte[] pixels, int n) {}

  /** Appends a grid's model-free scores to {@code samples/quality.jsonl}. */
  private static void writeGridQuality(Path runDir, long step, GridQuality.Scores q) {
    ObjectNode o = JSON.createObjectNode();
    o.put("step", step);
    o.put("images", q.n());
    o.put("detail_ratio", q.detailRatio());
    o.put("histogram_tv", q.histogram());
    o.put("floor_detail_ratio", q.floorDetailRatio());
    o.put("floor_histogram_tv", q.floorHistogram());
    o.put("reference", "training images");
    appendLine(runDir.resolve("samples").resolve("quality.jsonl"), o);
  }

  /** Appends one JSON line to a run's log file. */
  private static void appendLine(Path file, ObjectNode line) {
    try {
      Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to " + file + ": " + e.getMessage(), e);
    }
  }

  /** Draws {@code train.sample_images} images with the EMA weights and writes the grid PNG. */
  static Samples writeSamples(TrainingSession ts, Normalizer norm, Path runDir, long step) {
    ExperimentConfig c = ts.config;
    int n = c.train().sampleImages();
    int s = c.data().imageSize();
    float[] x = ts.sample(c.run().seed(), n);
    byte[] px = norm.toPixels(x);
    Path file = runDir.resolve("samples").resolve(String.format("step-%06d.png", step));
    try {
      GeneratedImages.ofPixels(px, n, s, s, c.data().channels()).writeGrid(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
    return new Samples(file, px, n);
  }

  private static void writeMetric(Path runDir, long step, double loss, TrainingSession.StepResult r, double ips,
      double elapsed, String stoppedBy) {
    ObjectNode o = JSON.createObjectNode();
    o.put("step", step);
    o.put("loss", loss);
    o.put("lr", r.learningRate());
    o.put("grad_norm", r.gradNorm());
    o.put("images_per_s", Math.round(ips * 10) / 10.0);
    o.put("elapsed_s", Math.round(elapsed * 10) / 10.0);
    if (stoppedBy != null) o.put("stopped_by", stoppedBy);
    appendLine(runDir.resolve("metrics.jsonl"), o);
  }

  /**
   * Drops a log's lines past the checkpoint a run resumes from (metrics.jsonl, samples/quality.jsonl), so the curve
   * continues without duplicates; written to a temporary file and moved over the log, so a crash keeps one or the other.
   */
  static void truncateLog(Path file, long step) {
    if (!Files.isRegularFile(file)) return;
    try {
      List<String> keep = new ArrayList<>();
      for (String line : Files.readAllLines(file)) {
        if (line.isBlank()) continue;
        try {
          if (JSON.readTree(line).path("step").asLong() <= step) keep.add(line);
        } catch (IOException e) {
          // a line torn by a crash mid-write: drop it
        }
      }
      Path tmp = file.resolveSibling(".tmp-" + file.getFileName() + "-" + ProcessHandle.current().pid());
      Files.write(tmp, keep);
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot rewrite " + file + ": " + e.getMessage(), e);
    }
  }
}
