package dev.ddpm4j.data;

import dev.ddpm4j.config.ExperimentConfig;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import org.apache.commons.imaging.ImageFormats;
import org.apache.commons.imaging.Imaging;

/**
 * Every PNG/JPEG/BMP/GIF/TIFF under a root folder, recursively (TinyImageNet's {@code train/<wnid>/images/*.JPEG}
 * included), decoded with Commons Imaging, converted to the configured channel count and brought to the configured
 * size. Labels are the first folder level under the root (class names come from every file, so both splits share
 * them).
 *
 * <p>{@code data.split} chooses the images: a folder has no test split of its own, so a fixed tenth of its files is
 * held out ({@code test}) and the rest is for training ({@code train}); {@code all} reads every file. A file is held out when the SHA-256 of
 * {@value #HOLDOUT_SALT} and its path relative to the root (with '/') falls in the lowest tenth: the same files on every
 * machine and for every run, and adding or removing files never moves another file between the splits. Training never
 * reads a held-out file.
 */
public final class ImageFolder {
  private static final Logger LOG = Logger.getLogger(ImageFolder.class.getName());
  public static final Set<String> READABLE = Set.of("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff");
  /** Image formats we recognize by name but cannot decode: an error (or a skip), never silently ignored. */
  public static final Set<String> UNSUPPORTED = Set.of("webp", "heic", "heif", "avif", "jxl", "jp2", "svg", "ico",
      "psd", "pcx", "pnm", "pgm", "ppm", "pbm", "xpm", "dcx", "wbmp");

  public static final String HOLDOUT_SALT = "ddpm4j-holdout-v1:";
  /** The held-out share in thousandths. */
  public static final int HOLDOUT_PER_MILLE = 100;

  private ImageFolder() {}

  /** Whether a file (its path relative to the folder root, '/'-separated) is held out of training. */
  public static boolean heldOut(String relative) {
    return bucket(relative) < HOLDOUT_PER_MILLE;
  }

