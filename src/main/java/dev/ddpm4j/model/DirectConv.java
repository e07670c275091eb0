package dev.ddpm4j.model;

import org.tensorflow.Operand;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * A 1x1 or 3x3, stride-1 or stride-2, SAME convolution of float32 NHWC activations as one op of ours ({@code
 * src/main/native/direct_conv.c}, in the fused GroupNorm's library), forward only, plus a bias and a residual term
 * added as it writes: y = conv2d(x, w, stride, SAME) + b + r. The fp32-fast sampling graph runs its convolutions that
 * are not Winograd's and have 16 input channels or more with it: the downsampling layers, the residual blocks' 1x1
 * shortcuts (r: the block's other branch, so no Add follows) and the attention layers' q, k and v (as one) and
 * projections. oneDNN ran those at 70-140 GFLOP/s on an AMD Zen 5 (docs/BENCHMARKS.md). Exported models and training graphs never use it. Output channels must be a multiple of 16.
 */
public final class DirectConv {
  static final String OP = "DdpmDirectConv";

  private static String unavailable;
  private static boolean tried;

  private DirectConv() {}

  /** Whether the op is loaded in this process. */
  public static synchronized boolean available() {
    if (!tried) {
      tried = true;
      unavailable = FusedGroupNorm.whyNoOp(OP, 5, "height", "width");
    }
    return unavailable == null;
  }

  /** Why the op cannot run in this process, or null when it can. */
  public static synchronized String whyUnavailable() {
    available();
    return unavailable;
  }

  /**
   * Whether a graph without gradients can run this convolution by {@link #forward}: k 1 or 3, stride 1 or 2, out a
   * positive multiple of 16, x [N, H, W, in] with static H and W, and the op loaded.
   */
  public static boolean fits(Shape x, int k, int stride, int in, int out) {
    return (k == 1 || k == 3) && (stride == 1 || stride == 2) && in > 0 && out > 0 && out % 16 == 0
        && x.numDimensions() == 4 && x.size(1) > 0 && x.size(2) > 0 && x.size(3) == in && available();
  }

  /**
   * conv2d(x, w, stride, SAME) + bias + residual for x [N, H, W, in] with static H and W, w [k, k, in, out].
   *
   * @param bias [out], or null for none
   * @param residual [N, ceil(H / stride), ceil(W / stride), out], or null for none
   * @param threads threads the batch is split over (one sample per thread: values do not depend on it)
   */
  public static Operand<TFloat32> forward(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> bias,
      Operand<TFloat32> residual, int in, int out, int k, int stride, int threads) {
    return forward(tf, x, null, w, bias, residual, in, out, k, stride, threads);
  }

  /**
   * The same convolution of concat(x, x2) along the channels, the concatenation never written: the op reads each
   * pixel's channels from x, then from x2 (an up-path residual block's input and its skip, for its 1x1 shortcut).
   *
   * @param x2 [N, H, W, in - channels of x] with x's static H and W, or null: x alone
   */
  public static Operand<TFloat32> forward(Ops tf, Operand<TFloat32> x, Operand<TFloat32> x2, Operand<TFloat32> w,
      Operand<TFloat32> bias, Operand<TFloat32> residual, int in, int out, int k, int stride, int threads) {
    if (!fits(x2 == null ? x.shape() : concatShape(x.shape(), x2.shape()), k, stride, in, out)) {
      throw new IllegalArgumentException("a direct convolution needs x [N, H, W, " + in + "] with static H and W, a"
          + " 1x1 or 3x3 kernel, stride 1 or 2 and output channels a multiple of 16, got " + x.shape() + ", " + k + "x"
          + k + " stride " + stride + ", " + in + " -> " + out
          + (available() ? "" : " (the op is not available: " + unavailable + ")"));
    }
    long h = x.shape().size(1);
    long wd = x.shape().size(2);
    Operand<TFloat32> b = bias != null ? bias : tf.zeros(tf.constant(new long[] {out}), TFloat32.class);
    Operand<TFloat32> r = residual != null ? residual
        : tf.zeros(tf.constant(new long[] {0, out}), TFloat32.class);
    Operand<TFloat32> second = x2 != null ? x2 : tf.zeros(tf.constant(new long[] {0}), TFloat32.class);
    @SuppressWarnings("unchecked")
    Output<TFloat32> y = (Output<TFloat32>) (Output<?>) tf.scope().opBuilder(OP, "DirectConv")
        .addInput(x.asOutput())
        .addInput(second.asOutput())
        .addInput(tf.reshape(w, tf.constant(new long[] {k, k, in, out})).asOutput())
        .addInput(b.asOutput())
        .addInput(r.asOutput())
        .setAttr("threads", (long) Math.max(1, threads))
        .setAttr("height", h)
        .setAttr("width", wd)
        .setAttr("kernel", (long) k)
        .setAttr("stride", (long) stride)
        .build().output(0);
    return tf.reshape(y, tf.constant(new long[] {-1, (h + stride - 1) / stride, (wd + stride - 1) / stride, out}));
  }

  /** The shape of concat(x, x2) along the channels where both are NHWC with the same static H and W, else unknown. */
  static Shape concatShape(Shape x, Shape x2) {
    if (x.numDimensions() != 4 || x2.numDimensions() != 4 || x.size(1) != x2.size(1) || x.size(2) != x2.size(2)
        || x.size(3) < 1 || x2.size(3) < 1) {
      return Shape.unknown();
    }
    return Shape.of(x.size(0), x.size(1), x.size(2), x.size(3) + x2.size(3));
  }
}
