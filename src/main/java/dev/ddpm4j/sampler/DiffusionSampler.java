package dev.ddpm4j.sampler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * The client API for other JVM apps: loads a ddpm4j SavedModel with TensorFlow Java alone and calls its signatures.
 *
 * <pre>{@code
 * try (DiffusionSampler s = DiffusionSampler.load(Path.of("savedmodels/default"))) {
 *   GeneratedImages g = s.sample(16, 42L);
 *   g.writeGrid(Path.of("grid.png"));
 * }
 * }</pre>
 *
 * <p>One sampler may be shared by several threads: its calls into TensorFlow run one at a time. Two calls at once in
 * one session gave wrong pixels or killed the JVM in TensorFlow's oneDNN convolution kernels (see {@link #call}), so
 * for parallel sampling open one sampler per thread; each has a session of its own.
 */
public final class DiffusionSampler implements AutoCloseable {
  public static final List<String> REQUIRED_SIGNATURES = List.of("sample", "denoise", "q_sample");
  public static final String METADATA = "assets.extra/ddpm4j.json";

  /**
   * The network's output at (x_t, t): the predicted noise and the implied x_0, both NHWC float32, and for a model
   * with a learned variance its log sigma_t^2 (null for a fixed variance).
   */
  public record Denoised(float[] eps, float[] x0, float[] logVariance) {}

  private final SavedModelBundle bundle;
  private final SamplerMetadata metadata;
  private final String precision;

  private DiffusionSampler(SavedModelBundle bundle, SamplerMetadata metadata, String precision) {
    this.bundle = bundle;
    this.metadata = metadata;
    this.precision = precision;
  }

  /** Loads an export; fails with a clear message when the folder is missing or is not a ddpm4j SavedModel. */
  public static DiffusionSampler load(Path dir) {
    return load(dir, null);
  }

  /**
   * Loads an export in a given precision: {@code fp32}, {@code bf16} (oneDNN bfloat16 mixed precision) or {@code
   * auto} (bf16 where the CPU computes it natively); null keeps the export's own setting ({@code export.precision}).
   */
  public static DiffusionSampler load(Path dir, String precisionSetting) {
    return load(dir, precisionSetting, REQUIRED_SIGNATURES);
  }