  private static long bucket(String relative) {
    try {
      byte[] h = java.security.MessageDigest.getInstance("SHA-256")
          .digest((HOLDOUT_SALT + relative).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      long v = 0;
      for (int i = 0; i < 8; i++) v = (v << 8) | (h[i] & 0xff);
      return Long.remainderUnsigned(v, 1000);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A file's path under the root as the split rule sees it. */
  public static String relative(Path root, Path file) {
    Path rel = root.relativize(file);
    StringBuilder b = new StringBuilder();
    for (Path part : rel) b.append(b.length() == 0 ? "" : "/").append(part);
    return b.toString();
  }

  /**
   * The held-out files among {@code files} (relative paths): those {@link #heldOut} picks; should a small folder get
   * none, the one with the lowest hash (so at least one image is held out of any folder of 2 or more).
   */
  public static java.util.Set<String> heldOutOf(List<String> files) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    for (String f : files) if (heldOut(f)) out.add(f);
    if (out.isEmpty() && files.size() >= 2) {
      out.add(files.stream().min(java.util.Comparator.comparingLong(ImageFolder::bucket)
          .thenComparing(java.util.Comparator.naturalOrder())).orElseThrow());
    }
    return out;
  }

  public static String extension(Path p) {
    String n = p.getFileName().toString();
    int dot = n.lastIndexOf('.');
    return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  public static Dataset load(ExperimentConfig.Data cfg) {
    Path root = Path.of(cfg.path());
    if (!Files.exists(root)) throw new DataException(root, "image folder not found (data.path)");
    if (!Files.isDirectory(root)) throw new DataException(root, "data.path must be a folder of images");
    List<Path> files = list(root);
    TreeMap<String, Integer> classes = new TreeMap<>();
    for (Path f : files) classes.putIfAbsent(labelOf(root, f), 0);
    java.util.Set<String> held = heldOutOf(files.stream().map(f -> relative(root, f)).toList());
    boolean test = cfg.split().equals("test");
    if (!cfg.split().equals("all")) files = files.stream().filter(f -> held.contains(relative(root, f)) == test).toList();
    if (files.isEmpty()) {
      throw new DataException(root, test ? "no held-out images: a folder needs at least 2 images to hold one out"
          : "every image is held out; a folder needs at least 2 images");
    }
    if (cfg.limit() > 0 && files.size() > cfg.limit()) files = files.subList(0, cfg.limit());

    List<String> classNames = new ArrayList<>(classes.keySet());
    for (int i = 0; i < classNames.size(); i++) classes.put(classNames.get(i), i);

    int size = cfg.imageSize();
    int c = cfg.channels();
    int per = size * size * c;
    byte[][] decoded = new byte[files.size()][];
    boolean[] transparent = new boolean[files.size()];
    DataException[] errors = new DataException[files.size()];
    List<Path> all = files;
    int[] background = cfg.background().stream().mapToInt(Integer::intValue).toArray();
    IntStream.range(0, files.size()).parallel().forEach(i -> {
      try {
        Decoded d = read(all.get(i), c, size, cfg.resize(), background);
        decoded[i] = d.pixels();
        transparent[i] = d.transparent();
      } catch (DataException e) {
        errors[i] = e;
      }
    });
    int skipped = 0;
    List<Integer> kept = new ArrayList<>();
    List<DataException> bad = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      if (errors[i] == null) {
        kept.add(i);
      } else if (cfg.skipBadFiles()) {
        skipped++;
        LOG.warning("skipping " + errors[i].getMessage());
      } else {
        bad.add(errors[i]);
      }
    }
    if (!bad.isEmpty()) throw badFiles(bad, files.size(), classes.size());
    if (kept.isEmpty()) throw new DataException(root, "all " + files.size() + " image files were unreadable and skipped");
    byte[] pixels = new byte[kept.size() * per];
    int[] labels = new int[kept.size()];
    int withAlpha = 0;
    for (int j = 0; j < kept.size(); j++) {
      int i = kept.get(j);
      System.arraycopy(decoded[i], 0, pixels, j * per, per);
      labels[j] = classes.get(labelOf(root, files.get(i)));
      if (transparent[i]) withAlpha++;
    }
    return new Dataset(root.getFileName().toString(), pixels, labels, kept.size(), size, size, c, classNames, skipped,
        withAlpha);
  }

  /** How many bad files one error lists by name. */
  static final int LISTED_BAD_FILES = 10;

  /**
   * One error for every bad file of a folder: the first's path and problem, then up to {@link #LISTED_BAD_FILES} more
   * by name, how many there are, and what was found otherwise.
   */
  static DataException badFiles(List<DataException> bad, int files, int classes) {
    DataException first = bad.get(0);
    StringBuilder m = new StringBuilder(first.getMessage().substring(first.file().toString().length() + 2));
    if (bad.size() > 1) {
      m.append("; ").append(bad.size() - 1).append(" more bad file").append(bad.size() > 2 ? "s" : "").append(": ");
      for (int k = 1; k < Math.min(bad.size(), LISTED_BAD_FILES + 1); k++) {
        m.append(k > 1 ? "; " : "").append(bad.get(k).getMessage());
      }
      if (bad.size() > LISTED_BAD_FILES + 1) m.append("; ... (").append(bad.size() - LISTED_BAD_FILES - 1).append(" not listed)");
    }
    m.append(String.format(" (%d of %d image files in %d class folder%s are bad; set data.skip_bad_files: true to skip "
        + "them)", bad.size(), files, classes, classes == 1 ? "" : "s"));
    return new DataException(first.file(), m.toString());
  }

  /**
   * Every regular file under a folder, sorted: symbolic links followed (a class folder may be a link), and hidden
   * files and folders (a name starting with '.', such as {@code .ipynb_checkpoints} or {@code .git}) left out, so
   * that they neither become classes nor images. Training, the held-out split, eval and the feature cache all list a
   * folder with this.
   */
  public static List<Path> files(Path root) throws IOException {
    List<Path> out = new ArrayList<>();
    Files.walkFileTree(root, java.util.EnumSet.of(java.nio.file.FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE,
        new java.nio.file.SimpleFileVisitor<>() {
          @Override
          public java.nio.file.FileVisitResult preVisitDirectory(Path dir,
              java.nio.file.attribute.BasicFileAttributes attrs) {
            return !dir.equals(root) && hidden(dir) ? java.nio.file.FileVisitResult.SKIP_SUBTREE
                : java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFile(Path file, java.nio.file.attribute.BasicFileAttributes attrs) {
            if (attrs.isRegularFile() && !hidden(file)) out.add(file);
            return java.nio.file.FileVisitResult.CONTINUE;
          }

          @Override
          public java.nio.file.FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
            // a link back up the tree (all -> .) is listed once, through its real path, not followed forever
            if (e instanceof java.nio.file.FileSystemLoopException) return java.nio.file.FileVisitResult.CONTINUE;
            throw e;
          }
        });
    out.sort(null);
    return out;
  }

  private static boolean hidden(Path p) {
    return p.getFileName() != null && p.getFileName().toString().startsWith(".");
  }

  /** Every image file under the root, sorted (the unsupported formats included, to be reported). */
  private static List<Path> list(Path root) {
    List<Path> files;
    try {
      files = files(root).stream()
          .filter(p -> READABLE.contains(extension(p)) || UNSUPPORTED.contains(extension(p))).toList();
    } catch (IOException e) {
      throw new DataException(root, "cannot list folder: " + e.getMessage(), e);
    }
    if (files.isEmpty()) {
      throw new DataException(root, "no images found (looked for " + new java.util.TreeSet<>(READABLE) + " recursively)");
    }
    return files;
  }

  /** The split of a folder's files, as paths relative to the root: what a run stores in its split.json. */
  public record Split(List<String> train, List<String> heldOut) {}

  public static Split split(ExperimentConfig.Data cfg) {
    Path root = Path.of(cfg.path());
    if (!Files.isDirectory(root)) throw new DataException(root, "image folder not found (data.path)");
    List<String> all = list(root).stream().map(f -> relative(root, f)).toList();
    java.util.Set<String> held = heldOutOf(all);
    return new Split(all.stream().filter(f -> !held.contains(f)).toList(), List.copyOf(held));
  }

  private static String labelOf(Path root, Path file) {
    Path rel = root.relativize(file);
    return rel.getNameCount() > 1 ? rel.getName(0).toString() : "";
  }

  /** One decoded file: its pixels, and whether it had any pixel that was not fully opaque. */
  record Decoded(byte[] pixels, boolean transparent) {}

  /**
   * Decodes one file to {@code channels} x {@code size} x {@code size} bytes, transparency composited onto
   * {@code background} (RGB, 0-255), or throws naming the file.
   */
  static Decoded read(Path file, int channels, int size, String resize, int[] background) {
    String ext = extension(file);
    if (UNSUPPORTED.contains(ext) || !READABLE.contains(ext)) {
      throw new DataException(file, "unsupported image format '." + ext + "' (readable: " + new java.util.TreeSet<>(READABLE) + ")");
    }
    BufferedImage img = decode(file);
    int w = img.getWidth();
    int h = img.getHeight();
    Decoded rgb = toRgb(img, background);
    byte[] px = channels == 3 ? rgb.pixels() : Pixels.rgbToGray(rgb.pixels());
    return new Decoded(fit(px, w, h, channels, size, resize, file), rgb.transparent());
  }

  /**
   * Decodes one image that must already have the given size and number of colour channels, with no resizing or
   * conversion (images being scored must be compared like with like). Grey PNGs count as 1 channel, RGB, RGBA and
   * palette images as 3; alpha is composited onto black. Throws naming the file.
   */
  public static byte[] readExact(Path file, int channels, int size) {
    String ext = extension(file);
    if (!READABLE.contains(ext)) {
      throw new DataException(file, "unsupported image format '." + ext + "' (readable: " + new java.util.TreeSet<>(READABLE) + ")");
    }
    BufferedImage img = decode(file);
    if (img.getWidth() != size || img.getHeight() != size) {
      throw new DataException(file, "image is " + img.getWidth() + "x" + img.getHeight() + ", expected " + size + "x"
          + size);
    }
    int have = img.getColorModel().getNumColorComponents() == 1 ? 1 : 3;
    if (have != channels) {
      throw new DataException(file, "image has " + have + " colour channel" + (have == 1 ? " (grey)" : "s (RGB)")
          + ", expected " + channels);
    }
    byte[] rgb = toRgb(img, BLACK).pixels();
    return channels == 3 ? rgb : Pixels.rgbToGray(rgb);
  }

  /** Images read by {@link #readAllExact}: their bytes (NHWC), how many, and how many files were skipped. */
  public record Exact(byte[] pixels, int count, int skipped) {}

  /**
   * Every readable image under a folder, recursively, in sorted order (hidden files and the {@code grid.png} that
   * {@code sample --grid} writes beside its images left out), each decoded by {@link #readExact}.
   *
   * @param limit at most this many (the first in sorted order); null for all
   * @param skipBad skip unreadable or wrongly shaped files and count them, instead of failing on the first
   */
  public static Exact readAllExact(Path dir, int channels, int size, Integer limit, boolean skipBad) {
    if (!Files.isDirectory(dir)) throw new DataException(dir, "no such folder (--images)");
    List<Path> files;
    try {
      files = files(dir).stream().filter(p -> !p.getFileName().toString().equals("grid.png"))
          .filter(p -> READABLE.contains(extension(p))).toList();
    } catch (IOException e) {
      throw new DataException(dir, "cannot list: " + e.getMessage(), e);
    }
    if (files.isEmpty()) throw new DataException(dir, "no images found (--images)");
    if (limit != null && files.size() > limit) files = files.subList(0, limit);
    int per = size * size * channels;
    byte[] px = new byte[files.size() * per];
    int kept = 0;
    int skipped = 0;
    for (Path f : files) {
      try {
        System.arraycopy(readExact(f, channels, size), 0, px, kept * per, per);
        kept++;
      } catch (DataException e) {
        if (!skipBad) throw new DataException(e.file(), e.getMessage().substring(e.file().toString().length() + 2)
            + " (--skip-bad skips such files)");
        skipped++;
      }
    }
    return new Exact(java.util.Arrays.copyOf(px, kept * per), kept, skipped);
  }

  /** Brings an image to size x size: pad (must fit), resize (any size, aspect ignored) or crop (shorter side to size). */
  static byte[] fit(byte[] px, int w, int h, int c, int size, String mode, Path file) {
    switch (mode) {
      case "pad":
        if (w > size || h > size) {
          throw new DataException(file, "image is " + w + "x" + h + ", larger than the target " + size + "x" + size
              + " and data.resize is pad; use crop or resize");
        }
        return Pixels.pad(px, w, h, c, size);
      case "resize":
        return Pixels.resize(px, w, h, c, size, size);
      default:
        if (w < size || h < size) {
          throw new DataException(file, "image is " + w + "x" + h + ", smaller than the target " + size + "x" + size);
        }
        int sw = w;
        int sh = h;
        if (Math.min(w, h) != size) {
          double s = (double) size / Math.min(w, h);
          sw = Math.max(size, (int) Math.round(w * s));
          sh = Math.max(size, (int) Math.round(h * s));
          px = Pixels.resize(px, w, h, c, sw, sh);
        }
        return Pixels.centerCrop(px, sw, sh, c, size, size);
    }
  }

  private static BufferedImage decode(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new DataException(file, "cannot read: " + e.getMessage(), e);
    }
    if (bytes.length == 0) throw new DataException(file, "empty file");
    ImageFormats format;
    try {
      format = (ImageFormats) Imaging.guessFormat(bytes);
    } catch (IOException | RuntimeException e) {
      format = ImageFormats.UNKNOWN;
    }
    if (format == ImageFormats.UNKNOWN) {
      throw new DataException(file, "unrecognized or corrupt image data (not a PNG/JPEG/BMP/GIF/TIFF)");
    }
    // javax.imageio first: its readers hand over the stored samples (a grey PNG's raster holds the file's bytes).
    // Commons Imaging converts grey images through a linear colour space (a stored 1 reads back as 0), so it is only
    // the fallback for files javax.imageio cannot decode (CMYK JPEG, some TIFF variants).
    Exception first;
    try {
      StrictReader.Result r = StrictReader.read(bytes);
      if (r.truncated()) throw new DataException(file, "corrupt or truncated " + format.getName() + " data");
      if (r.image() != null) return r.image();
      first = new IOException("no javax.imageio reader");
    } catch (DataException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      first = e;
    }
    LOG.log(Level.FINE, () -> "javax.imageio could not decode " + file + ", using Commons Imaging");
    try {
      BufferedImage img = Imaging.getBufferedImage(bytes);
      if (img != null) return img;
    } catch (IOException | RuntimeException e) {
      // reported below with javax.imageio's reason
    }
    throw new DataException(file, "corrupt or truncated " + format.getName() + " data: " + first.getMessage());
  }

  private static final int[] BLACK = {0, 0, 0};

  /**
   * Interleaved 8-bit RGB, and whether any pixel was not fully opaque; transparency is composited onto {@code
   * background} ({@link #over}); single-band gray is read as stored (no color management).
   */
  static Decoded toRgb(BufferedImage img, int[] background) {
    int w = img.getWidth();
    int h = img.getHeight();
    byte[] out = new byte[w * h * 3];
    Raster r = img.getRaster();
    int bands = r.getNumBands();
    boolean gray = img.getColorModel().getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY;
    if (gray && (bands == 1 || bands == 2) && r.getSampleModel().getSampleSize(0) <= 16) {
      int bits = r.getSampleModel().getSampleSize(0);
      int max = (1 << bits) - 1;
      int[] v = r.getSamples(0, 0, w, h, 0, (int[]) null);
      int[] a = bands == 2 ? r.getSamples(0, 0, w, h, 1, (int[]) null) : null;
      boolean transparent = false;
      for (int i = 0; i < w * h; i++) {
        double g = v[i] * 255.0 / max;
        if (a != null && a[i] < max) transparent = true;
        for (int k = 0; k < 3; k++) out[3 * i + k] = (byte) (a == null ? Math.round(g) : over(g, a[i], max, background[k]));
      }
      return new Decoded(out, transparent);
    }
    int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
    boolean alpha = img.getColorModel().hasAlpha();
    boolean transparent = false;
    for (int i = 0; i < w * h; i++) {
      int p = argb[i];
      int a = alpha ? (p >>> 24) : 255;
      if (a < 255) transparent = true;
      for (int k = 0; k < 3; k++) out[3 * i + k] = (byte) over((p >> (16 - 8 * k)) & 0xff, a, 255, background[k]);
    }
    return new Decoded(out, transparent);
  }

  /** A value {@code c} (0-255) at alpha {@code a} of {@code max} over {@code background}: c a + b (1 - a), rounded. */
  private static long over(double c, int a, int max, int background) {
    return Math.round((c * a + background * (max - a)) / max);
  }

  /** javax.imageio reading that reports truncation (ImageIO's JPEG reader only warns about it). */
  static final class StrictReader {
    record Result(BufferedImage image, boolean truncated) {}

    static Result read(byte[] bytes) throws IOException {
      try (javax.imageio.stream.ImageInputStream in = ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(bytes))) {
        var readers = ImageIO.getImageReaders(in);
        if (!readers.hasNext()) return new Result(null, false);
        javax.imageio.ImageReader reader = readers.next();
        AtomicInteger warnings = new AtomicInteger();
        try {
          reader.setInput(in);
          reader.addIIOReadWarningListener((src, msg) -> warnings.incrementAndGet());
          BufferedImage img = reader.read(0);
          return new Result(img, warnings.get() > 0);
        } finally {
          reader.dispose();
        }
      }
    }
  }
}
