package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossPlotTest {
  @TempDir Path tmp;

  @Test
  void readsStepLossPairsSkippingTornLinesAndDrawsAPng() throws Exception {
    Path m = tmp.resolve("metrics.jsonl");
    Files.writeString(m, "{\"step\":10,\"loss\":0.9}\n{\"step\":20,\"loss\":0.5}\n{\"step\":3");
    double[][] xy = LossPlot.read(m);
    assertArrayEquals(new double[] {10, 20}, xy[0]);
    assertArrayEquals(new double[] {0.9, 0.5}, xy[1]);
    Path png = tmp.resolve("out/loss.png");
    LossPlot.write(m, "t", png);
    assertEquals(800, javax.imageio.ImageIO.read(png.toFile()).getWidth());
  }

  @Test
  void missingOrEmptyMetricsAreNamed() throws Exception {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LossPlot.read(tmp.resolve("x")));
    assertTrue(e.getMessage().contains("no such metrics file"), e.getMessage());
    Files.writeString(tmp.resolve("empty.jsonl"), "\n");
    e = assertThrows(IllegalArgumentException.class, () -> LossPlot.read(tmp.resolve("empty.jsonl")));
    assertTrue(e.getMessage().contains("no (step, loss) lines"), e.getMessage());
  }
}
