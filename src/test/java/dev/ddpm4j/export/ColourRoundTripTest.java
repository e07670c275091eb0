package dev.ddpm4j.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.ImageFolder;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.sampler.GeneratedImages;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TUint8;

/**
 * Every 8-bit value of each RGB channel survives the whole path a colour image takes: PNG file -> {@link ImageFolder}
 * -> normalization -> the exported graph's inverse (and the Java one) -> PNG file -> read back, unchanged.
 */
class ColourRoundTripTest {
  @TempDir Path tmp;

  /** 64x64 = 4096 pixels; each channel runs through all 256 values, in a different order per channel. */
  static byte[] everyValue() {
    byte[] rgb = new byte[64 * 64 * 3];
    for (int i = 0; i < 64 * 64; i++) {
      rgb[3 * i] = (byte) i;
      rgb[3 * i + 1] = (byte) (255 - i);
      rgb[3 * i + 2] = (byte) (i * 37 + 11); // 37 is odd: a bijection of the 256 values
    }
    return rgb;
  }

  @ParameterizedTest
  @ValueSource(strings = {"minus_one_one", "mean_std"})
  void everyValueOfEveryChannelSurvives(String normalization) throws Exception {
    byte[] want = everyValue();
    BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < 64 * 64; i++) {
      img.setRGB(i % 64, i / 64, (want[3 * i] & 0xff) << 16 | (want[3 * i + 1] & 0xff) << 8 | (want[3 * i + 2] & 0xff));
    }
    Path root = tmp.resolve("in");
    Files.createDirectories(root.resolve("a"));
    ImageIO.write(img, "png", root.resolve("a/x.png").toFile());
    ImageIO.write(img, "png", root.resolve("a/y.png").toFile());

    ExperimentConfig.Data cfg = ExperimentConfig.defaults(List.of("data.kind=image_folder", "data.path=" + root,
        "data.image_size=64", "data.channels=3", "data.resize=crop", "data.split=all",
        "data.normalization=" + normalization, "data.mean=[0.485, 0.456, 0.406]", "data.std=[0.229, 0.224, 0.225]",
        "model.attention_resolutions=[16]"))
        .data();
    Dataset d = ImageFolder.load(cfg);
    assertEquals(2, d.size());
    byte[] loaded = java.util.Arrays.copyOf(d.pixels(), d.imageBytes());
    assertArrayEquals(want, loaded, "PNG -> ImageFolder");

    Normalizer norm = Normalizer.of(cfg);
    float[] x = new float[want.length];
    norm.normalize(loaded, 0, x, 0, want.length);
    if (normalization.equals("mean_std")) {
      // (p/255 - mean)/std: pixel 0 of the red channel is -0.485/0.229 (double reference)
      assertEquals(-0.485 / 0.229, x[0], 1e-6);
    } else {
      assertEquals(-1.0, x[0], 0);
    }
    assertArrayEquals(want, norm.toPixels(x), "Java inverse");

    byte[] fromGraph = new byte[want.length];
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Operand<TUint8> px = tf.dtypes.cast(InferenceGraph.toPixels(tf,
          tf.constant(Shape.of(1, 64, 64, 3), DataBuffers.of(x, true, false)), norm), TUint8.class);
      try (var r = s.runner().fetch(px).run(); TUint8 t = (TUint8) r.get(0)) {
        t.asRawTensor().data().read(fromGraph);
      }
    }
    assertArrayEquals(want, fromGraph, "the exported graph's inverse");

    Path png = tmp.resolve("out/x.png");
    Files.createDirectories(png.getParent());
    GeneratedImages.ofPixels(fromGraph, 1, 64, 64, 3).writePng(0, png);
    assertArrayEquals(want, ImageFolder.readExact(png, 3, 64), "written PNG read back");
  }
}
