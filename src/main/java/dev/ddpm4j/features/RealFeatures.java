package dev.ddpm4j.features;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Splits;
import dev.ddpm4j.metrics.Detail;
import dev.ddpm4j.metrics.Features;
import dev.ddpm4j.metrics.GaussianStats;
import dev.ddpm4j.metrics.PixelHistogram;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.function.Consumer;
import org.ejml.data.DMatrixRMaj;

/**
 * The feature-network features of a dataset's real images, training and held-out, in both feature spaces (the
 * classifier's and {@link DetailSpace}), the reference statistics (mean and covariance) of the held-out ones, and each
 * image's Laplacian variance ({@link Detail}, model-free). Computed once and cached in {@code <feature network>/cache/}, in a file keyed by
 * a SHA-256 of the feature network's files, the data files and the data settings: when either changes, the key changes
 * and the features are recomputed.
 */
public final class RealFeatures {
  public static final String CACHE = "cache";
  private static final int MAGIC = 0xDD4F_EA04;

  private final Features train;
  private final Features test;
  private final int[] trainLabels;
  private final int[] testLabels;
  private final float[] trainLogits;
  private final float[] testLogits;
  private final int classes;
  private final GaussianStats testStats;
  private final Features trainDetail;
  private final Features testDetail;
  private final GaussianStats testDetailStats;
  private final double[] trainLaplacian;
  private final double[] testLaplacian;
  private final Features trainHistogram;
  private final Features testHistogram;
  private final String testDescription;
  private final Path cacheFile;
  private final boolean fromCache;
  /** Set by {@link #of} from the data config, never cached: the same images serve models trained on either split. */
  private java.util.Optional<String> trainedOnHeldOut = java.util.Optional.empty();

  private RealFeatures(Features train, Features test, int[] trainLabels, int[] testLabels, float[] trainLogits,
      float[] testLogits, int classes, GaussianStats testStats, Features trainDetail, Features testDetail,
      GaussianStats testDetailStats, double[] trainLaplacian, double[] testLaplacian, Features trainHistogram,
      Features testHistogram, String testDescription, Path cacheFile, boolean fromCache) {
    this.train = train;
    this.test = test;
    this.trainLabels = trainLabels;
    this.testLabels = testLabels;
    this.trainLogits = trainLogits;
    this.testLogits = testLogits;
    this.classes = classes;
    this.testStats = testStats;
    this.trainDetail = trainDetail;
    this.testDetail = testDetail;
    this.testDetailStats = testDetailStats;
    this.trainLaplacian = trainLaplacian;
    this.testLaplacian = testLaplacian;
    this.trainHistogram = trainHistogram;
    this.testHistogram = testHistogram;
    this.testDescription = testDescription;
    this.cacheFile = cacheFile;
    this.fromCache = fromCache;
  }

  /** From the cache when its key matches, else computed (and cached). */
  public static RealFeatures of(FeatureModel model, ExperimentConfig.Data data, long seed, Consumer<String> log) {
    if (data.imageSize() != model.imageSize() || data.channels() != model.channels()) {
      throw new IllegalArgumentException("the feature network at " + model.dir() + " takes " + model.imageSize() + "x"
          + model.imageSize() + "x" + model.channels() + " images; the data is " + data.imageSize() + "x"
          + data.imageSize() + "x" + data.channels());
    }
    Path file = model.dir().resolve(CACHE).resolve("real-" + cacheKey(model, data, seed) + ".bin");
    if (Files.isRegularFile(file)) {
      try {
        RealFeatures cached = read(file);
        cached.trainedOnHeldOut = Splits.trainedOnHeldOut(data);
        return cached;
      } catch (IOException | RuntimeException e) {
        log.accept("cached features " + file + " unreadable (" + e.getMessage() + "); recomputing");
      }
    }
    long t0 = System.nanoTime();
    Splits splits = Splits.of(data, seed);
    log.accept(String.format("computing features of %d training and %d held-out real images (cached afterwards)",
        splits.train().size(), splits.test().size()));
    FeatureModel.Output tr = model.apply(splits.train().pixels(), splits.train().size());
    FeatureModel.Output te = model.apply(splits.test().pixels(), splits.test().size());
    Detail region = region(data);
    RealFeatures r = new RealFeatures(tr.features(), te.features(), splits.train().labels(), splits.test().labels(),
        tr.logits(), te.logits(), tr.classes(), GaussianStats.of(te.features()), tr.detail(), te.detail(),
        GaussianStats.of(te.detail()), laplacian(region, splits.train()), laplacian(region, splits.test()),
        histogram(region, splits.train()), histogram(region, splits.test()), splits.testDescription(), file, false);
    try {
      r.write(file);
      log.accept(String.format("real features in %.1fs, cached in %s", (System.nanoTime() - t0) / 1e9, file));
    } catch (IOException e) {
      log.accept("could not cache real features in " + file + ": " + e.getMessage());
    }
    r.trainedOnHeldOut = Splits.trainedOnHeldOut(data);
    return r;
  }

