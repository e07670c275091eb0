package dev.ddpm4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.PngBytes;
import dev.ddpm4j.TinyModel;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SampleCommandTest {
  @TempDir Path tmp;

  static CliTest.Outcome sample(Path model, Path out, String... extra) {
    String[] base = {"sample", "--model", model.toString(), "--seed", "3", "--out-dir", out.toString(), "--sampler",
        "dpmpp_2m", "--steps", "4"};
    String[] args = java.util.Arrays.copyOf(base, base.length + extra.length);
    System.arraycopy(extra, 0, args, base.length, extra.length);
    return CliTest.run(args);
  }

  @Test
  void imageFilesAreTheSameForAnyBatchSizeAndWhenContinued() throws Exception {
    Path model = TinyModel.export();
    Path whole = tmp.resolve("whole");
    Path batched = tmp.resolve("batched");
    Path continued = tmp.resolve("continued");
    assertEquals(0, sample(model, whole, "--num", "7", "--batch", "7").code());
    CliTest.Outcome o = sample(model, batched, "--num", "7", "--batch", "3");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("wrote 7 images"), o.out());
    assertTrue(o.out().contains("first index 0, fp32)"), "the summary names the precision: " + o.out());
    // an interrupted run continued from image 5
    assertEquals(0, sample(model, continued, "--num", "5", "--batch", "2").code());
    assertEquals(0, sample(model, continued, "--num", "2", "--start-index", "5").code());
    try (DiffusionSampler s = DiffusionSampler.load(model)) {
      byte[] expected = s.sample(7, 3, SamplerSpec.of("dpmpp_2m", 4)).pixels();
      for (int i = 0; i < 7; i++) {
        String name = String.format("image-%06d.png", i);
        byte[] a = Files.readAllBytes(whole.resolve(name));
        assertArrayEquals(a, Files.readAllBytes(batched.resolve(name)), name + " batched");
        assertArrayEquals(a, Files.readAllBytes(continued.resolve(name)), name + " continued");
        assertArrayEquals(java.util.Arrays.copyOfRange(expected, i * 64, (i + 1) * 64),
            PngBytes.read(whole.resolve(name)).samples(), name + " holds the client API's bytes");
      }
    }
  }

  /** --precision fp32-fast rebuilds the graph with ddpm4j's kernels: fp32 pictures to rounding; a bad value is named. */
  @Test
  void fp32FastDrawsTheFp32PicturesToRoundingAndABadPrecisionIsNamed() throws Exception {
    Path model = TinyModel.export();
    Path fast = tmp.resolve("fast");
    Path fp32 = tmp.resolve("fp32");
    CliTest.Outcome o = sample(model, fast, "--num", "3", "--precision", "fp32-fast");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("first index 0, fp32-fast)"), "the summary names the precision: " + o.out());
    Path fastBatched = tmp.resolve("fast-batched"); // by default one call of 3 (up to 256), here 2 + 1
    assertEquals(0, sample(model, fastBatched, "--num", "3", "--precision", "fp32-fast", "--batch", "2").code());
    assertEquals(0, sample(model, fp32, "--num", "3", "--precision", "fp32").code());
    for (int i = 0; i < 3; i++) {
      String name = String.format("image-%06d.png", i);
      byte[] a = PngBytes.read(fp32.resolve(name)).samples();
      byte[] b = PngBytes.read(fast.resolve(name)).samples();
      for (int k = 0; k < a.length; k++) {
        assertTrue(Math.abs((a[k] & 0xff) - (b[k] & 0xff)) <= 1, name + " pixel " + k + ": " + (a[k] & 0xff)
            + " in fp32, " + (b[k] & 0xff) + " in fp32-fast");
      }
      assertArrayEquals(Files.readAllBytes(fast.resolve(name)), Files.readAllBytes(fastBatched.resolve(name)),
          name + ": the same image in any batch");
    }
    // the full ancestral sampler: the one loop fp32-fast builds is then the export's "sample" signature
    Path fastFull = tmp.resolve("fast-full");
    Path fp32Full = tmp.resolve("fp32-full");
    o = CliTest.run("sample", "--model", model.toString(), "--seed", "3", "--out-dir", fastFull.toString(), "--num",
        "2", "--sampler", "ancestral", "--precision", "fp32-fast");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("ancestral, all steps"), o.out());
    assertEquals(0, CliTest.run("sample", "--model", model.toString(), "--seed", "3", "--out-dir", fp32Full.toString(),
        "--num", "2", "--sampler", "ancestral", "--precision", "fp32").code());
    for (int i = 0; i < 2; i++) {
      String name = String.format("image-%06d.png", i);
      byte[] a = PngBytes.read(fp32Full.resolve(name)).samples();
      byte[] b = PngBytes.read(fastFull.resolve(name)).samples();
      for (int k = 0; k < a.length; k++) {
        assertTrue(Math.abs((a[k] & 0xff) - (b[k] & 0xff)) <= 1, "ancestral " + name + " pixel " + k);
      }
    }
    o = sample(model, tmp.resolve("bad"), "--num", "1", "--precision", "fp16");
    assertEquals(Main.EXIT_INPUT, o.code(), o.out());
    assertTrue(o.err().contains("--precision must be auto, fp32, bf16 or fp32-fast, got fp16"), o.err());
  }

  /**
   * Precision auto, asked for or an export's own, means fp32-fast where {@code FastSampling.autoReason} says so (CPUs
   * with AVX2 and no AMX); an export that cannot be rebuilt then samples in auto's other meaning, said.
   */
  @Test
  void autoMeansFp32FastWhereItIsFasterAndFallsBackWithANote() throws Exception {
    Path model = TinyModel.export();
    String here = dev.ddpm4j.export.FastSampling.autoReason() != null ? "fp32-fast"
        : dev.ddpm4j.sampler.CpuFeatures.resolvePrecision("auto");
    CliTest.Outcome o = sample(model, tmp.resolve("auto"), "--num", "2", "--precision", "auto");
    assertEquals(0, o.code(), o.err());
    assertTrue(o.out().contains("first index 0, " + here + ")"), "auto on this CPU: " + here + ": " + o.out());
    // the same export with auto in its metadata: auto without --precision; and without its config, which fp32-fast
    // rebuilds the network from
    String meta = Files.readString(model.resolve(DiffusionSampler.METADATA));
    assertTrue(meta.contains("\"precision\" : \"fp32\""), meta);
    String autoMeta = meta.replace("\"precision\" : \"fp32\"", "\"precision\" : \"auto\"");
    Path auto = copy(model, tmp.resolve("auto-export"), autoMeta);
    Path old = copy(model, tmp.resolve("old-export"), autoMeta.replace("\"config\"", "\"configuration\""));
    var which = SamplerChoice.signatures("ddim", false, false);
    java.io.StringWriter err = new java.io.StringWriter();
    java.io.PrintWriter w = new java.io.PrintWriter(err, true);
    try (DiffusionSampler s = SamplerChoice.open(auto, null, which, w)) {
      assertEquals(here, s.precision(), "the export's own auto");
    }
    // where auto means fp32-fast (a reason given, whatever this CPU): the export's own auto and --precision auto are
    // rebuilt; fp32 or bf16 asked for, or an fp32 export, are not (the reason is then not even asked)
    java.util.function.Supplier<String> reason = () -> "a reason";
    java.util.function.Supplier<String> unasked = () -> {
      throw new AssertionError("asked where the precision is not auto");
    };
    for (String asked : new String[] {null, "auto"}) {
      try (DiffusionSampler s = SamplerChoice.open(auto, asked, which, w, reason)) {
        assertEquals("fp32-fast", s.precision(), asked + " with a reason: rebuilt");
        assertEquals(256, SamplerChoice.batch(null, s), "fp32-fast draws 256 small images a call");
        assertEquals(7, SamplerChoice.batch(7, s), "unless --batch says otherwise");
      }
    }
    for (String asked : dev.ddpm4j.sampler.CpuFeatures.nativeBf16() ? new String[] {"fp32", "bf16"}
        : new String[] {"fp32"}) { // bf16 needs a CPU that computes it
      try (DiffusionSampler s = SamplerChoice.open(auto, asked, which, w, unasked)) {
        assertEquals(asked, s.precision(), asked + " asked for");
      }
    }
    try (DiffusionSampler s = SamplerChoice.open(model, null, which, w, unasked)) {
      assertEquals("fp32", s.precision(), "an fp32 export: fp32 on every CPU");
      assertEquals(64, SamplerChoice.batch(null, s));
    }
    try (DiffusionSampler s = SamplerChoice.open(auto, null, which, w, () -> null)) {
      assertEquals(dev.ddpm4j.sampler.CpuFeatures.resolvePrecision("auto"), s.precision(), "no reason: as exported");
    }
    assertEquals("", err.toString(), "nothing to say so far");
    try (DiffusionSampler s = SamplerChoice.open(old, null, which, w, reason)) {
      assertEquals(dev.ddpm4j.sampler.CpuFeatures.resolvePrecision("auto"), s.precision(), "not rebuilt: as exported");
    }
    assertTrue(err.toString().startsWith("note: a reason, but not for this model (") && err.toString().contains(
        "no \"config\"") && err.toString().contains("sampling in "), err.toString());
    // an export that does not load at all: its own error, not the rebuild's
    Files.delete(old.resolve("saved_model.pb"));
    var e = org.junit.jupiter.api.Assertions.assertThrows(dev.ddpm4j.sampler.SamplerException.class,
        () -> SamplerChoice.open(old, null, which, w, reason));
    assertTrue(e.getMessage().contains("not a SavedModel"), e.getMessage());
  }

  /** The default batch: 256 for fp32-fast up to 32x32 pixels (the per-op costs), 64 otherwise; --batch wins. */
  @Test
  void fp32FastDrawsSmallImages256ACallUnlessTold() {
    assertEquals(256, SamplerChoice.batch(null, "fp32-fast", 32));
    assertEquals(256, SamplerChoice.batch(null, "fp32-fast", 8));
    assertEquals(64, SamplerChoice.batch(null, "fp32-fast", 33), "larger images: 64");
    assertEquals(64, SamplerChoice.batch(null, "fp32-fast", 64));
    for (String p : new String[] {"fp32", "bf16"}) assertEquals(64, SamplerChoice.batch(null, p, 32), p);
    assertEquals(3, SamplerChoice.batch(3, "fp32-fast", 32));
    assertEquals(500, SamplerChoice.batch(500, "fp32", 64));
  }

  /** A copy of an export with other metadata. */
  static Path copy(Path export, Path to, String metadata) throws java.io.IOException {
    CliTest.copyTree(export, to);
    Files.writeString(to.resolve(DiffusionSampler.METADATA), metadata);
    return to;
  }

  @Test
  void anEarlierSamplesImagesAreNeitherMixedInNorLostWithoutForce() throws Exception {
    Path model = TinyModel.export();
    Path dir = tmp.resolve("set");
    assertEquals(0, sample(model, dir, "--num", "4").code());
    byte[] first = Files.readAllBytes(dir.resolve("image-000003.png"));
    CliTest.Outcome o = sample(model, dir, "--num", "2");
    assertEquals(Main.EXIT_INPUT, o.code(), o.err());
    assertTrue(o.err().contains("already holds 4 image file(s)") && o.err().contains("--force"), o.err());
    assertArrayEquals(first, Files.readAllBytes(dir.resolve("image-000003.png")), "nothing written");
    o = CliTest.run("sample", "--model", tmp.resolve("no-such-model").toString(), "--out-dir", dir.toString(),
        "--force");
    assertTrue(o.code() != 0, o.out());
    assertArrayEquals(first, Files.readAllBytes(dir.resolve("image-000003.png")), "a bad --model deletes nothing");
    o = sample(model, dir, "--num", "2", "--force");
    assertEquals(0, o.code(), o.err());
    try (var files = Files.list(dir)) {
      assertEquals(java.util.List.of("image-000000.png", "image-000001.png"),
          files.map(p -> p.getFileName().toString()).sorted().toList(), "the earlier set is gone, not mixed in");
    }
  }

  @Test
  void badSamplerChoicesAreNamed() {
    Path model = TinyModel.export();
    CliTest.Outcome o = CliTest.run("sample", "--model", model.toString(), "--sampler", "euler");
    assertEquals(Main.EXIT_INPUT, o.code());
    assertTrue(o.err().contains("unknown sampler 'euler'") && o.err().contains("dpmpp_2m"), o.err());
    o = CliTest.run("sample", "--model", model.toString(), "--sampler", "ddim", "--spacing", "karras");
    assertTrue(o.err().contains("--spacing karras is not available for ddim"), o.err());
    o = CliTest.run("sample", "--model", model.toString(), "--sampler", "dpmpp_2m", "--eta", "0.5");
    assertTrue(o.err().contains("--eta applies to ddim"), o.err());
    o = CliTest.run("sample", "--model", model.toString(), "--steps", "21");
    assertTrue(o.err().contains("--steps must be in [1, 20]"), o.err());
  }
}
