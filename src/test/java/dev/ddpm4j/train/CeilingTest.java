package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.types.TFloat32;

class CeilingTest {
  /**
   * The bf16 ceiling must time a bfloat16 product: the product's dtype in the graph the session actually ran (oneDNN
   * is on in the suite, so the mixed-precision rewrite runs on every CPU, emulated where bf16 is not native).
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"fp32", "bf16"})
  void theCeilingsProductRunsInTheSessionsPrecision(String precision) {
    try (Graph g = new Graph()) {
      Operand<TFloat32> mm = Benchmark.ceilingProduct(Ops.create(g), 64);
      try (Session s = new Session(g, TrainingSession.sessionConfig(2, 1, precision))) {
        s.initialize();
        RunOptions trace = RunOptions.newBuilder().setOutputPartitionGraphs(true).build();
        List<String> products = new ArrayList<>();
        try (Result r = s.runner().fetch(mm).setOptions(trace).runAndFetchMetadata()) {
          for (var graph : r.getMetadata().orElseThrow().getPartitionGraphsList()) {
            for (var node : graph.getNodeList()) {
              if (node.getOp().contains("MatMul")) {
                products.add(node.getOp() + ":" + node.getAttrOrThrow("T").getType());
              }
            }
          }
          assertEquals(1, products.size(), products.toString());
          DataType want = precision.equals("bf16") ? DataType.DT_BFLOAT16 : DataType.DT_FLOAT;
          assertEquals(want.toString(), products.get(0).substring(products.get(0).indexOf(':') + 1), products.toString());
        }
      }
    }
  }
}
