package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

class ProgressTest {
  @Test
  void lineShowsStepLossSpeedAndEta() {
    Progress p = new Progress(new PrintStream(new ByteArrayOutputStream()), false, 100);
    p.step(1.0);
    p.step(0.0);
    assertEquals(0.98, p.smoothedLoss(), 1e-12); // exponential smoothing with factor 0.98
    assertEquals("[############............] 50/100  loss 0.9800  64.0 img/s  1.500 s/step  ETA 1m15s", p.line(50, 64, 1.5));
  }

  @Test
  void withoutALossTheLineShowsProgressAndSpeed() {
    Progress p = new Progress(new PrintStream(new ByteArrayOutputStream()), false, 1000);
    assertEquals("[######..................] 250/1000  12.5 img/s  0.080 s/step  ETA 1m00s", p.line(250, 12.5, 0.08));
  }

  @Test
  void aTimeBudgetShortensTheEta() {
    Progress p = new Progress(new PrintStream(new ByteArrayOutputStream()), false, 1000);
    p.deadline(120.4); // train.max_minutes: 2 minutes left; 750 steps at 1 s would take 12m30s
    assertTrue(p.line(250, 64, 1.0).endsWith("1.000 s/step  ETA 2m00s (time budget)"), p.line(250, 64, 1.0));
    p.deadline(3600);
    assertTrue(p.line(250, 64, 1.0).endsWith("ETA 12m30s"), "the steps end first: " + p.line(250, 64, 1.0));
  }

  @Test
  void outsideATerminalItPrintsOneLinePerLogInterval() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Progress p = new Progress(new PrintStream(out), false, 10);
    p.step(0.5);
    p.show(1, 10, 1, false);
    p.show(5, 10, 1, true);
    String s = out.toString();
    assertEquals(1, s.lines().count(), s);
    assertTrue(s.contains("5/10"), s);
    // sampling counts images: the rate is per image, not per step
    assertTrue(p.per("image").line(5, 2, 0.5).contains("0.500 s/image  ETA 3s"), p.line(5, 2, 0.5));
  }

  @Test
  void durations() {
    assertEquals("59s", Progress.duration(59));
    assertEquals("2m05s", Progress.duration(125));
    assertEquals("1h01m", Progress.duration(3660));
  }
}
