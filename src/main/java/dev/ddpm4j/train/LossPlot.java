package dev.ddpm4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The loss curve of a run ({@code metrics.jsonl}) as a PNG: loss against step, log-scaled when it spans a decade. */
public final class LossPlot {
  private LossPlot() {}

  /** Reads (step, loss) pairs; throws naming the file when it is missing or has no usable line. */
  public static double[][] read(Path metrics) throws IOException {
    if (!Files.isRegularFile(metrics)) throw new IllegalArgumentException(metrics + ": no such metrics file");
    ObjectMapper json = new ObjectMapper();
    List<double[]> points = new ArrayList<>();
    for (String line : Files.readAllLines(metrics)) {
      if (line.isBlank()) continue;
      JsonNode n;
      try {
        n = json.readTree(line);
      } catch (IOException e) {
        continue; // a line torn by a crash
      }
      if (n.has("step") && n.has("loss") && n.get("loss").isNumber() && n.get("loss").asDouble() > 0) {
        points.add(new double[] {n.get("step").asDouble(), n.get("loss").asDouble()});
      }
    }
    if (points.isEmpty()) throw new IllegalArgumentException(metrics + ": no (step, loss) lines to plot");
    double[][] out = new double[2][points.size()];
    for (int i = 0; i < points.size(); i++) {
      out[0][i] = points.get(i)[0];
      out[1][i] = points.get(i)[1];
    }
    return out;
  }

  /**
   * A log-scaled loss axis only when the losses span at least a decade: XChart labels a logarithmic axis at powers of
   * ten only, so a short run's curve (0.9 to 0.5, say) had no numbers on its axis.
   */
  static boolean logScale(double[] losses) {
    double min = Double.POSITIVE_INFINITY;
    double max = 0;
    for (double v : losses) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    return max >= 10 * min;
  }

  public static void write(Path metrics, String title, Path png) throws IOException {
    double[][] xy = read(metrics);
    XYChart chart = new XYChartBuilder().width(800).height(450).title(title).xAxisTitle("step")
        .yAxisTitle("loss (mean over log interval)").build();
    chart.getStyler().setYAxisLogarithmic(logScale(xy[1]));
    chart.getStyler().setLegendVisible(false);
    chart.addSeries("loss", xy[0], xy[1]).setMarker(SeriesMarkers.NONE);
    Path parent = png.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    BitmapEncoder.saveBitmap(chart, png.toString().replaceFirst("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
  }
}
