package dev.ddpm4j.features;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ddpm4j.metrics.Features;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TUint8;

/** A trained feature network ({@link FeatureTrainer}'s export): features and logits of 8-bit images, in batches. */
public final class FeatureModel implements AutoCloseable {
  private static final int BATCH = 500;
  private final Path dir;
  private final SavedModelBundle bundle;
  private final JsonNode meta;
  private final String hash;
  private DetailSpace detail;

  /** The features, logits and detail features ({@link DetailSpace}) of n images (row-major). */
  public record Output(Features features, float[] logits, int classes, Features detail) {}

  private FeatureModel(Path dir, SavedModelBundle bundle, JsonNode meta, String hash) {
    this.dir = dir;
    this.bundle = bundle;
    this.meta = meta;
    this.hash = hash;
  }

  /**
   * Loads a feature network; a missing folder says how to train one.
   *
   * @param howToTrain the command line that would train it (for the error message)
   */
  public static FeatureModel load(Path dir, String howToTrain) {
    if (!Files.isRegularFile(dir.resolve("saved_model.pb"))) {
      throw new IllegalArgumentException("no feature network at " + dir + " (no saved_model.pb); train one with: "
          + howToTrain);
    }
    Path metaFile = dir.resolve(FeatureTrainer.METADATA);
    if (!Files.isRegularFile(metaFile)) {
      throw new IllegalArgumentException(dir + " is a SavedModel but not a ddpm4j feature network (no "
          + FeatureTrainer.METADATA + ")");
    }
    JsonNode meta;
    try {
      meta = new ObjectMapper().readTree(metaFile.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(metaFile + ": unreadable metadata: " + e.getMessage(), e);
    }
    String hash = hash(dir);
    SavedModelBundle b;
    try {
      b = SavedModelBundle.load(dir.toString(), SavedModelBundle.DEFAULT_TAG);
    } catch (TensorFlowException | IllegalArgumentException e) {
      throw new IllegalArgumentException(dir + ": TensorFlow cannot load this SavedModel: " + e.getMessage(), e);
    }
    if (b.signatures().stream().noneMatch(s -> s.key().equals("features"))) {
      b.close();
      throw new IllegalArgumentException(dir + ": no 'features' signature");
    }
    return new FeatureModel(dir, b, meta, hash);
  }

  /** Where {@code features train} writes, and {@code eval} looks for, a dataset's feature network by default. */
  public static Path defaultDir(dev.ddpm4j.config.ExperimentConfig.Data data) {
    return Path.of(data.path(), "features");
  }

  public Path dir() {
    return dir;
  }

  public int imageSize() {
    return meta.path("image_size").asInt();
  }

  public int channels() {
    return meta.path("channels").asInt();
  }

  public List<String> classNames() {
    List<String> out = new ArrayList<>();
    meta.path("classes").forEach(n -> out.add(n.asText()));
    return out;
  }

  public double testAccuracy() {
    return meta.path("test_accuracy").asDouble();
  }

  /** SHA-256 over the network's files (graph, variables, metadata): what cached statistics are keyed by. */
  public String hash() {
    return hash;
  }

  /**
   * Features and logits of n images of imageSize x imageSize x channels bytes each. Calls from several threads run one
   * at a time, as DiffusionSampler's do: two calls at once in one session of a ddpm4j export raced in TensorFlow's
   * oneDNN convolution kernels. (Four threads on the shipped feature network gave right answers without the lock, in
   * two tries; it holds no convolution with a fused residual add, the kernel seen racing. The lock costs nothing.)
   */
  public synchronized Output apply(byte[] pixels, int n) {
    int s = imageSize();
    int c = channels();
    int per = s * s * c;
    if ((long) n * per != pixels.length) {
      throw new IllegalArgumentException(pixels.length + " bytes are not " + n + " images of " + s + "x" + s + "x" + c);
    }
    int k = classNames().size();
    float[] features = new float[n * FeatureNet.WIDTH];
    float[] logits = new float[n * k];
    for (int from = 0; from < n; from += BATCH) {
      int m = Math.min(BATCH, n - from);
      try (TUint8 x = TUint8.tensorOf(Shape.of(m, s, s, c))) {
        x.asRawTensor().data().write(java.util.Arrays.copyOfRange(pixels, from * per, (from + m) * per));
        try (Result r = bundle.function("features").call(Map.of("images", x))) {
          float[] f = new float[m * FeatureNet.WIDTH];
          float[] l = new float[m * k];
          ((TFloat32) r.get("features").orElseThrow()).asRawTensor().data().asFloats().read(f);
          ((TFloat32) r.get("logits").orElseThrow()).asRawTensor().data().asFloats().read(l);
          System.arraycopy(f, 0, features, from * FeatureNet.WIDTH, f.length);
          System.arraycopy(l, 0, logits, from * k, l.length);
        }
      }
    }
    return new Output(new Features(features, n, FeatureNet.WIDTH), logits, k, detailSpace().apply(pixels, n));
  }

  private synchronized DetailSpace detailSpace() {
    if (detail == null) detail = new DetailSpace(imageSize(), channels(), DetailSpace.weightsOf(bundle.graph(), bundle.session()));
    return detail;
  }

  static String hash(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Path p : s.filter(Files::isRegularFile).filter(p -> definesTheNetwork(dir.relativize(p))).sorted().toList()) {
        md.update(dir.relativize(p).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        md.update(Files.readAllBytes(p));
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The files a feature network's outputs depend on: the SavedModel ({@code saved_model.pb}, {@code variables/},
   * {@code assets/}) and ddpm4j's metadata ({@code assets.extra/}). Not its README, its calibration or the cached real
   * features beside them: editing a note must not make the calibration look as if it was made for another network.
   */
  static boolean definesTheNetwork(Path relative) {
    String first = relative.getName(0).toString();
    return relative.getNameCount() == 1 ? first.equals("saved_model.pb")
        : first.equals("variables") || first.equals("assets") || first.equals("assets.extra");
  }

  @Override
  public synchronized void close() {
    if (detail != null) detail.close();
    bundle.close();
  }
}
