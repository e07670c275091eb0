package dev.ddpm4j.features;

import dev.ddpm4j.metrics.Features;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TUint8;

/**
 * The second feature space: the feature network's first four convolutions, read at two scales before any class
 * pooling can discard them. A classifier's last layer is trained to ignore texture and sharpness; its first layers are
 * edge and stroke detectors whose response energy is exactly what blur removes and noise adds.
 *
 * <pre>
 * x = pixel / 127.5 - 1;  h1 = relu(conv1(relu(conv0(x))))              full resolution, 32 channels
 * h3 = relu(conv3(relu(conv2(maxpool2(h1)))))                            half resolution, 64 channels
 * features = [ rms of h1 over each quadrant (4 x 32) | rms of h3 over the image (64) ]    width 192
 * </pre>
 * The root mean square (not the mean) of each channel: a ReLU map's mean follows the object's area, its energy
 * follows how sharp its edges are. The weights are the trained network's ({@code features/conv0.w} ... read from its
 * SavedModel), so no second network needs training, storing or versioning.
 */
final class DetailSpace implements AutoCloseable {
  static final int WIDTH = 4 * FeatureNet.CONV_WIDTHS[1] + FeatureNet.CONV_WIDTHS[3];
  static final String[] WEIGHTS = {"conv0", "conv1", "conv2", "conv3"};
  private static final int BATCH = 250;

  private final Graph graph;
  private final Session session;
  private final Placeholder<TUint8> images;
  private final Operand<TFloat32> features;
  private final int size;
  private final int channels;

  /**
   * @param weights the trained kernels and biases, conv0.w, conv0.b, ... conv3.b, each as [3,3,in,out] / [out] floats
   */
  DetailSpace(int size, int channels, java.util.Map<String, float[]> weights) {
    if (size % 4 != 0) throw new IllegalArgumentException("detail features need a size divisible by 4, got " + size);
    this.size = size;
    this.channels = channels;
    graph = new Graph();
    Ops tf = Ops.create(graph);
    images = tf.withName("images").placeholder(TUint8.class, Placeholder.shape(Shape.of(-1, size, size, channels)));
    Operand<TFloat32> h = tf.math.sub(tf.math.div(tf.dtypes.cast(images, TFloat32.class), tf.constant(127.5f)),
        tf.constant(1f));
    int[] widths = FeatureNet.CONV_WIDTHS;
    int in = channels;
    Operand<TFloat32> h1 = null;
    for (int k = 0; k < 4; k++) {
      if (k == 2) {
        h1 = h;
        h = tf.nn.maxPool(h, tf.constant(new int[] {1, 2, 2, 1}), tf.constant(new int[] {1, 2, 2, 1}), "VALID");
      }
      float[] w = weights.get(WEIGHTS[k] + ".w");
      float[] b = weights.get(WEIGHTS[k] + ".b");
      if (w == null || b == null || w.length != 9 * in * widths[k] || b.length != widths[k]) {
        throw new IllegalArgumentException("the feature network's " + WEIGHTS[k] + " is not a 3x3 conv of " + in
            + " to " + widths[k] + " channels");
      }
      Operand<TFloat32> wc = tf.reshape(tf.constant(w), tf.constant(new long[] {3, 3, in, widths[k]}));
      h = tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(h, wc, List.of(1L, 1L, 1L, 1L), "SAME"), tf.constant(b)));
      in = widths[k];
    }
    int half = size / 2;
    Operand<TFloat32> quadrants = tf.nn.avgPool(tf.math.square(h1), List.of(1L, (long) half, (long) half, 1L),
        List.of(1L, (long) half, (long) half, 1L), "VALID");
    Operand<TFloat32> q = tf.reshape(tf.math.sqrt(quadrants), tf.constant(new long[] {-1, 4L * widths[1]}));
    Operand<TFloat32> g = tf.math.sqrt(tf.math.mean(tf.math.square(h), tf.constant(new int[] {1, 2})));
    features = tf.concat(List.of(q, g), tf.constant(1));
    session = new Session(graph);
  }

  /**
   * Reads the four kernels and biases from a loaded feature network: its variables {@code features/conv0.w}, ... (TF
   * numbers a repeated scope, so {@code features_1/conv0.b} is found as well).
   */
  static java.util.Map<String, float[]> weightsOf(Graph g, Session s) {
    java.util.Map<String, String> ops = new java.util.HashMap<>();
    g.operations().forEachRemaining(o -> {
      if (o.type().equals("VariableV2") && o.name().matches("features(_[0-9]+)?/conv[0-9]+\\.[wb]")) {
        ops.put(o.name().substring(o.name().indexOf('/') + 1), o.name());
      }
    });
    java.util.Map<String, float[]> out = new java.util.HashMap<>();
    for (String name : WEIGHTS) {
      for (String part : new String[] {".w", ".b"}) {
        String op = ops.get(name + part);
        if (op == null) throw new IllegalArgumentException("the feature network has no variable " + name + part);
        try (Result r = s.runner().fetch(op).run()) {
          TFloat32 t = (TFloat32) r.get(0);
          float[] v = new float[(int) t.shape().size()];
          t.asRawTensor().data().asFloats().read(v);
          out.put(name + part, v);
        }
      }
    }
    return out;
  }

  /** The detail features of n images of size x size x channels bytes. */
  Features apply(byte[] pixels, int n) {
    int per = size * size * channels;
    if ((long) n * per != pixels.length) throw new IllegalArgumentException(pixels.length + " bytes are not " + n + " images");
    float[] out = new float[n * WIDTH];
    for (int from = 0; from < n; from += BATCH) {
      int m = Math.min(BATCH, n - from);
      try (TUint8 x = TUint8.tensorOf(Shape.of(m, size, size, channels))) {
        x.asRawTensor().data().write(java.util.Arrays.copyOfRange(pixels, from * per, (from + m) * per));
        try (Result r = session.runner().feed(images, x).fetch(features).run()) {
          Tensor t = r.get(0);
          float[] f = new float[m * WIDTH];
          ((TFloat32) t).asRawTensor().data().asFloats().read(f);
          System.arraycopy(f, 0, out, from * WIDTH, f.length);
        }
      }
    }
    return new Features(out, n, WIDTH);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
