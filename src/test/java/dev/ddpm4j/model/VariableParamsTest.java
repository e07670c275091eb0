package dev.ddpm4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

class VariableParamsTest {
  /**
   * Checkpoints store variables under their graph names, so scopes opened ahead by reserve() must give every variable
   * and read the name it had when each scope was opened as its weight came: with a pool of every weight, with a pool
   * that runs out part-way, and with none.
   */
  @ParameterizedTest(name = "reserve {0} of the weights")
  @ValueSource(strings = {"all", "some"})
  void reservedScopesGiveTheNamesOfScopesOpenedOneByOne(String how) {
    ExperimentConfig cfg = TinyConfigs.config(null);
    UNet unet = UNet.of(cfg);
    int count = unet.weights().shapes().size();
    List<String> plain = names(unet, -1);
    List<String> reserved = names(unet, how.equals("all") ? count : count / 3);
    assertEquals(plain, reserved);
    // the names checkpoints hold: the k-th weight's scope is prefix_k (prefix for the first)
    assertTrue(plain.contains("unet/time.dense0.w"), plain.subList(0, 8).toString());
    assertTrue(plain.contains("adam_v_1/time.dense0.b"), plain.subList(0, 8).toString());
    assertEquals("unet_read_" + (count - 1) + "/out.conv.b", plain.get(plain.size() - 1));
  }

  @ParameterizedTest(name = "conditional {0}")
  @ValueSource(booleans = {false, true})
  void weightsListsWhatTheModelAsksForInOrder(boolean conditional) {
    ExperimentConfig cfg = TinyConfigs.config(null, conditional ? "model.num_classes=2" : "model.num_classes=0");
    UNet unet = UNet.of(cfg);
    RecordingParams<TFloat32> spec = unet.weights();
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      VariableParams<TFloat32> p = new VariableParams<>(tf, TFloat32.class, "unet", 0);
      build(tf, unet, p, conditional);
      assertEquals(new ArrayList<>(p.shapes().keySet()), new ArrayList<>(spec.shapes().keySet()));
      for (String n : p.shapes().keySet()) {
        assertArrayEquals(p.shapes().get(n), spec.shapes().get(n), n);
        assertEquals(p.inits().get(n), spec.inits().get(n), n);
      }
    }
  }

  /** Op names of every variable and read, in creation order; reserve < 0: none reserved. */
  private static List<String> names(UNet unet, int reserve) {
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      VariableParams<TFloat32> p = new VariableParams<>(tf, TFloat32.class, "unet", 0).withSlot("ema", true)
          .withSlot("adam_m", false).withSlot("adam_v", false);
      if (reserve >= 0) p.reserve(reserve);
      build(tf, unet, p, false);
      List<String> out = new ArrayList<>();
      for (var it = g.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        if (op.type().equals("VariableV2") || op.name().contains("_read")) out.add(op.name());
      }
      return out;
    }
  }

  private static void build(Ops tf, UNet unet, Params<TFloat32> p, boolean conditional) {
    int s = unet.imageSize();
    Condition condition = conditional
        ? Condition.labels(tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(2))), null) : Condition.none();
    unet.apply(tf, TFloat32.class, p, tf.placeholder(TFloat32.class,
        Placeholder.shape(Shape.of(2, s, s, unet.imageChannels()))), tf.placeholder(TInt32.class,
        Placeholder.shape(Shape.of(2))), condition, null);
  }
}
