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

  @Test
  void qualityPlotDrawsAPngAndNamesBadInput() throws Exception {
    Path q = tmp.resolve("q.jsonl");
    Files.writeString(q, "{\"sampler\":\"ddim\",\"spacing\":\"leading\",\"network_calls\":10,\"fid\":30.5,"
        + "\"floor_fid\":2.5}\n{\"sampler\":\"ddim\",\"spacing\":\"leading\",\"network_calls\":20,\"fid\":25.0,"
        + "\"floor_fid\":2.5}\n");
    Path png = tmp.resolve("q.png");
    QualityPlot.write(java.util.List.of(q), "t", png);
    assertEquals(900, javax.imageio.ImageIO.read(png.toFile()).getWidth());
    Files.writeString(tmp.resolve("none.jsonl"), "{\"mode\":\"train\"}\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> QualityPlot.write(java.util.List.of(tmp.resolve("none.jsonl")), "t", png));
    assertTrue(e.getMessage().contains("no lines with fid and network_calls"), e.getMessage());
  }

  @Test
  void aLogAxisOnlyWhenTheLossSpansADecade() {
    assertTrue(!LossPlot.logScale(new double[] {0.9, 0.5}), "a short run: linear, so its axis has numbers");
    assertTrue(LossPlot.logScale(new double[] {0.92, 0.2, 0.031}), "0.92 to 0.031: log");
  }
}