  /**
   * The region of an image the detail statistic looks at: a Fashion-MNIST image's own 28x28 when it was padded into a
   * larger square (the padding has no detail to compare), else the whole image.
   */
  public static Detail region(ExperimentConfig.Data data) {
    int[] r = dev.ddpm4j.data.Datasets.ownRegion(data);
    return new Detail(r[0], r[1]);
  }

  private static double[] laplacian(Detail region, Dataset d) {
    return region.perImage(d.pixels(), d.size(), d.height(), d.width(), d.channels());
  }

  private static Features histogram(Detail region, Dataset d) {
    return PixelHistogram.perImage(d.pixels(), d.size(), d.height(), d.width(), d.channels(), region);
  }

  /** The data's files, without decoding any image: what the cache key needs (none for synthetic data). */
  private static java.util.List<Path> filesOf(ExperimentConfig.Data data) {
    return switch (data.kind()) {
      case "fashion_mnist" -> Splits.fashionMnistFiles(Path.of(data.path()));
      case "image_folder" -> Splits.folderFiles(data);
      default -> java.util.List.of();
    };
  }

  /** What the cached features and a calibration are keyed by: {@link #key}'s first 24 hex digits. */
  static String cacheKey(FeatureModel model, ExperimentConfig.Data data, long seed) {
    return key(model, data, seed, filesOf(data)).substring(0, 24);
  }

