package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class NormalizerTest {
  private static byte[] allValues(int channels) {
    byte[] p = new byte[256 * channels];
    for (int i = 0; i < p.length; i++) p[i] = (byte) ((i / channels + 37 * (i % channels)) & 0xff);
    return p;
  }

  @Test
  void minusOneOneKnownValuesAndExactInverse() {
    Normalizer n = Normalizer.of(ExperimentConfig.defaults(List.of()).data());
    byte[] p = allValues(1);
    float[] x = new float[256];
    n.normalize(p, 0, x, 0, 256);
    assertEquals(-1.0f, x[0], 0f);
    assertEquals(1.0f, x[255], 1e-7f);
    assertEquals(128 / 127.5 - 1, x[128], 1e-7);
    assertArrayEquals(p, n.toPixels(x));
    assertEquals(-1.0, n.low(0), 0);
    assertEquals(1.0, n.high(0), 1e-12);
  }

  @Test
  void meanStdKnownValuesAndExactInverse() {
    ExperimentConfig.Data cfg = ExperimentConfig.load(java.nio.file.Path.of("configs/tiny-imagenet-64.yaml"), List.of()).data();
    Normalizer n = Normalizer.of(cfg);
    byte[] p = allValues(3);
    float[] x = new float[p.length];
    n.normalize(p, 0, x, 0, p.length);
    // pixel 0 in channel 0 -> (0 - 0.485) / 0.229
    assertEquals(-0.485 / 0.229, x[0], 1e-6);
    // pixel 255 in channel 2 -> (1 - 0.406) / 0.225
    int idx = -1;
    for (int i = 0; i < p.length; i++) if (i % 3 == 2 && (p[i] & 0xff) == 255) idx = i;
    assertEquals((1 - 0.406) / 0.225, x[idx], 1e-6);
    assertArrayEquals(p, n.toPixels(x));
    assertEquals((1 - 0.456) / 0.224, n.high(1), 1e-12);
    assertArrayEquals(new double[] {-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225}, n.lows(), 1e-12);
    assertArrayEquals(new double[] {(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225}, n.highs(), 1e-12);
  }

  @Test
  void inverseClampsAndRounds() {
    Normalizer n = Normalizer.of(ExperimentConfig.defaults(List.of()).data());
    byte[] p = n.toPixels(new float[] {-3f, 5f, 0f, (float) (10 / 127.5 - 1 + 0.4 / 127.5)});
    assertArrayEquals(new byte[] {0, (byte) 255, (byte) 128, 10}, p);
  }
}
