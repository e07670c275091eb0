package dev.ddpm4j.features;

import dev.ddpm4j.model.Init;
import dev.ddpm4j.model.Params;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint8;

/**
 * The small CNN classifier whose penultimate layer is ddpm4j's feature space for sample-quality metrics (FID, KID,
 * PRDC, class statistics, copies). 8-bit pixels go in, so any PNG of the right size can be scored the same way:
 *
 * <pre>
 * x = pixel / 127.5 - 1
 * conv3x3 32, ReLU, conv3x3 32, ReLU, maxpool 2      conv3x3 64, ReLU, conv3x3 64, ReLU, maxpool 2
 * conv3x3 64, ReLU, maxpool 2                        flatten, dense 128, ReLU  = features
 * dropout (training only), dense = logits
 * </pre>
 * Weight names: {@code conv0..conv4.w/.b}, {@code dense.w/.b}, {@code logits.w/.b}; fan-avg uniform initialization.
 */
public final class FeatureNet {
  /** Width of the feature layer. */
  public static final int WIDTH = 128;
  /** Output channels of conv0..conv4 ({@link DetailSpace} reads the first four). */
  static final int[] CONV_WIDTHS = {32, 32, 64, 64, 64};
  private static final boolean[] POOL_AFTER = {false, true, false, true, true};

  private final int imageSize;
  private final int channels;
  private final int classes;

  public FeatureNet(int imageSize, int channels, int classes) {
    if (imageSize % 8 != 0) throw new IllegalArgumentException("image size must be divisible by 8, got " + imageSize);
    if (classes < 2) throw new IllegalArgumentException("a classifier needs at least 2 classes, got " + classes);
    this.imageSize = imageSize;
    this.channels = channels;
    this.classes = classes;
  }

  public int imageSize() {
    return imageSize;
  }

  public int channels() {
    return channels;
  }

  public int classes() {
    return classes;
  }

  /** The forward pass of one batch. */
  public record Outputs(Operand<TFloat32> features, Operand<TFloat32> logits) {}

  /**
   * @param pixels uint8 [N, H, W, C]
   * @param dropoutKey null at inference; in training a stateless-random key [2] for the dropout mask
   */
  public Outputs apply(Ops tf, Params<TFloat32> p, Operand<TUint8> pixels, Operand<TInt64> dropoutKey,
      double dropout) {
    Operand<TFloat32> h = tf.math.sub(tf.math.div(tf.dtypes.cast(pixels, TFloat32.class), tf.constant(127.5f)),
        tf.constant(1f));
    int in = channels;
    int res = imageSize;
    for (int k = 0; k < CONV_WIDTHS.length; k++) {
      int out = CONV_WIDTHS[k];
      Operand<TFloat32> w = p.get("conv" + k + ".w", new long[] {3, 3, in, out}, Init.fanAvgUniform(1.0, 9L * in, 9L * out));
      Operand<TFloat32> b = p.get("conv" + k + ".b", new long[] {out}, Init.ZEROS);
      h = tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(h, w, List.of(1L, 1L, 1L, 1L), "SAME"), b));
      if (POOL_AFTER[k]) {
        h = tf.nn.maxPool(h, tf.constant(new int[] {1, 2, 2, 1}), tf.constant(new int[] {1, 2, 2, 1}), "VALID");
        res /= 2;
      }
      in = out;
    }
    long flat = (long) res * res * in;
    h = tf.reshape(h, tf.constant(new long[] {-1, flat}));
    Operand<TFloat32> features = tf.nn.relu(dense(tf, p, "dense", h, flat, WIDTH));
    Operand<TFloat32> f = features;
    if (dropoutKey != null && dropout > 0) {
      Operand<TFloat32> u = tf.random.statelessRandomUniform(tf.shape(f), dropoutKey, TFloat32.class);
      f = tf.select(tf.math.greaterEqual(u, tf.constant((float) dropout)),
          tf.math.mul(f, tf.constant((float) (1 / (1 - dropout)))), tf.zerosLike(f));
    }
    return new Outputs(features, dense(tf, p, "logits", f, WIDTH, classes));
  }

  private static Operand<TFloat32> dense(Ops tf, Params<TFloat32> p, String name, Operand<TFloat32> x, long in,
      int out) {
    Operand<TFloat32> w = p.get(name + ".w", new long[] {in, out}, Init.fanAvgUniform(1.0, in, out));
    Operand<TFloat32> b = p.get(name + ".b", new long[] {out}, Init.ZEROS);
    return tf.nn.biasAdd(tf.linalg.matMul(x, w), b);
  }

  /** Mean cross-entropy of integer labels [N] under the logits. */
  public static Operand<TFloat32> crossEntropy(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels, int classes) {
    Operand<TFloat32> oneHot = tf.oneHot(labels, tf.constant(classes), tf.constant(1f), tf.constant(0f));
    Operand<TFloat32> logp = tf.nn.logSoftmax(logits);
    return tf.math.neg(tf.math.mean(tf.sum(tf.math.mul(oneHot, logp), tf.constant(1)), tf.constant(0)));
  }
}