  static String key(FeatureModel model, ExperimentConfig.Data data, long seed, java.util.List<Path> files) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(model.hash().getBytes(StandardCharsets.UTF_8));
      String settings = String.join("|", data.kind(), String.valueOf(data.imageSize()), String.valueOf(data.channels()),
          data.resize(), String.valueOf(data.limit()), data.synthetic().toString(),
          data.kind().equals("synthetic") ? String.valueOf(seed) : "");
      // transparency composited onto another background gives other pixels, so other real features
      if (data.kind().equals("image_folder")) settings += "|background=" + data.background();
      md.update(settings.getBytes(StandardCharsets.UTF_8));
      for (Path f : files) {
        md.update(f.toString().getBytes(StandardCharsets.UTF_8));
        md.update(Files.readAllBytes(f));
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + e.getMessage(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public Features train() {
    return train;
  }

  public Features test() {
    return test;
  }

  public int[] trainLabels() {
    return trainLabels.clone();
  }

  public int[] testLabels() {
    return testLabels.clone();
  }

  /** The feature network's logits of the training images (n x classes). */
  public float[] trainLogits() {
    return trainLogits;
  }

  public float[] testLogits() {
    return testLogits;
  }

  public int classes() {
    return classes;
  }

  /** Mean and covariance of the held-out images' features: FID's reference. */
  public GaussianStats testStats() {
    return testStats;
  }

  /** Detail features ({@link DetailSpace}) of the training images. */
  public Features trainDetail() {
    return trainDetail;
  }

  public Features testDetail() {
    return testDetail;
  }

  /** Mean and covariance of the held-out images' detail features: FID's reference in that space. */
  public GaussianStats testDetailStats() {
    return testDetailStats;
  }

  /** Each training image's Laplacian variance ({@link Detail}). */
  public double[] trainLaplacian() {
    return trainLaplacian;
  }

  /** Each held-out image's Laplacian variance: the detail ratio's reference. */
  public double[] testLaplacian() {
    return testLaplacian;
  }

  /** Each training image's pixel histogram ({@link PixelHistogram}). */
  public Features trainHistogram() {
    return trainHistogram;
  }

  /** Each held-out image's pixel histogram: the histogram distance's reference. */
  public Features testHistogram() {
    return testHistogram;
  }

  /** {@link Splits#trainedOnHeldOut}: a warning when the model these features score trained on the held-out images. */
  public java.util.Optional<String> trainedOnHeldOut() {
    return trainedOnHeldOut;
  }

  public String testDescription() {
    return testDescription;
  }

  /** The key the features are cached by (network, data files and settings): what a calibration is valid for. */
  public String key() {
    String f = cacheFile.getFileName().toString();
    return f.substring("real-".length(), f.length() - ".bin".length());
  }

  public Path cacheFile() {
    return cacheFile;
  }

  public boolean fromCache() {
    return fromCache;
  }

  private void write(Path file) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(".tmp-" + file.getFileName() + "-" + ProcessHandle.current().pid());
    try (DataOutputStream o = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16))) {
      o.writeInt(MAGIC);
      o.writeUTF(testDescription);
      o.writeInt(classes);
      writeSet(o, train, trainLabels, trainLogits);
      writeSet(o, test, testLabels, testLogits);
      writeStats(o, testStats);
      writeFeatures(o, trainDetail);
      writeFeatures(o, testDetail);
      writeStats(o, testDetailStats);
      writeDoubles(o, trainLaplacian);
      writeDoubles(o, testLaplacian);
      writeFeatures(o, trainHistogram);
      writeFeatures(o, testHistogram);
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void writeSet(DataOutputStream o, Features f, int[] labels, float[] logits) throws IOException {
    writeFeatures(o, f);
    for (int l : labels) o.writeInt(l);
    for (float v : logits) o.writeFloat(v);
  }

  private static void writeFeatures(DataOutputStream o, Features f) throws IOException {
    o.writeInt(f.n());
    o.writeInt(f.d());
    for (float v : f.values()) o.writeFloat(v);
  }

  private static Features readFeatures(DataInputStream in) throws IOException {
    int n = in.readInt();
    int d = in.readInt();
    float[] v = new float[n * d];
    for (int i = 0; i < v.length; i++) v[i] = in.readFloat();
    return new Features(v, n, d);
  }

  private static void writeStats(DataOutputStream o, GaussianStats s) throws IOException {
    o.writeInt(s.mean().length);
    for (double v : s.mean()) o.writeDouble(v);
    for (double v : s.covariance().getData()) o.writeDouble(v);
    o.writeInt(s.n());
  }

  private static GaussianStats readStats(DataInputStream in) throws IOException {
    int d = in.readInt();
    double[] mean = new double[d];
    for (int k = 0; k < d; k++) mean[k] = in.readDouble();
    double[] cov = new double[d * d];
    for (int k = 0; k < cov.length; k++) cov[k] = in.readDouble();
    return new GaussianStats(mean, new DMatrixRMaj(d, d, true, cov), in.readInt());
  }

  private static void writeDoubles(DataOutputStream o, double[] v) throws IOException {
    o.writeInt(v.length);
    for (double x : v) o.writeDouble(x);
  }

  private static double[] readDoubles(DataInputStream in) throws IOException {
    double[] v = new double[in.readInt()];
    for (int i = 0; i < v.length; i++) v[i] = in.readDouble();
    return v;
  }

  private static RealFeatures read(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
      if (in.readInt() != MAGIC) throw new IOException("not a ddpm4j feature cache");
      String description = in.readUTF();
      int classes = in.readInt();
      int[][] labels = new int[2][];
      float[][] logits = new float[2][];
      Features train = readSet(in, classes, labels, logits, 0);
      Features test = readSet(in, classes, labels, logits, 1);
      GaussianStats testStats = readStats(in);
      Features trainDetail = readFeatures(in);
      Features testDetail = readFeatures(in);
      GaussianStats testDetailStats = readStats(in);
      double[] trainLaplacian = readDoubles(in);
      double[] testLaplacian = readDoubles(in);
      Features trainHistogram = readFeatures(in);
      Features testHistogram = readFeatures(in);
      return new RealFeatures(train, test, labels[0], labels[1], logits[0], logits[1], classes, testStats, trainDetail,
          testDetail, testDetailStats, trainLaplacian, testLaplacian, trainHistogram, testHistogram, description, file,
          true);
    }
  }

  private static Features readSet(DataInputStream in, int classes, int[][] labels, float[][] logits, int slot)
      throws IOException {
    Features f = readFeatures(in);
    int n = f.n();
    int[] l = new int[n];
    for (int i = 0; i < n; i++) l[i] = in.readInt();
    float[] g = new float[n * classes];
    for (int i = 0; i < g.length; i++) g[i] = in.readFloat();
    labels[slot] = l;
    logits[slot] = g;
    return f;
  }
}
