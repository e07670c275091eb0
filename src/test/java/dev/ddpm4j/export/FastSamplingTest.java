package dev.ddpm4j.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.SamplerException;
import dev.ddpm4j.sampler.SamplerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --precision fp32-fast}: the shipped default model rebuilt with ddpm4j's kernels draws the fp32
 * pictures up to rounding, really runs those kernels, and leaves the export's own fp32 path alone.
 */
class FastSamplingTest {
  static final Path MODEL = Path.of("savedmodels/default");

  static long ops(DiffusionSampler s, String type) {
    long n = 0;
    var it = s.bundle().graph().operations();
    while (it.hasNext()) {
      if (it.next().type().equals(type)) n++;
    }
    return n;
  }

  /**
   * Op counts of every copy of the network in the graph's functions (a sampler's loop body): each must run the ops the
   * graph's own copy runs. A conditional sampler's rows (Guidance) had lost the image's static shape there, so the
   * emoji export's loop ran 11 of its convolutions as Conv2D and wrote its concatenations (docs/BENCHMARKS.md).
   */
  static void assertLoopCopiesRunOurOps(DiffusionSampler s) {
    java.util.List<String> types = java.util.List.of("Conv2D", "DdpmWinogradConv", "DdpmDirectConv",
        "DdpmGroupNormSilu", "DdpmGroupNormSiluConcat", "DdpmAttention");
    java.util.Map<String, Long> graph = new java.util.TreeMap<>();
    for (String type : types) graph.put(type, ops(s, type));
    int copies = 0;
    for (var f : s.bundle().graph().getFunctions()) {
      java.util.Map<String, Long> here = new java.util.TreeMap<>();
      for (String type : types) here.put(type, 0L);
      for (var node : f.getFunctionDef().getNodeDefList()) here.computeIfPresent(node.getOp(), (k, v) -> v + 1);
      if (here.get("DdpmWinogradConv") == 0) continue;
      copies++;
      assertEquals(graph, here, f.getDefinedName() + ": the loop's network against the graph's own");
    }
    assertTrue(copies > 0, "a sampler's loop holds a copy of the network");
  }

