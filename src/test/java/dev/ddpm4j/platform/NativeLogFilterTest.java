package dev.ddpm4j.platform;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLogFilterTest {
  @TempDir Path tmp;

  static String filter(String... chunks) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    NativeLogFilter.LineFilter f = new NativeLogFilter.LineFilter(out::writeBytes);
    for (String c : chunks) {
      byte[] b = c.getBytes(StandardCharsets.UTF_8);
      f.accept(b, b.length);
    }
    f.finish();
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void dropsAbslInfoLinesAndThePreambleOnly() {
    String info = "I0000 00:00:1796133004.686855   25617 mlir_graph_optimization_pass.cc:401] MLIR V1 optimization pass is not enabled\n";
    String warn = "W0000 00:00:1796133004.686855   25617 cpu_allocator.cc:7] Allocation exceeds 10% of free memory\n";
    String mine = "ddpm4j train: error: data.path: image folder not found\n";
    assertEquals(warn + mine, filter(NativeLogFilter.ABSL_PREAMBLE + "\n", info, warn, mine));
    // split anywhere, the same result
    String all = NativeLogFilter.ABSL_PREAMBLE + "\n" + info + warn + mine;
    for (int cut = 1; cut < all.length(); cut += 7) {
      assertEquals(warn + mine, filter(all.substring(0, cut), all.substring(cut)), "cut at " + cut);
    }
    // lines that only look alike pass
    assertEquals("I0000 is not a log line\n", filter("I0000 is not a log line\n"));
    assertEquals("Info: 12 images\n", filter("Info: 12 images\n"));
  }

  @Test
  void aProgressBarPassesAtOnce() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    NativeLogFilter.LineFilter f = new NativeLogFilter.LineFilter(out::writeBytes);
    byte[] bar = "[####....] 4/8 ETA 3s".getBytes(StandardCharsets.UTF_8);
    f.accept(bar, bar.length);
    assertEquals("[####....] 4/8 ETA 3s", out.toString(StandardCharsets.UTF_8), "no line end yet, not held back");
    byte[] r = "\r[#####...] 5/8\r".getBytes(StandardCharsets.UTF_8);
    f.accept(r, r.length);
    assertEquals("[####....] 4/8 ETA 3s\r[#####...] 5/8\r", out.toString(StandardCharsets.UTF_8));
  }

  /** The real thing: a child JVM whose TensorFlow logs its abseil lines to file descriptor 2. */
  @Test
  void tensorFlowsInfoLinesNeverReachStderr() throws Exception {
    String filtered = runChild(false);
    assertTrue(filtered.contains("java line on stderr"), filtered);
    assertTrue(filtered.contains("some_file.cc:12] a native warning"), filtered);
    assertTrue(filtered.contains("[####....] 4/8\r"), "the last partial line is written at exit: " + filtered);
    assertFalse(filtered.contains("other_file.cc:34] native info"), filtered);
    assertFalse(filtered.contains("absl::InitializeLog"), filtered);
    assertFalse(filtered.contains("MLIR V1 optimization pass"), filtered);
    // without the filter TensorFlow does print them, so the assertions above can fail
    String unfiltered = runChild(true);
    assertTrue(unfiltered.contains("other_file.cc:34] native info"), unfiltered);
    assertTrue(unfiltered.contains("MLIR V1 optimization pass") || unfiltered.contains("absl::InitializeLog"),
        unfiltered);
  }

  String runChild(boolean all) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), NativeLogChild.class.getName()));
    Path err = Files.createTempFile(tmp, "stderr", ".txt");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile())
        .redirectOutput(Files.createTempFile(tmp, "stdout", ".txt").toFile());
    pb.environment().remove("TF_CPP_MIN_LOG_LEVEL");
    if (all) pb.environment().put("DDPM4J_TF_LOG", "all");
    else pb.environment().remove("DDPM4J_TF_LOG");
    Process p = pb.start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child finished");
    assertEquals(3, p.exitValue(), Files.readString(err));
    return Files.readString(err);
  }
}
