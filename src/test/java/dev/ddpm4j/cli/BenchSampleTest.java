package dev.ddpm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ddpm4j.TinyModel;
import java.util.Iterator;
import org.junit.jupiter.api.Test;

/** bench --mode sample on the tiny export: timings per network call and, with --profile, one traced denoise call. */
class BenchSampleTest {
  @Test
  void profilesOneDenoiseCallOfTheExport() throws Exception {
    CliTest.Outcome o = CliTest.run("bench", "--mode", "sample", "--model", TinyModel.export().toString(), "--num", "3",
        "--sampler", "ddim", "--sampler-steps", "4", "--profile");
    assertEquals(0, o.code(), o.err());
    JsonNode j = new ObjectMapper().readTree(o.out());
    assertEquals(4, j.get("network_calls").asInt());
    assertTrue(j.get("denoise_call_s").asDouble() > 0, j.toString());
    JsonNode p = j.get("denoise_profile");
    assertTrue(p != null && p.get("summed_op_ms").asDouble() > 0, j.toString());
    double top = 0;
    boolean conv = false;
    for (Iterator<String> it = p.get("top_op_types_ms").fieldNames(); it.hasNext(); ) {
      String op = it.next();
      conv |= op.contains("Conv2D");
      top += p.get("top_op_types_ms").get(op).asDouble();
    }
    assertTrue(conv, "the U-Net's convolutions are among the costliest ops: " + p);
    assertTrue(top <= p.get("summed_op_ms").asDouble() + 0.5, "the listed ops are part of the sum: " + p);
    // single ops: named "node (type, shape)", each within its type's total, largest first
    JsonNode ops = p.get("top_ops_ms");
    assertEquals(12, ops.size(), p.toString());
    double previous = Double.MAX_VALUE;
    for (Iterator<String> it = ops.fieldNames(); it.hasNext(); ) {
      String op = it.next();
      double ms = ops.get(op).asDouble();
      assertTrue(ms <= previous, "largest first: " + ops);
      previous = ms;
      String type = op.substring(op.indexOf(" (") + 2, op.contains(", ") ? op.indexOf(", ") : op.length() - 1);
      JsonNode typeMs = p.get("top_op_types_ms").get(type);
      assertTrue(typeMs == null || ms <= typeMs.asDouble() + 0.05, op + " exceeds its type's total: " + p);
    }
  }

  @Test
  void withoutProfileThereIsNoTrace() throws Exception {
    CliTest.Outcome o = CliTest.run("bench", "--mode", "sample", "--model", TinyModel.export().toString(), "--num", "2",
        "--sampler", "ddim", "--sampler-steps", "2");
    assertEquals(0, o.code(), o.err());
    assertTrue(!new ObjectMapper().readTree(o.out()).has("denoise_profile"), o.out());
  }

  @Test
  void benchTrainRunsAClassConditionalConfigWithItsProfile() throws Exception {
    java.nio.file.Path cfg = java.nio.file.Files.createTempFile("ddpm4j-cond", ".yaml");
    java.nio.file.Files.writeString(cfg, dev.ddpm4j.TinyConfigs.config(null, "model.num_classes=2").toYaml());
    CliTest.Outcome o = CliTest.run("bench", "--config", cfg.toString(), "--mode", "train", "--batch", "4", "--steps",
        "2", "--profile");
    assertEquals(0, o.code(), o.err());
    JsonNode j = new ObjectMapper().readTree(o.out());
    assertTrue(j.get("images_per_s").asDouble() > 0 && j.has("profile"), o.out());
  }
}