  @Test
  void theRebuiltModelDrawsTheFp32PicturesUpToRounding() {
    int n = 8;
    SamplerSpec ddim = SamplerSpec.of("ddim", 10);
    byte[] fp32;
    float[] eps32;
    SplittableRandom r = new SplittableRandom(3);
    float[] x = new float[4 * 32 * 32];
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    int[] t = {0, 250, 500, 999};
    try (DiffusionSampler s = DiffusionSampler.load(MODEL, "fp32")) {
      assertEquals(0, ops(s, "DdpmWinogradConv") + ops(s, "DdpmGroupNormSilu") + ops(s, "DdpmGroupNormSiluConcat")
          + ops(s, "DdpmDirectConv") + ops(s, "DdpmAttention"), "the export is plain TensorFlow");
      fp32 = s.sample(n, 0, ddim).pixels();
      eps32 = s.denoise(x, t).eps();
    }
    try (DiffusionSampler s = FastSampling.load(MODEL, 2)) {
      assertEquals(FastSampling.PRECISION, s.precision());
      java.util.Set<String> keys = new java.util.TreeSet<>();
      for (var sig : s.bundle().signatures()) keys.add(sig.key());
      assertEquals("[denoise, q_sample, sample, sample_ancestral, sample_ddim, sample_dpmpp_2m, sample_dpmpp_2m_sde, "
          + "sample_dpmpp_3m, serving_default]", keys.toString(), "load(dir, threads) builds every sampler");
      // the graph's own copy of the network (denoise; the samplers' copies are in their loops' functions). Base 32,
      // mults [1, 2, 2], one block, attention at 8x8: 2 convolutions in each of 3 + 2 + 6 residual blocks and the 2
      // upsampling convolutions are 3x3 with channels in sixteens, and so is the output layer's input (its one output
      // channel padded to 16; the input layer's one channel is not), and 11 blocks x 2 + 4 attention blocks + the
      // output layer have a GroupNorm. No gradient is taken, so each convolution is one op, the two upsampling
      // layers' (four phases of 64 channels) writing their output upsampled, with no DepthToSpace after them.
      assertEquals(25, ops(s, "DdpmWinogradConv"), "3x3 convolutions as one Winograd op");
      assertEquals(0, ops(s, "DdpmWinogradInput"), "no convolution as transforms around 36 products");
      assertEquals(0, ops(s, "DepthToSpace"), "the upsampling layers' phases written in place by the op");
      // The six up-path blocks' GroupNorms read their input and skip apart (never concatenated)
      assertEquals(21, ops(s, "DdpmGroupNormSilu"), "GroupNorms as the fused op");
      assertEquals(6, ops(s, "DdpmGroupNormSiluConcat"), "GroupNorms of an input and a skip");
      // the 2 downsampling layers, the 7 blocks' 1x1 shortcuts (one down, six up) and each attention layer's q, k and v
      // and its projection as direct convolutions, and the 4 attention cores as one op each
      assertEquals(17, ops(s, "DdpmDirectConv"), "direct convolutions");
      assertEquals(4, ops(s, "DdpmAttention"), "attention cores");
      assertLoopCopiesRunOurOps(s);
      byte[] wino = s.sample(n, 0, ddim).pixels();
      assertEquals(fp32.length, wino.length);
      long sum = 0;
      int max = 0;
      for (int k = 0; k < fp32.length; k++) {
        int d = Math.abs((fp32[k] & 0xff) - (wino[k] & 0xff));
        sum += d;
        max = Math.max(max, d);
      }
      assertTrue(max <= 2, "a pixel moved by " + max + " grey levels");
      assertTrue(sum <= fp32.length / 1000, "the pictures differ by " + sum + " grey levels in all");
      double err = relative(s.denoise(x, t).eps(), eps32);
      assertTrue(err < 1e-4, "relative L2 error of the noise prediction: " + err);
      // the same image alone and in a batch, as with every export
      assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOfRange(wino, 3 * 1024, 4 * 1024)),
          java.util.Arrays.toString(s.sample(1, 0, 3, ddim).pixels()));
    }
  }

  /** The emoji recipe's shipped export: 64x64 RGB (the output layer to 3 channels), 9 classes, guidance. */
  @Test
  void aConditionalColourModelIsRebuiltWithItsLabelsAndGuidance() {
    Path emoji = Path.of("savedmodels/emoji-64");
    SamplerSpec ddim = SamplerSpec.of("ddim", 4);
    int[] labels = {2, -1, 8};
    byte[] fp32;
    float[] eps32;
    float[] x = new float[3 * 64 * 64 * 3];
    SplittableRandom r = new SplittableRandom(5);
    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    int[] t = {10, 400, 900};
    try (DiffusionSampler s = DiffusionSampler.load(emoji, "fp32")) {
      assertEquals(9, s.metadata().numClasses());
      fp32 = s.sample(3, 7, 0, ddim, labels, 2f).pixels();
      eps32 = s.denoise(x, t, labels).eps();
      // the labels matter, so the comparison below sees the label embedding
      assertTrue(relative(s.denoise(x, t, new int[] {3, -1, 0}).eps(), eps32) > 1e-3);
    }
    // built for DDIM alone: the other samplers' loops (a copy of the network each) are left out
    try (DiffusionSampler s = FastSampling.load(emoji, 2, InferenceGraph.Samplers.of(ddim))) {
      java.util.Set<String> keys = new java.util.TreeSet<>();
      for (var sig : s.bundle().signatures()) keys.add(sig.key());
      assertEquals("[denoise, q_sample, sample_ddim]", keys.toString());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> s.sample(2, 7, SamplerSpec.of("dpmpp_2m", 4)));
      assertTrue(e.getMessage().contains("has no 'sample_dpmpp_2m' signature (it was built for [sample_ddim])"),
          e.getMessage());
      assertTrue(ops(s, "DdpmWinogradConv") > 0 && ops(s, "DdpmGroupNormSilu") > 0);
      assertEquals(1, ops(s, "Conv2D"), "only the input layer (3 channels) is TensorFlow's convolution");
      assertLoopCopiesRunOurOps(s);
      assertTrue(relative(s.denoise(x, t, labels).eps(), eps32) < 1e-4);
      byte[] fast = s.sample(3, 7, 0, ddim, labels, 2f).pixels();
      assertEquals(fp32.length, fast.length);
      int max = 0;
      for (int k = 0; k < fp32.length; k++) max = Math.max(max, Math.abs((fp32[k] & 0xff) - (fast[k] & 0xff)));
      assertTrue(max <= 2, "a guided pixel moved by " + max + " grey levels");
    }
  }

  /** The relative L2 distance of a from a reference that is not all zeros. */
  static double relative(float[] a, float[] reference) {
    assertTrue(FastSampling.relativeL2(new float[reference.length], reference) == 1, "an all-zero reference");
    return FastSampling.relativeL2(a, reference);
  }

  /** auto means fp32-fast with AVX2 and FMA and no AMX, where our kernels run; elsewhere what the export says. */
  @Test
  void autoMeansFp32FastWithAvx2AndNoAmx() {
    String why = FastSampling.autoRule(false, true, null);
    assertTrue(why != null && why.contains("AVX2 and no AMX"), why);
    assertEquals(null, FastSampling.autoRule(true, true, null), "AMX: bf16 (fp32-fast not measured there)");
    assertEquals(null, FastSampling.autoRule(false, false, null), "no AVX2: fp32 (not measured)");
    assertEquals(null, FastSampling.autoRule(false, true, "no op library"), "kernels that cannot run");
    assertEquals(FastSampling.whyNot() == null && !dev.ddpm4j.platform.Platform.hasAmx()
        && dev.ddpm4j.platform.Platform.hasAvx2Level(), FastSampling.autoReason() != null, "this CPU");
  }

  @Test
  void aFolderThatIsNotAnExportIsNamed(@TempDir Path tmp) throws Exception {
    SamplerException e = assertThrows(SamplerException.class, () -> FastSampling.load(tmp.resolve("none"), 1));
    assertTrue(e.getMessage().contains("none"), e.getMessage());
    Path noConfig = tmp.resolve("old");
    Files.createDirectories(noConfig.resolve("assets.extra"));
    try (var files = Files.walk(MODEL)) {
      for (Path p : files.toList()) {
        Path to = noConfig.resolve(MODEL.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(to);
        } else if (!p.endsWith("ddpm4j.json")) {
          Files.copy(p, to);
        }
      }
    }
    // the export is loaded on a second thread while this one reads its metadata and rebuilds the graph; the export's
    // own checks speak first: here this thread fails at once (no metadata to read), the export's load a second later
    e = assertThrows(SamplerException.class, () -> FastSampling.load(noConfig, 1));
    assertTrue(e.getMessage().contains("missing " + DiffusionSampler.METADATA) && e.getMessage().contains("old"),
        e.getMessage());
    String meta = Files.readString(MODEL.resolve(DiffusionSampler.METADATA));
    Files.writeString(noConfig.resolve(DiffusionSampler.METADATA), meta.replace("\"config\"", "\"configuration\""));
    e = assertThrows(SamplerException.class, () -> FastSampling.load(noConfig, 1));
    assertTrue(e.getMessage().contains("no \"config\"") && e.getMessage().contains("--precision fp32"),
        e.getMessage());
    // a config this build makes another network of (16 GroupNorm groups where the weights learned 8): the weights
    // restore, but the rebuilt network predicts other noise, so it is refused instead of sampled wrong
    Files.writeString(noConfig.resolve(DiffusionSampler.METADATA), meta.replace("\"groups\" : 8", "\"groups\" : 16"));
    e = assertThrows(SamplerException.class, () -> FastSampling.load(noConfig, 1));
    assertTrue(e.getMessage().contains("predicts other noise than the export") && e.getMessage().contains("old"),
        e.getMessage());
    // a config with layers the export has no weights for: the restore that sets every variable fails, named
    Files.writeString(noConfig.resolve(DiffusionSampler.METADATA),
        meta.replace("\"num_res_blocks\" : 1", "\"num_res_blocks\" : 2"));
    e = assertThrows(SamplerException.class, () -> FastSampling.load(noConfig, 1));
    assertTrue(e.getMessage().contains("weights do not restore") && e.getMessage().contains("old")
        && e.getMessage().contains("--precision fp32"), e.getMessage());
    // the same when both fail later: here the rebuild would fail as above (the weights do not restore), but without
    // saved_model.pb the message is the export's
    Files.delete(noConfig.resolve("saved_model.pb"));
    e = assertThrows(SamplerException.class, () -> FastSampling.load(noConfig, 1));
    assertTrue(e.getMessage().contains("not a SavedModel") && e.getMessage().contains("old"), e.getMessage());
  }
}
