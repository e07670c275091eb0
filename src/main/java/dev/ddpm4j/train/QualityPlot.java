package dev.ddpm4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Quality against network calls from {@code bench --mode quality} JSON lines: one series per (sampler, spacing), FID
 * against network calls per image (log scale), with the real-vs-real floor as a horizontal line.
 */
public final class QualityPlot {
  private QualityPlot() {}

  public static void write(List<Path> files, String title, Path png) throws IOException {
    ObjectMapper json = new ObjectMapper();
    Map<String, TreeMap<Integer, Double>> series = new TreeMap<>();
    double floor = Double.NaN;
    int maxCalls = 1;
    for (Path f : files) {
      if (!Files.isRegularFile(f)) throw new IllegalArgumentException(f + ": no such file");
      for (String line : Files.readAllLines(f)) {
        if (line.isBlank()) continue;
        JsonNode n;
        try {
          n = json.readTree(line);
        } catch (IOException e) {
          throw new IllegalArgumentException(f + ": not a JSON line: " + line);
        }
        if (!n.has("fid") || !n.has("network_calls")) continue;
        String name = n.path("sampler").asText() + (n.has("spacing") ? " " + n.get("spacing").asText() : "")
            + (n.has("guidance") ? " w=" + n.get("guidance").asText() : "");
        int calls = n.get("network_calls").asInt();
        series.computeIfAbsent(name, k -> new TreeMap<>()).put(calls, n.get("fid").asDouble());
        if (n.has("floor_fid")) floor = n.get("floor_fid").asDouble();
        maxCalls = Math.max(maxCalls, calls);
      }
    }
    if (series.isEmpty()) throw new IllegalArgumentException(files + ": no lines with fid and network_calls");
    XYChart chart = new XYChartBuilder().width(900).height(520).title(title).xAxisTitle("network calls per image")
        .yAxisTitle("FID (lower is better)").build();
    chart.getStyler().setXAxisLogarithmic(true);
    for (var e : series.entrySet()) {
      List<Double> x = new ArrayList<>();
      List<Double> y = new ArrayList<>();
      e.getValue().forEach((k, v) -> {
        x.add((double) k);
        y.add(v);
      });
      chart.addSeries(e.getKey(), x, y);
    }
    if (!Double.isNaN(floor)) {
      chart.addSeries("real-vs-real floor", new double[] {1, maxCalls}, new double[] {floor, floor})
          .setMarker(SeriesMarkers.NONE);
    }
    Files.createDirectories(png.toAbsolutePath().getParent());
    BitmapEncoder.saveBitmap(chart, png.toString().replaceFirst("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
  }
}