  @SuppressWarnings("unchecked")
  private static DiffusionSampler load(Path dir, String precisionSetting, List<String> required) {
    if (!Files.exists(dir)) throw new SamplerException(dir + ": no such directory");
    if (!Files.isDirectory(dir)) throw new SamplerException(dir + ": not a directory (expected a SavedModel folder)");
    if (!Files.isRegularFile(dir.resolve("saved_model.pb"))) {
      throw new SamplerException(dir + ": not a SavedModel (no saved_model.pb)");
    }
    String precision = precisionSetting != null ? CpuFeatures.resolvePrecision(precisionSetting) : precisionOf(dir);
    SavedModelBundle b;
    try {
      SavedModelBundle.Loader loader = SavedModelBundle.loader(dir.toString()).withTags(SavedModelBundle.DEFAULT_TAG);
      if (precision.equals("bf16")) loader = loader.withConfigProto(BF16);
      b = loader.load();
    } catch (TensorFlowException | IllegalArgumentException e) {
      throw new SamplerException(dir + ": TensorFlow cannot load this SavedModel: " + e.getMessage(), e);
    }
    try {
      Set<String> have = new TreeSet<>();
      for (Signature s : b.signatures()) have.add(s.key());
      List<String> missing = new ArrayList<>();
      for (String r : required) if (!have.contains(r)) missing.add(r);
      if (!missing.isEmpty()) {
        throw new SamplerException(dir + ": not a ddpm4j sampler: missing signatures " + missing + " (has " + have + ")");
      }
      Path meta = dir.resolve(METADATA);
      if (!Files.isRegularFile(meta)) throw new SamplerException(dir + ": missing " + METADATA);
      Object json;
      try {
        json = Json.parse(Files.readString(meta, StandardCharsets.UTF_8));
      } catch (IOException | IllegalArgumentException e) {
        throw new SamplerException(meta + ": unreadable metadata: " + e.getMessage(), e);
      }
      if (!(json instanceof Map)) throw new SamplerException(meta + ": metadata is not a JSON object");
      return new DiffusionSampler(b, new SamplerMetadata((Map<String, Object>) json), precision);
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  /**
   * Loads a SavedModel in fp32 and reports {@code name} as its precision: for a graph that was rebuilt from an export
   * with other float32 kernels and saved for this process only ({@code dev.ddpm4j.export.FastSampling}). It needs
   * {@code denoise} and {@code q_sample} and may hold only some of the sampling signatures; asking it for a sampler it
   * lacks is refused with a message that names what it has.
   */
  public static DiffusionSampler loadAs(Path dir, String name) {
    DiffusionSampler s = load(dir, "fp32", List.of("denoise", "q_sample"));
    return new DiffusionSampler(s.bundle, s.metadata, name);
  }

  /** oneDNN bfloat16 automatic mixed precision, for exports whose precision resolves to bf16 on this CPU. */
  private static final org.tensorflow.proto.ConfigProto BF16 = org.tensorflow.proto.ConfigProto.newBuilder()
      .setGraphOptions(org.tensorflow.proto.GraphOptions.newBuilder().setRewriteOptions(
          org.tensorflow.proto.RewriterConfig.newBuilder().setAutoMixedPrecisionOnednnBfloat16(
              org.tensorflow.proto.RewriterConfig.Toggle.ON))).build();

  /**
   * The export's precision setting (metadata "precision"; fp32 when absent) resolved on this CPU. fp32 gives the same
   * bytes for a seed on every machine and in every TensorFlow client; bf16 is faster where the CPU has it.
   */
  static String precisionOf(Path dir) {
    try {
      return CpuFeatures.resolvePrecision(precisionSetting(dir));
    } catch (IllegalArgumentException e) {
      return "fp32";
    }
  }

  /**
   * The export's precision setting as written ({@code auto}, {@code fp32} or {@code bf16}; fp32 when the metadata has
   * none or cannot be read, which loading reports), before this CPU resolves it.
   */
  public static String precisionSetting(Path dir) {
    try {
      Object json = Json.parse(Files.readString(dir.resolve(METADATA), StandardCharsets.UTF_8));
      if (json instanceof Map<?, ?> m && m.get("precision") instanceof String p) return p;
    } catch (IOException | IllegalArgumentException e) {
      // reported with the metadata check when the export loads
    }
    return "fp32";
  }

  /** The sampling signatures this sampler holds ({@code sample} and {@code sample_<key>}), sorted. */
  private List<String> samplingSignatures() {
    List<String> out = new ArrayList<>();
    for (Signature s : bundle.signatures()) if (s.key().startsWith("sample")) out.add(s.key());
    java.util.Collections.sort(out);
    return out;
  }

  /** fp32 or bf16 (or the name given to {@link #loadAs}): the precision this sampler runs in. */
  public String precision() {
    return precision;
  }

  public SamplerMetadata metadata() {
    return metadata;
  }

  /**
   * The DDPM ancestral sampler over all T steps, run in the graph; image i is keyed by (seed, i), so the same seed gives
   * the same bytes in every process and for every batch size.
   */
  public GeneratedImages sample(int numImages, long seed) {
    return sample(numImages, seed, 0, SamplerSpec.ancestral());
  }

  /** {@code numImages} images drawn with a sampler of the export (see {@link SamplerSpec}). */
  public GeneratedImages sample(int numImages, long seed, SamplerSpec spec) {
    return sample(numImages, seed, 0, spec);
  }

  /**
   * Images {@code firstIndex} .. {@code firstIndex + numImages - 1} of the seed's sequence: image i's noise depends on
   * (seed, i) alone, so drawing 10,000 images in batches, one by one, or resuming at an index gives the same images.
   */
  public GeneratedImages sample(int numImages, long seed, long firstIndex, SamplerSpec spec) {
    return sample(numImages, seed, firstIndex, spec, null, 1f);
  }

  /**
   * Class-conditional images: {@code labels[i]} is the class of image i (-1 = no label), {@code guidance} the
   * classifier-free guidance scale w (0: unconditional, 1: plain conditional, above 1: stronger class fidelity).
   */
  public GeneratedImages sample(int numImages, long seed, int[] labels, float guidance) {
    return sample(numImages, seed, 0, SamplerSpec.ancestral(), labels, guidance);
  }

  /**
   * The general form: images {@code firstIndex} .. {@code firstIndex + numImages - 1} of the seed's sequence, drawn
   * with {@code spec}; for a conditional model with {@code labels} (null: no label for every image) and guidance. The
   * bytes do not depend on the batch: one image is drawn beside the next one, which costs a second image.
   */
  public GeneratedImages sample(int numImages, long seed, long firstIndex, SamplerSpec spec, int[] labels,
      float guidance) {
    if (numImages < 1) throw new IllegalArgumentException("numImages must be >= 1, got " + numImages);
    int classes = metadata.numClasses();
    if (classes == 0 && labels != null) {
      throw new IllegalArgumentException("this model is unconditional (no classes) and takes no labels");
    }
    if (labels != null) {
      if (labels.length != numImages) {
        throw new IllegalArgumentException(labels.length + " labels for " + numImages + " images");
      }
      for (int l : labels) {
        if (l < -1 || l > classes) {
          throw new IllegalArgumentException("label " + l + " is outside [-1, " + classes + "] (-1 and " + classes
              + " = no label)");
        }
      }
    }
    if (!Float.isFinite(guidance)) throw new IllegalArgumentException("guidance must be finite, got " + guidance);
    if (firstIndex < 0) throw new IllegalArgumentException("firstIndex must be >= 0, got " + firstIndex);
    if (metadata.formatVersion() < 2) {
      throw new SamplerException("this export predates per-image seeds and sampler signatures (format "
          + metadata.formatVersion() + "); export it again with this ddpm4j");
    }
    // TensorFlow runs a batch of one image through other kernels than a larger batch: with DDIM or DPM-Solver++ 2M
    // its bytes differed, in bf16 in most pixels, in fp32 in a rare one (docs/BENCHMARKS.md, "bf16 sampling");
    // batches of two or more agreed. So a lone image is drawn beside the next one of its sequence, which is dropped:
    // an image never depends on its batch, and a one-image call costs two images. Exports made since do the same in
    // their graph (InferenceGraph), so this step matters for older ones, the shipped model among them.
    int drawn = numImages == 1 ? 2 : numImages;
    Map<String, Tensor> args = new java.util.HashMap<>();
    String signature;
    try {
      args.put("seed", TInt64.scalarOf(seed));
      args.put("num_images", TInt32.scalarOf(drawn));
      args.put("first_index", TInt64.scalarOf(firstIndex));
      if (classes > 0) {
        int[] l = java.util.Arrays.copyOf(labels != null ? labels : filled(numImages, -1), drawn);
        if (drawn > numImages) l[numImages] = -1;
        args.put("labels", TInt32.vectorOf(l));
        args.put("guidance_scale", TFloat32.scalarOf(guidance));
      }
      if (spec.isFullAncestral()) {
        signature = "sample";
      } else {
        SamplerMetadata.SamplerInfo info = metadata.samplers().get(spec.sampler());
        if (info == null) {
          throw new IllegalArgumentException("unknown sampler '" + spec.sampler() + "' (this export has "
              + metadata.samplers().keySet() + ")");
        }
        int k = spec.steps() == 0 ? metadata.timesteps() : spec.steps();
        if (k > metadata.timesteps()) {
          throw new IllegalArgumentException("steps must be in [1, " + metadata.timesteps() + "], got " + k);
        }
        String spacing = spec.spacing() != null ? spec.spacing() : info.defaultSpacing();
        if (!info.spacings().contains(spacing)) {
          throw new IllegalArgumentException(spec.sampler() + ": spacing must be one of " + info.spacings() + ", got '"
              + spacing + "'");
        }
        if (!info.takesEta() && spec.eta() != 0) {
          throw new IllegalArgumentException(spec.sampler() + " takes no eta");
        }
        signature = info.signature();
        args.put("num_steps", TInt32.scalarOf(k));
        args.put("spacing", TString.scalarOf(spacing));
        if (info.takesEta()) args.put("eta", TFloat32.scalarOf(spec.eta()));
      }
      if (!samplingSignatures().contains(signature)) {
        throw new IllegalArgumentException("this " + precision + " sampler has no '" + signature + "' signature (it was"
            + " built for " + samplingSignatures() + "): load it again for " + spec);
      }
      try (Result r = call(signature, args)) {
        return images(r, numImages);
      }
    } finally {
      args.values().forEach(Tensor::close);
    }
  }

  /**
   * DDIM over {@code steps} of the T steps with its default spacing; {@code eta} 0 is deterministic given the seed's
   * x_T, 1 with steps = T is the ancestral sampler with the posterior variance.
   */
  public GeneratedImages sampleDdim(int numImages, long seed, int steps, float eta) {
    return sample(numImages, seed, 0, SamplerSpec.of("ddim", steps).withEta(eta));
  }

  private static int[] filled(int n, int v) {
    int[] a = new int[n];
    java.util.Arrays.fill(a, v);
    return a;
  }

  /** The label of a class name or index string (as the CLI takes them), or an error listing the names. */
  public int label(String classNameOrIndex) {
    List<String> names = metadata.classNames();
    int i = names.indexOf(classNameOrIndex);
    if (i >= 0) return i;
    for (int k = 0; k < names.size(); k++) if (names.get(k).equalsIgnoreCase(classNameOrIndex)) return k;
    try {
      int v = Integer.parseInt(classNameOrIndex);
      if (v >= 0 && v < metadata.numClasses()) return v;
    } catch (NumberFormatException e) {
      // not a number: fall through to the error
    }
    throw new IllegalArgumentException("unknown class '" + classNameOrIndex + "' (classes: " + (names.isEmpty()
        ? "0.." + (metadata.numClasses() - 1) : names) + ")");
  }

  private GeneratedImages images(Result r, int numImages) {
    TUint8 images = (TUint8) r.get("images").orElseThrow();
    TFloat32 samples = (TFloat32) r.get("samples").orElseThrow();
    byte[] px = new byte[(int) images.size()];
    images.asRawTensor().data().read(px);
    float[] x = new float[(int) samples.size()];
    samples.asRawTensor().data().asFloats().read(x);
    int size = metadata.imageSize();
    int per = size * size * metadata.channels();
    if (px.length > numImages * per) { // images drawn beside them only to keep their bytes (sample)
      px = java.util.Arrays.copyOf(px, numImages * per);
      x = java.util.Arrays.copyOf(x, numImages * per);
    }
    return new GeneratedImages(px, x, numImages, size, size, metadata.channels());
  }

  /**
   * The network at noisy images x_t (n*H*W*C floats, model space) and 0-based timesteps t (n entries in [0, T)).
   */
  public Denoised denoise(float[] xt, int[] t) {
    return denoise(xt, t, null);
  }

  /** The network at (x_t, t) with class labels (a conditional model; null or -1 = no label). */
  public Denoised denoise(float[] xt, int[] t, int[] labels) {
    int size = metadata.imageSize();
    int per = size * size * metadata.channels();
    if (t.length == 0) throw new IllegalArgumentException("t is empty");
    if (xt.length != t.length * per) {
      throw new IllegalArgumentException("x_t has " + xt.length + " values; " + t.length + " images of " + size + "x"
          + size + "x" + metadata.channels() + " need " + (long) t.length * per);
    }
    for (int v : t) {
      if (v < 0 || v >= metadata.timesteps()) {
        throw new IllegalArgumentException("timestep " + v + " is outside [0, " + metadata.timesteps() + ")");
      }
    }
    int classes = metadata.numClasses();
    if (classes == 0 && labels != null) throw new IllegalArgumentException("this model is unconditional");
    if (labels != null && labels.length != t.length) {
      throw new IllegalArgumentException(labels.length + " labels for " + t.length + " images");
    }
    try (TFloat32 x = TFloat32.tensorOf(Shape.of(t.length, size, size, metadata.channels()));
        TInt32 tt = TInt32.vectorOf(t);
        TInt32 ll = classes > 0 ? TInt32.vectorOf(labels != null ? labels : filled(t.length, -1)) : null) {
      x.asRawTensor().data().asFloats().write(xt);
      Map<String, Tensor> args = ll == null ? Map.of("x_t", x, "t", tt) : Map.of("x_t", x, "t", tt, "labels", ll);
      try (Result r = call("denoise", args)) {
        float[] eps = new float[xt.length];
        float[] x0 = new float[xt.length];
        ((TFloat32) r.get("eps").orElseThrow()).asRawTensor().data().asFloats().read(eps);
        ((TFloat32) r.get("x0").orElseThrow()).asRawTensor().data().asFloats().read(x0);
        float[] logVariance = null;
        if (r.get("log_variance").isPresent()) {
          logVariance = new float[xt.length];
          ((TFloat32) r.get("log_variance").get()).asRawTensor().data().asFloats().read(logVariance);
        }
        return new Denoised(eps, x0, logVariance);
      }
    }
  }

  /**
   * One signature call, never two at once: TensorFlow 2.18's oneDNN convolution kernels (its {@code
   * _MklNativeFusedConv2D}, shared by every call of a session) race when two calls of one session run together. Four
   * threads sampling from one export (ExportTest.callersOnSeveralThreadsShareOneSampler) got wrong pixels or a JVM
   * abort in {@code MklConvOp::AllocateOutputTensor} in each of three tries before this lock.
   */
  private synchronized Result call(String signature, Map<String, Tensor> args) {
    return bundle.function(signature).call(args);
  }

  /**
   * The underlying bundle, for direct signature calls. Its session must not run two calls at once (see {@link #call});
   * synchronize on this sampler around them when it is shared between threads.
   */
  public SavedModelBundle bundle() {
    return bundle;
  }

  /** Closes the model once a call in flight on another thread has ended. */
  @Override
  public synchronized void close() {
    bundle.close();
  }
}
