package dev.ddpm4j.model;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Parameter counts per U-Net level and forward FLOPs per image, counted from a batch-1 graph: 2 * multiply-adds of
 * every Conv2D, Conv2DBackpropInput (transposed conv), MatMul and BatchMatMul. Element-wise ops are not counted.
 */
public record ModelInfo(Map<String, Long> paramsPerGroup, long totalParams, long forwardFlops,
    Map<String, Long> flopsPerOpType) {

  public static ModelInfo of(ExperimentConfig cfg) {
    int s = cfg.data().imageSize();
    int c = cfg.data().channels();
    try (Graph g = new Graph()) {
      Ops tf = Ops.create(g);
      var x = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, s, s, c)));
      var t = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1)));
      RecordingParams<TFloat32> p = new RecordingParams<>(tf, TFloat32.class);
      Condition condition = cfg.model().conditional()
          ? Condition.labels(tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1))), null) : Condition.none();
      UNet.of(cfg).apply(tf, TFloat32.class, p, x, t, condition, null);
      Map<String, Long> groups = new LinkedHashMap<>();
      long total = 0;
      for (var e : p.shapes().entrySet()) {
        long n = 1;
        for (long d : e.getValue()) n *= d;
        String group = e.getKey().substring(0, e.getKey().indexOf('.'));
        groups.merge(group, n, Long::sum);
        total += n;
      }
      Map<String, Long> perType = new LinkedHashMap<>();
      long flops = 0;
      for (Iterator<GraphOperation> it = g.operations(); it.hasNext(); ) {
        GraphOperation op = it.next();
        long f = flops(op);
        if (f > 0) {
          perType.merge(op.type(), f, Long::sum);
          flops += f;
        }
      }
      return new ModelInfo(groups, total, flops, perType);
    }
  }

  /** 2 * multiply-adds of one op, from its static shapes (0 for ops that are not counted). */
  static long flops(GraphOperation op) {
    switch (op.type()) {
      case "Conv2D": {
        long[] out = op.output(0).shape().asArray();
        long[] w = op.input(1).shape().asArray(); // [k, k, in, out]
        return 2L * out[0] * out[1] * out[2] * w[0] * w[1] * w[2] * w[3];
      }
      case "Conv2DBackpropInput": {
        long[] in = op.input(2).shape().asArray(); // the transposed conv's input
        long[] w = op.input(1).shape().asArray(); // [k, k, out, in]
        return 2L * in[0] * in[1] * in[2] * w[0] * w[1] * w[2] * w[3];
      }
      case "MatMul": {
        long[] a = op.input(0).shape().asArray();
        long[] b = op.input(1).shape().asArray();
        boolean ta = op.attributes().getAttrBool("transpose_a");
        long m = ta ? a[1] : a[0];
        long k = ta ? a[0] : a[1];
        long n = op.attributes().getAttrBool("transpose_b") ? b[0] : b[1];
        return 2L * m * k * n;
      }
      case "BatchMatMul":
      case "BatchMatMulV2":
      case "BatchMatMulV3": {
        long[] a = op.input(0).shape().asArray();
        long[] out = op.output(0).shape().asArray();
        int r = a.length;
        boolean adjX = op.attributes().getAttrBool("adj_x");
        long k = adjX ? a[r - 2] : a[r - 1];
        long batch = 1;
        for (int i = 0; i < out.length - 2; i++) batch *= out[i];
        return 2L * batch * out[out.length - 2] * out[out.length - 1] * k;
      }
      default:
        return 0;
    }
  }
}
