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
  void everySubcommandHasHelpWithDefaults() {
    for (String cmd : new String[] {"config", "train", "sample", "export", "bench", "info", "plot", "schedule"}) {
      Outcome o = run(cmd, "--help");
      assertEquals(0, o.code(), cmd + ": " + o.err());
      assertTrue(o.out().contains("Usage: ddpm4j " + cmd), o.out());
    }
    assertTrue(run("sample", "--help").out().contains("(default: 64)"));
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
}
