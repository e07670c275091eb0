package dev.ddpm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class CliTest {
  record Outcome(int code, String out, String err) {}

  static Outcome run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Outcome(code, out.toString(), err.toString());
  }

  /** fp32-fast builds only the sampling signature a command calls: the full ancestral loop only without K or spacing. */
  @Test
  void aSamplerChoiceNamesTheSignaturesItCalls() {
    var full = SamplerChoice.signatures("ancestral", false, false);
    assertTrue(full.full() && full.kinds().isEmpty(), full.toString());
    assertEquals(full, dev.ddpm4j.export.InferenceGraph.Samplers.of(dev.ddpm4j.sampler.SamplerSpec.ancestral()));
    var respaced = SamplerChoice.signatures("ancestral", true, false);
    assertEquals("Samplers[full=false, kinds=[ANCESTRAL]]", respaced.toString());
    assertEquals("Samplers[full=false, kinds=[ANCESTRAL]]",
        SamplerChoice.signatures("ancestral", false, true).toString());
    assertEquals("Samplers[full=false, kinds=[DPMPP_2M_SDE]]",
        SamplerChoice.signatures("dpmpp_2m_sde", false, false).toString());
    assertEquals(SamplerChoice.signatures("ddim", false, false),
        dev.ddpm4j.export.InferenceGraph.Samplers.of(dev.ddpm4j.sampler.SamplerSpec.of("ddim", 10)));
    Main.UserError e = org.junit.jupiter.api.Assertions.assertThrows(Main.UserError.class,
        () -> SamplerChoice.signatures("euler", false, false));
    assertTrue(e.getMessage().startsWith("--sampler: unknown sampler 'euler'"), e.getMessage());
  }

  @Test
  void configPrintsTheResolvedConfig() {
    Outcome o = run("config", "--config", "configs/default.yaml", "--set", "train.batch_size=12");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("batch_size: 12"), o.out());
    assertTrue(o.out().contains("ema_decay:"), o.out());
  }

  @Test
  void badConfigIsOneClearMessageAndExitCodeTwo() {
    Outcome o = run("config", "--set", "train.lr=-1");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("train.lr = -1: must be in (0, 1)"), o.err());
    assertFalse(o.err().contains("at dev.ddpm4j"), "no stack trace without --verbose: " + o.err());
    Outcome v = run("config", "--set", "train.lr=-1", "--verbose");
    assertTrue(v.err().contains("at dev.ddpm4j"), "stack trace with --verbose: " + v.err());
  }

  @Test
  void noCommandReplacesTheShippedModel() throws Exception {
    java.nio.file.Path shipped = java.nio.file.Path.of("savedmodels/default");
    assertTrue(dev.ddpm4j.export.Exporter.isShipped(shipped), "the shipped model carries its SHIPPED marker");
    String before = treeHash(shipped);
    dev.ddpm4j.config.ExperimentConfig cfg = dev.ddpm4j.config.ExperimentConfig.load(
        java.nio.file.Path.of("configs/default.yaml"), java.util.List.of());
    assertFalse(dev.ddpm4j.export.Exporter.isShipped(java.nio.file.Path.of(cfg.export().dir(), cfg.run().name())),
        "the README's train command exports beside the shipped model, not over it");
    Outcome o = run("train", "--config", "configs/default.yaml", "--set", "run.name=default", "--set",
        "run.output_dir=" + java.nio.file.Files.createTempDirectory("ddpm4j-cli"), "--set", "train.steps=1");
    assertEquals(Main.EXIT_INPUT, o.code(), o.err());
    assertTrue(o.err().contains("run.name default") && o.err().contains("shipped with ddpm4j"), o.err());
    assertEquals(1, o.err().strip().lines().count(), "one line: " + o.err());
    assertEquals(before, treeHash(shipped));
  }

  /** SHA-256 over a folder's file names and bytes. */
  static String treeHash(java.nio.file.Path dir) throws Exception {
    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
    try (var files = java.nio.file.Files.walk(dir)) {
      for (var p : files.filter(java.nio.file.Files::isRegularFile).sorted().toList()) {
        md.update(p.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        md.update(java.nio.file.Files.readAllBytes(p));
      }
    }
    return java.util.HexFormat.of().formatHex(md.digest());
  }

  @Test
  void badOptionsAndConflictsAreOneLineAndExitTwo(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws Exception {
    java.nio.file.Path file = java.nio.file.Files.writeString(tmp.resolve("a-file"), "x");
    String[][] cases = {
        {"Invalid value for option '--num'", "sample", "--model", "savedmodels/default", "--num", "abc"},
        {"should be specified only once", "sample", "--model", "savedmodels/default", "--num", "1", "--num", "2"},
        {"Unknown options: '--nmu'", "sample", "--model", "savedmodels/default", "--nmu", "2"},
        {"--out writes one grid file and --out-dir one PNG per image", "sample", "--model", "savedmodels/default",
            "--out", tmp.resolve("g.png").toString(), "--out-dir", tmp.resolve("d").toString()},
        {"--grid adds grid.png to --out-dir", "sample", "--model", "savedmodels/default", "--grid"},
        {"is a file, not a folder", "sample", "--model", "savedmodels/default", "--out-dir", file.toString()},
        {"--guidance: this model is unconditional", "sample", "--model", "savedmodels/default", "--num", "1",
            "--guidance", "2", "--out", tmp.resolve("g.png").toString()},
        // --precision where nothing is sampled: said, not ignored
        {"--precision is for sampling a model", "eval", "--images", tmp.toString(), "--config",
            "configs/default.yaml", "--precision", "fp32-fast"},
        {"training takes --set train.precision=bf16", "bench", "--config", "configs/default.yaml", "--mode", "train",
            "--precision", "bf16"}};
    for (String[] c : cases) {
      Outcome o = run(java.util.Arrays.copyOfRange(c, 1, c.length));
      assertEquals(Main.EXIT_INPUT, o.code(), String.join(" ", c) + ": " + o.err());
      assertTrue(o.err().contains(c[0]), String.join(" ", c) + ": " + o.err());
      assertEquals(1, o.err().strip().lines().count(), "one line, no usage text: " + o.err());
    }
    assertFalse(java.nio.file.Files.exists(tmp.resolve("g.png")), "nothing written");
  }

  @Test
  void everySubcommandHasHelpWithDefaults() {
    for (String cmd : new String[] {"config", "train", "sample", "export", "bench", "info", "plot", "schedule", "eval",
        "features"}) {
      Outcome o = run(cmd, "--help");
      assertEquals(0, o.code(), cmd + ": " + o.err());
      assertTrue(o.out().contains("Usage: ddpm4j " + cmd), o.out());
    }
    assertTrue(run("sample", "--help").out().contains("(default: 64; 256 in"));
    assertTrue(run("eval", "--help").out().contains("fid, kid, prdc, classes, copies"));
  }

  @Test
  void unknownOptionIsAnError() {
    Outcome o = run("config", "--no-such-option");
    assertEquals(2, o.code());
    assertTrue(o.err().contains("--no-such-option"), o.err());
  }

  @Test
  void sampleAndExportExplainMissingInputs() {
    Outcome o = run("sample", "--model", "no/such/model");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("no/such/model: no such directory"), o.err());
    o = run("export", "--run", "no/such/run");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("not a run directory"), o.err());
    o = run("sample", "--model", "x", "--num", "0");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("--num must be >= 1"), o.err());
    o = run("bench", "--mode", "sample");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("needs --model"), o.err());
  }

  @Test
  void infoPrintsParametersPerLevelAndFlops() {
    Outcome o = run("info", "--config", "configs/smoke.yaml");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("parameters per level:"), o.out());
    assertTrue(o.out().matches("(?s).*total\\s+176,849.*"), o.out());
    assertTrue(o.out().contains("forward FLOPs per image"), o.out());
    // the devices TensorFlow sees: this CPU always, and on a machine without a GPU, a line that says so
    assertTrue(o.out().matches("(?s).*TensorFlow devices: CPU:0 \\(CPU\\).*"), o.out());
    var gpus = org.tensorflow.LocalDevices.list().stream().filter(d -> d.type().equals("GPU")).count();
    assertEquals(gpus == 0, o.out().contains("GPU: none seen by TensorFlow"), o.out());
  }

  @Test
  void trainRefusesToResumeSomethingThatIsNotARun() {
    Outcome o = run("train", "--resume", "no/such/run");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("is not a run directory"), o.err());
  }

  @Test
  void schedulePrintsOneRowPerStep() {
    Outcome o = run("schedule", "--set", "diffusion.timesteps=10");
    assertEquals(0, o.code(), o.err());
    String[] lines = o.out().trim().split("\n");
    assertEquals(11, lines.length);
    assertTrue(lines[0].startsWith("t,beta,alpha_bar,posterior_variance"), lines[0]);
    assertTrue(lines[1].startsWith("1,0.0001000000000,0.9999000000"), lines[1]);
    Outcome j = run("schedule", "--set", "diffusion.timesteps=3", "--set", "diffusion.schedule.kind=cosine",
        "--format", "json");
    assertEquals(0, j.code(), j.err());
    assertTrue(j.out().startsWith("[{\"t\":1,\"beta\":"), j.out());
    assertEquals(Main.EXIT_INPUT, run("schedule", "--format", "xml").code());
  }

  @Test
  void resumingASpentTimeBudgetSaysHowToExtendIt(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
    String[] set = {"train", "--config", "configs/smoke.yaml", "--set", "run.output_dir=" + tmp.resolve("runs"), "--set",
        "export.dir=" + tmp.resolve("models"), "--set", "train.steps=100000", "--set", "train.max_minutes=0.02",
        "--set", "train.sample_every=0", "--set", "diffusion.timesteps=10", "--set", "data.synthetic.num_images=16"};
    Outcome t = run(set);
    assertEquals(0, t.code(), t.err());
    Outcome again = run("train", "--resume", tmp.resolve("runs/smoke").toString());
    assertEquals(Main.EXIT_INPUT, again.code(), again.err());
    assertTrue(again.err().contains("time budget is spent (train.max_minutes = 0.02")
        && again.err().contains("--set train.max_minutes="), again.err());
  }

  @Test
  void aRunIsTrainedByOneProcessWhereItIsAndWithTheConfigFileItIsGiven(@org.junit.jupiter.api.io.TempDir
      java.nio.file.Path tmp) throws Exception {
    java.nio.file.Path tiny = tmp.resolve("tiny.yaml"); // a U-Net of a few thousand weights: graphs build fast
    java.nio.file.Files.writeString(tiny, dev.ddpm4j.TinyConfigs.config(null).toYaml());
    java.util.List<String> base = java.util.List.of("train", "--config", tiny.toString(), "--set",
        "run.output_dir=" + tmp.resolve("runs"), "--set", "export.dir=" + tmp.resolve("models"), "--set",
        "train.checkpoint_every=2", "--set", "train.sample_every=2", "--set", "train.log_every=1", "--set",
        "sample.num_images=2");
    java.util.function.Function<String[], Outcome> train = extra -> {
      java.util.List<String> a = new java.util.ArrayList<>(base);
      a.addAll(java.util.List.of(extra));
      return run(a.toArray(String[]::new));
    };
    java.util.function.Function<java.nio.file.Path, java.util.List<Long>> steps = file -> {
      try {
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        java.util.List<Long> out = new java.util.ArrayList<>();
        for (String l : java.nio.file.Files.readAllLines(file)) out.add(om.readTree(l).get("step").asLong());
        return out;
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    // a killed run's stub (logs, no checkpoint): a new run of that name starts its logs afresh
    java.nio.file.Path stub = tmp.resolve("runs/a");
    java.nio.file.Files.createDirectories(stub.resolve("samples"));
    java.nio.file.Files.writeString(stub.resolve("metrics.jsonl"), "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n");
    java.nio.file.Files.writeString(stub.resolve("samples/quality.jsonl"), "{\"step\":2}\n");
    Outcome t = train.apply(new String[] {"--set", "run.name=a", "--set", "train.steps=4"});
    assertEquals(0, t.code(), t.err());
    assertEquals(java.util.List.of(1L, 2L, 3L, 4L), steps.apply(stub.resolve("metrics.jsonl")));
    assertEquals(java.util.List.of(2L, 4L), steps.apply(stub.resolve("samples/quality.jsonl")));

    // a copied run continues where it is now; the original is untouched
    java.nio.file.Path copy = tmp.resolve("backup/a");
    copyTree(stub, copy);
    java.nio.file.Files.writeString(copy.resolve("samples/quality.jsonl"), "{\"step\":5}\n",
        java.nio.file.StandardOpenOption.APPEND); // a grid scored after the last checkpoint, then a crash
    Outcome r = run("train", "--resume", copy.toString(), "--set", "train.steps=6");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("trained " + copy.toAbsolutePath() + " to step 6"), r.out());
    assertEquals(java.util.List.of(2L, 4L, 6L), steps.apply(copy.resolve("samples/quality.jsonl")));
    assertEquals(4L, steps.apply(stub.resolve("metrics.jsonl")).get(3));
    assertEquals(4, steps.apply(stub.resolve("metrics.jsonl")).size(), "the original run did not train");
    java.nio.file.Path numbered = tmp.resolve("backup/7"); // a folder name YAML would read as a number
    copyTree(stub, numbered);
    Outcome n = run("train", "--resume", numbered.toString(), "--set", "train.steps=4"); // refused after resolving
    assertEquals(Main.EXIT_INPUT, n.code(), n.err());
    assertTrue(n.err().contains(numbered.toAbsolutePath() + " already reached train.steps = 4"), n.err());
    Outcome moved = run("train", "--resume", copy.toString(), "--set", "train.steps=8", "--set", "run.name=b");
    assertEquals(Main.EXIT_INPUT, moved.code(), moved.err());
    assertTrue(moved.err().contains("a resumed run stays where it is"), moved.err());

    // --config F --resume: F's train.* values apply; a model.* change is refused by name
    String stored = java.nio.file.Files.readString(stub.resolve("config.yaml"));
    assertTrue(stored.matches("(?s).*\\n  lr: [0-9.eE-]+\\n.*"), stored);
    java.nio.file.Path edited = tmp.resolve("edited.yaml");
    java.nio.file.Files.writeString(edited, stored.replaceFirst("\\n  lr: [0-9.eE-]+\\n", "\n  lr: 0.0123\n"));
    TrainCommand withFile = new TrainCommand(); // what train would run with, without training it again
    new picocli.CommandLine(withFile).parseArgs("--config", edited.toString(), "--resume", "--set", "train.steps=6");
    dev.ddpm4j.config.ExperimentConfig resumedCfg = withFile.resolveRun();
    assertEquals(0.0123, resumedCfg.train().lr(), 0, "the edited file's train.lr is the resumed run's");
    assertEquals(6, resumedCfg.train().steps());
    assertEquals(stub.toAbsolutePath(), resumedCfg.runDir().toAbsolutePath());
    java.nio.file.Files.writeString(edited, java.nio.file.Files.readString(edited)
        .replaceFirst("base_channels: [0-9]+", "base_channels: 40"));
    Outcome refused = run("train", "--config", edited.toString(), "--resume", "--set", "train.steps=8");
    assertEquals(Main.EXIT_INPUT, refused.code(), refused.err());
    assertTrue(refused.err().contains("[model.base_channels]") && refused.err().contains(edited.toString()),
        refused.err());

    // one process per run directory
    try (dev.ddpm4j.train.RunLock held = dev.ddpm4j.train.RunLock.acquire(stub)) {
      Outcome busy = run("train", "--resume", stub.toString(), "--set", "train.steps=8");
      assertEquals(Main.EXIT_FAILURE, busy.code(), busy.err());
      assertTrue(busy.err().contains("is in use by another run in this process") && busy.err().contains(".lock"), busy.err());
    }
    assertEquals(4, steps.apply(stub.resolve("metrics.jsonl")).size(), "the locked run was not touched");

    // an export target that is not an export is never replaced, neither by training's own export
    Outcome over = train.apply(new String[] {"--set", "run.name=c", "--set", "train.steps=2", "--set",
        "export.dir=" + tmp.resolve("runs")});
    assertEquals(Main.EXIT_INPUT, over.code(), over.err());
    assertTrue(over.err().contains("would delete the run"), over.err());
    Outcome intoRuns = train.apply(new String[] {"--set", "run.name=runs", "--set", "train.steps=2", "--set",
        "export.dir=" + tmp, "--set", "run.output_dir=" + tmp.resolve("elsewhere")});
    assertEquals(Main.EXIT_INPUT, intoRuns.code(), intoRuns.err());
    assertTrue(intoRuns.err().contains("not an earlier ddpm4j export"), intoRuns.err());
    assertFalse(java.nio.file.Files.exists(tmp.resolve("elsewhere/runs")), "refused before training");
    assertTrue(java.nio.file.Files.isRegularFile(stub.resolve("config.yaml")));
  }

  static void copyTree(java.nio.file.Path from, java.nio.file.Path to) throws java.io.IOException {
    try (var s = java.nio.file.Files.walk(from)) {
      for (java.nio.file.Path p : s.toList()) {
        java.nio.file.Path q = to.resolve(from.relativize(p).toString());
        if (java.nio.file.Files.isDirectory(p)) java.nio.file.Files.createDirectories(q);
        else java.nio.file.Files.copy(p, q);
      }
    }
  }

  @Test
  void trainExportSampleAndEvalEndToEnd(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
    String[] set = {"--set", "run.output_dir=" + tmp.resolve("runs"), "--set", "export.dir=" + tmp.resolve("models"),
        "--set", "train.steps=6", "--set", "train.checkpoint_every=3", "--set", "train.sample_every=6",
        "--set", "train.log_every=3", "--set", "diffusion.timesteps=10", "--set", "data.synthetic.num_images=16",
        "--set", "sample.num_images=3", "--set", "sample.seed=5"};
    java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--config", "configs/smoke.yaml"));
    args.addAll(java.util.List.of(set));
    Outcome t = run(args.toArray(String[]::new));
    assertEquals(0, t.code(), t.err());
    assertTrue(t.out().contains("trained " + tmp.resolve("runs/smoke") + " to step 6"), t.out());
    java.nio.file.Path model = tmp.resolve("models/smoke");
    assertTrue(java.nio.file.Files.isRegularFile(model.resolve("saved_model.pb")), "train exports at the end");
    assertTrue(java.nio.file.Files.isRegularFile(tmp.resolve("runs/smoke/samples/step-000006.png")));
    var quality = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
        java.nio.file.Files.readAllLines(tmp.resolve("runs/smoke/samples/quality.jsonl")).get(0));
    assertEquals(6, quality.get("step").asInt(), quality.toString());
    assertTrue(quality.get("detail_ratio").asDouble() > 0 && quality.has("floor_histogram_tv"), quality.toString());
    assertTrue(java.nio.file.Files.readString(tmp.resolve("runs/smoke/split.json")).contains("\"data\" : \"synthetic\""));
    assertEquals(3, java.nio.file.Files.readAllLines(tmp.resolve("runs/smoke/metrics.jsonl")).size() + 1);

    Outcome again = run(args.toArray(String[]::new));
    assertEquals(Main.EXIT_INPUT, again.code(), "re-training a run is a usage error: " + again.err());
    assertTrue(again.err().contains("--resume") && again.err().strip().lines().count() == 1, again.err());

    java.util.List<String> ghost = new java.util.ArrayList<>(args);
    ghost.addAll(java.util.List.of("--resume", "--set", "run.name=ghost"));
    Outcome nothing = run(ghost.toArray(String[]::new));
    assertEquals(Main.EXIT_INPUT, nothing.code(), nothing.err());
    assertTrue(nothing.err().contains("--resume: " + tmp.resolve("runs/ghost") + " has no checkpoint to resume")
        && nothing.err().contains("checkpoints/step-*"), nothing.err());
    assertFalse(java.nio.file.Files.exists(tmp.resolve("runs/ghost")), "nothing was started");

    java.util.List<String> bad = new java.util.ArrayList<>(args);
    bad.addAll(java.util.List.of("--set", "run.name=baddata", "--set", "data.kind=image_folder", "--set",
        "data.path=" + tmp.resolve("no-such-folder")));
    Outcome failed = run(bad.toArray(String[]::new));
    assertEquals(Main.EXIT_INPUT, failed.code(), failed.err());
    assertFalse(java.nio.file.Files.exists(tmp.resolve("runs/baddata")),
        "a run that failed before its first checkpoint leaves no stub run directory");
    Outcome changed = run("train", "--resume", tmp.resolve("runs/smoke").toString(), "--set", "train.steps=9",
        "--set", "model.base_channels=32", "--set", "diffusion.prediction=v");
    assertEquals(Main.EXIT_INPUT, changed.code());
    assertTrue(changed.err().contains("[model.base_channels, diffusion.prediction]")
        && changed.err().contains("only train.*, run.*"), changed.err());
    Outcome resumed = run("train", "--resume", tmp.resolve("runs/smoke").toString(), "--set", "train.steps=9");
    assertEquals(0, resumed.code(), resumed.err());
    assertTrue(resumed.out().contains("to step 9"), resumed.out());

    java.nio.file.Path grid = tmp.resolve("grid.png");
    Outcome s = run("sample", "--model", model.toString(), "--num", "4", "--out", grid.toString(), "--sampler",
        "ancestral");
    assertEquals(0, s.code(), s.err());
    assertTrue(s.out().contains("wrote a grid of 4 images to " + grid), s.out());
    assertTrue(s.out().matches(
        "(?s).*sampled 4 images \\(ancestral, all steps, seed 5, first index 0, fp32\\).*images/s.*"), s.out());
    Outcome fast = run("sample", "--model", model.toString(), "--out", grid.toString());
    assertEquals(0, fast.code(), fast.err());
    assertTrue(fast.out().contains("wrote a grid of 3 images") && fast.out().contains("seed 5"),
        "--num and --seed default to the model's sample section: " + fast.out());
    assertTrue(fast.out().contains("(" + SamplerChoice.DEFAULT_SAMPLER + ", 10 steps, "), "the default sampler, at most T "
        + "steps: " + fast.out());
    Outcome d = run("sample", "--model", model.toString(), "--num", "2", "--sampler", "ddim", "--steps", "5",
        "--out-dir", tmp.resolve("each").toString(), "--grid");
    assertEquals(0, d.code(), d.err());
    assertTrue(java.nio.file.Files.isRegularFile(tmp.resolve("each/image-000001.png")));
    assertTrue(java.nio.file.Files.isRegularFile(tmp.resolve("each/grid.png")));

    Outcome synthetic = run("eval", "--model", model.toString(), "--num", "4");
    assertEquals(Main.EXIT_INPUT, synthetic.code());
    assertTrue(synthetic.err().contains("synthetic data has no test split"), synthetic.err());
    // the same 16x16 grey model scored on Fashion-MNIST's test images, resized (the plumbing, not the model)
    String[] fmnist = {"--set", "data.kind=fashion_mnist", "--set", "data.path=data/fashion-mnist", "--set",
        "data.resize=resize"};
    java.util.List<String> ea = new java.util.ArrayList<>(java.util.List.of("eval", "--model", model.toString(),
        "--num", "4"));
    ea.addAll(java.util.List.of(fmnist));
    Outcome e = run(ea.toArray(String[]::new));
    assertEquals(0, e.code(), e.err());
    assertTrue(e.out().contains("prior KL") && e.out().contains("decoder") && e.out().contains("standard error")
        && e.out().contains("fashion-mnist/test, 4 images"), e.out());
    java.util.List<String> ma = new java.util.ArrayList<>(java.util.List.of("eval", "--run",
        tmp.resolve("runs/smoke").toString(), "--num", "4", "--metric", "mse", "--buckets", "2"));
    ma.addAll(java.util.List.of(fmnist));
    Outcome m = run(ma.toArray(String[]::new));
    assertEquals(0, m.code(), m.err());
    assertTrue(m.out().contains("t     1..5      eps MSE"), m.out());
  }
}
