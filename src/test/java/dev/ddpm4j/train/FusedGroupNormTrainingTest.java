package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.FusedGroupNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

/** train.fused_group_norm in the training graph: which ops it builds, the loss it trains on, bf16, refusals. */
class FusedGroupNormTrainingTest {
  static float[] batch(ExperimentConfig cfg) {
    int s = cfg.data().imageSize();
    float[] x = new float[cfg.train().batchSize() * s * s * cfg.data().channels()];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
    return x;
  }

  static long count(Graph g, String type) {
    long n = 0;
    for (var it = g.operations(); it.hasNext(); ) {
      if (((GraphOperation) it.next()).type().equals(type)) n++;
    }
    return n;
  }

  /** The gradient norm of a session's first step and the loss of its second, on batch(cfg) both times. */
  record TwoSteps(float gradNorm, float loss) {
    static TwoSteps of(TrainingSession ts, ExperimentConfig cfg) {
      TrainingSession.StepResult first = ts.step(batch(cfg));
      return new TwoSteps(first.gradNorm(), ts.step(batch(cfg)).loss());
    }

    /**
     * The same initial weights, data, noise and timesteps: the same gradient up to float rounding, and the second
     * step's loss after the same update.
     */
    void assertSameAs(TwoSteps want) {
      assertEquals(want.gradNorm, gradNorm, 1e-4 * want.gradNorm, "gradient norm at step 1");
      assertEquals(want.loss, loss, 1e-4 * want.loss, "loss at step 2");
    }
  }

  @Test
  void theFusedOpTrainsOnTheLossOfTensorFlowsOps() {
    if (!FusedGroupNorm.available()) return; // FusedGroupNormTest fails where it should be available
    TwoSteps[] steps = new TwoSteps[2];
    String[] settings = {"fused", "tensorflow"};
    for (int k = 0; k < 2; k++) {
      ExperimentConfig cfg = TinyConfigs.config(null, "train.fused_group_norm=" + settings[k]);
      try (TrainingSession ts = new TrainingSession(cfg)) {
        // tiny U-Net: norm1 and norm2 of 3 blocks per side, the middle's, the attention's and the output's
        long fused = count(ts.graph, FusedGroupNorm.OP);
        if (k == 0) {
          assertTrue(fused >= 8, "fused GroupNorms in the training graph: " + fused);
          assertTrue(count(ts.graph, FusedGroupNorm.GRAD_OP) >= 8, "their gradients");
          assertTrue(ts.net.groupNorm.startsWith("fused op"), ts.net.groupNorm);
        } else {
          assertEquals(0, fused);
          assertTrue(ts.net.groupNorm.contains("tensorflow"), ts.net.groupNorm);
        }
        steps[k] = TwoSteps.of(ts, cfg);
      }
    }
    steps[0].assertSameAs(steps[1]);
  }

  @Test
  void withDropoutTheFusedOpDrawsTheMasks() {
    if (!FusedGroupNorm.available()) return;
    for (String setting : new String[] {"fused", "tensorflow"}) {
      ExperimentConfig cfg = TinyConfigs.config(null, "train.fused_group_norm=" + setting, "model.dropout=0.3");
      try (TrainingSession ts = new TrainingSession(cfg)) {
        long draws = 0; // dropout's own random numbers in the training forward pass (initializers draw too)
        long rated = 0;
        for (var it = ts.graph.operations(); it.hasNext(); ) {
          GraphOperation op = (GraphOperation) it.next();
          if (op.type().equals("StatelessRandomUniform") && op.name().startsWith("forward/")) draws++;
          if (op.type().equals(FusedGroupNorm.OP) && op.attributes().getAttrFloat("rate") == 0.3f) rated++;
        }
        if (setting.equals("fused")) {
          assertEquals(0, draws, "no random-number op for dropout");
          assertTrue(rated >= 4, "fused GroupNorms with dropout: " + rated); // norm2 of each residual block
        } else {
          assertTrue(draws >= 4, "TensorFlow's dropout draws: " + draws);
          assertEquals(0, rated);
        }
        float loss = ts.step(batch(cfg)).loss();
        assertTrue(Float.isFinite(loss) && loss > 0, "loss " + loss);
      }
    }
  }

  @Test
  void underBf16TheFusedOpRunsInBfloat16() {
    if (!FusedGroupNorm.available()) return;
    ExperimentConfig cfg = TinyConfigs.config(null, "train.fused_group_norm=fused", "train.precision=bf16");
    try (Graph g = new Graph()) {
      TrainingGraph net = new TrainingGraph(cfg, g);
      try (Session s = new Session(g, TrainingSession.sessionConfig(2, 2, "bf16"));
          TFloat32 x = TFloat32.tensorOf(Shape.of(cfg.train().batchSize(), 8, 8, 1))) {
        s.initialize();
        x.asRawTensor().data().asFloats().write(batch(cfg));
        RunOptions trace = RunOptions.newBuilder().setOutputPartitionGraphs(true).build();
        List<String> types = new ArrayList<>();
        try (Result r = s.runner().feed(net.x0, x).addTarget(net.train).setOptions(trace).runAndFetchMetadata()) {
          for (var graph : r.getMetadata().orElseThrow().getPartitionGraphsList()) {
            for (var node : graph.getNodeList()) {
              if (node.getOp().startsWith("DdpmGroupNormSilu")) {
                types.add(node.getOp() + ":" + node.getAttrOrThrow("T").getType());
              }
            }
          }
        }
        assertFalse(types.isEmpty(), "no fused op ran");
        assertTrue(types.stream().allMatch(t -> t.endsWith(":" + DataType.DT_BFLOAT16)), types.toString());
      }
    }
  }

  @Test
  void onIsRefusedByNameWhereTheOpCannotRun() {
    ExperimentConfig cfg = TinyConfigs.config(null, "train.fused_group_norm=fused");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FusedGroupNorm.choose(cfg.train(), true));
    assertTrue(e.getMessage().contains("train.fused_group_norm") && e.getMessage().contains("distributed"),
        e.getMessage());
    FusedGroupNorm.Choice auto = FusedGroupNorm.choose(TinyConfigs.config(null).train(), true);
    assertEquals(0, auto.threads(), auto.description());
  }
}
