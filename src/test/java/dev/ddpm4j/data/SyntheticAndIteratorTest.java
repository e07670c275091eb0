package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class SyntheticAndIteratorTest {
  static ExperimentConfig.Data synth(String... extra) {
    List<String> o = new java.util.ArrayList<>(List.of("data.kind=synthetic", "data.image_size=8",
        "data.synthetic.num_images=10", "model.channel_mults=[1]", "model.attention_resolutions=[]"));
    o.addAll(List.of(extra));
    return ExperimentConfig.defaults(o).data();
  }

  @Test
  void syntheticShapesAreDeterministicAndOfTheDocumentedDistribution() {
    Dataset a = Synthetic.generate(synth(), 3);
    Dataset b = Synthetic.generate(synth(), 3);
    assertArrayEquals(a.pixels(), b.pixels());
    assertFalse(Arrays.equals(a.pixels(), Synthetic.generate(synth(), 4).pixels()));
    for (int i = 0; i < a.size(); i++) {
      int lit = 0;
      for (int y = 0; y < 8; y++) {
        for (int x = 0; x < 8; x++) {
          int v = a.pixel(i, y, x, 0);
          assertTrue(v == 0 || v >= 128, "background 0, fill in [128,255]: " + v);
          if (v > 0) lit++;
        }
      }
      assertTrue(lit > 0, "every image shows its shape");
    }
  }

  @Test
  void syntheticGradientsInThreeChannels() {
    Dataset d = Synthetic.generate(synth("data.channels=3", "data.synthetic.pattern=gradients"), 0);
    assertEquals(3, d.channels());
    for (int i = 0; i < d.size(); i++) {
      if (d.labels()[i] == 0) { // horizontal: constant along columns
        for (int y = 1; y < 8; y++) assertEquals(d.pixel(i, 0, 5, 2), d.pixel(i, y, 5, 2));
      }
    }
  }

  static List<float[]> take(BatchIterator it, int n) {
    List<float[]> out = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) out.add(it.next().images());
    return out;
  }

  @Test
  void iteratorIsDeterministicAndResumesExactly() {
    Dataset d = Synthetic.generate(synth(), 1);
    Normalizer n = Normalizer.of(synth());
    List<float[]> full;
    BatchIterator.Position mid;
    try (BatchIterator it = new BatchIterator(d, n, 4, 42, true, 2, BatchIterator.Position.START)) {
      List<float[]> first = take(it, 3);
      mid = it.position();
      assertEquals(new BatchIterator.Position(1, 2), mid); // 12 images from a set of 10
      full = new java.util.ArrayList<>(first);
      full.addAll(take(it, 4));
    }
    try (BatchIterator again = new BatchIterator(d, n, 4, 42, true, 3, BatchIterator.Position.START)) {
      List<float[]> same = take(again, 7);
      for (int i = 0; i < 7; i++) assertArrayEquals(full.get(i), same.get(i));
    }
    try (BatchIterator resumed = new BatchIterator(d, n, 4, 42, true, 1, mid)) {
      List<float[]> rest = take(resumed, 4);
      for (int i = 0; i < 4; i++) assertArrayEquals(full.get(3 + i), rest.get(i));
    }
    try (BatchIterator other = new BatchIterator(d, n, 4, 43, true, 1, BatchIterator.Position.START)) {
      assertFalse(Arrays.equals(full.get(0), other.next().images()));
    }
  }

  @Test
  void eachEpochVisitsEveryImageOnce() {
    int[] p = BatchIterator.permutation(7, 0, 100);
    int[] sorted = p.clone();
    Arrays.sort(sorted);
    for (int i = 0; i < 100; i++) assertEquals(i, sorted[i]);
    assertNotEquals(Arrays.toString(p), Arrays.toString(BatchIterator.permutation(7, 1, 100)));
  }

  @Test
  void batchesAreNormalizedNhwc() {
    Dataset d = Synthetic.generate(synth(), 1);
    try (BatchIterator it = new BatchIterator(d, Normalizer.of(synth()), 2, 0, false, 1, BatchIterator.Position.START)) {
      BatchIterator.Batch b = it.next();
      assertEquals(2 * 8 * 8, b.images().length);
      int first = BatchIterator.permutation(0, 0, d.size())[0];
      assertEquals(d.pixel(first, 3, 4, 0) / 127.5 - 1, b.images()[3 * 8 + 4], 1e-6);
      assertEquals(d.labels()[first], b.labels()[0]);
    }
  }

  @Test
  void flipMirrorsRows() {
    float[] a = {1, 2, 3, 4, 5, 6};
    BatchIterator.flipHorizontally(a, 0, 1, 3, 2);
    assertArrayEquals(new float[] {5, 6, 3, 4, 1, 2}, a);
  }

  @Test
  void badStartPositionIsRejected() {
    Dataset d = Synthetic.generate(synth(), 1);
    assertThrows(IllegalArgumentException.class,
        () -> new BatchIterator(d, Normalizer.of(synth()), 2, 0, false, 1, new BatchIterator.Position(0, 10)));
  }
}
