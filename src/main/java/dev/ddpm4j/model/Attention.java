package dev.ddpm4j.model;

import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * The core of a self-attention layer over an image's pixels as one op of ours ({@code src/main/native/attention.c}, in
 * the fused GroupNorm's library), forward only: from each pixel's query, key and value (one tensor, [N, H, W, 3C], as
 * one {@link DirectConv} computes them) to softmax(q k^T / sqrt(d)) v per head, [N, H, W, C]. The fp32-fast sampling
 * graph's attention layers use it in place of TensorFlow's transposes, BatchMatMuls and Softmax; exported models and
 * training graphs never do.
 */
public final class Attention {
  static final String OP = "DdpmAttention";

  private static String unavailable;
  private static boolean tried;

  private Attention() {}

  /** Whether the op is loaded in this process. */
  public static synchronized boolean available() {
    if (!tried) {
      tried = true;
      unavailable = FusedGroupNorm.whyNoOp(OP, 1);
    }
    return unavailable == null;
  }

  /** Whether {@link #forward} takes qkv of this shape: [N, H, W, 3C] with static H, W and C a multiple of heads. */
  public static boolean fits(Shape qkv, int channels, int heads) {
    return heads > 0 && channels > 0 && channels % heads == 0 && qkv.numDimensions() == 4 && qkv.size(1) > 0
        && qkv.size(2) > 0 && qkv.size(3) == 3L * channels && available();
  }

  /**
   * softmax(q k^T / sqrt(d)) v over the pixels of each sample, per head of d = channels / heads.
   *
   * @param qkv [N, H, W, 3 * channels]: the queries, then the keys, then the values
   * @param threads threads the batch is split over (one sample per thread: values do not depend on it)
   */
  public static Operand<TFloat32> forward(Ops tf, Operand<TFloat32> qkv, int channels, int heads, int threads) {
    if (!fits(qkv.shape(), channels, heads)) {
      throw new IllegalArgumentException("attention needs qkv [N, H, W, 3 * " + channels + "] with static H and W and "
          + channels + " channels a multiple of " + heads + " heads, got " + qkv.shape()
          + (available() ? "" : " (the op is not available: " + unavailable + ")"));
    }
    @SuppressWarnings("unchecked")
    Output<TFloat32> a = (Output<TFloat32>) (Output<?>) tf.scope().opBuilder(OP, "Attention")
        .addInput(qkv.asOutput())
        .setAttr("heads", (long) heads)
        .setAttr("threads", (long) Math.max(1, threads))
        .build().output(0);
    return tf.reshape(a, tf.constant(new long[] {-1, qkv.shape().size(1), qkv.shape().size(2), channels}));
  }
}
