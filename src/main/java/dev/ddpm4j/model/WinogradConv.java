package dev.ddpm4j.model;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.TensorFlow;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * A 3x3, stride-1, SAME convolution of float32 NHWC activations as a Winograd F(4x4, 3x3) convolution (Lavin and Gray
 * 2016): the input and output transforms are ops of our own ({@code src/main/native/winograd.c}, in the fused
 * GroupNorm's library), the 36 products {@code MatMul}s and the filter transform {@code G w G^T} TensorFlow ops, so
 * oneDNN does the multiply-adds: 36 per 4x4 output tile and channel pair instead of 144. Every gradient
 * comes from TensorFlow's registry except the transforms', which are their adjoint transforms.
 *
 * <p>Graphs that take no gradient through the network (the fp32-fast sampling graph) use {@link #forward} instead: the
 * whole convolution as one op of ours. Exports stay plain TensorFlow. Channel counts must be multiples of 16 (the
 * output channels of {@link #forward} are padded to that).
 */
public final class WinogradConv {
  static final String INPUT = "DdpmWinogradInput";
  static final String INPUT_GRAD = "DdpmWinogradInputGrad";
  static final String OUTPUT = "DdpmWinogradOutput";
  static final String OUTPUT_GRAD = "DdpmWinogradOutputGrad";
  static final String FUSED = "DdpmWinogradConv";

  /** G of F(4x4, 3x3): the filter transform U = G w G^T. */
  static final float[][] G = {
    {1f / 4, 0, 0},
    {-1f / 6, -1f / 6, -1f / 6},
    {-1f / 6, 1f / 6, -1f / 6},
    {1f / 24, 1f / 12, 1f / 6},
    {1f / 24, -1f / 12, 1f / 6},
    {0, 0, 1},
  };

  /** The tile matrix a bias is added to: row 1, column 1 of the 6x6 tile, where A^T A's weights are all ones. */
  static final int BIAS_TILE = 7;

  private static String unavailable;
  private static boolean tried;

  private WinogradConv() {}

  /** Whether the ops are loaded and their gradients registered in this process. */
  public static synchronized boolean available() {
    if (!tried) {
      tried = true;
      if (!FusedGroupNorm.available()) {
        unavailable = FusedGroupNorm.whyUnavailable();
      } else if (FusedGroupNorm.whyNoOp(INPUT, 1, "height", "width") != null
          || FusedGroupNorm.whyNoOp(FUSED, 4, "height", "width") != null) {
        unavailable = "the op library holds no Winograd ops (a library built before them?)";
      } else if (!TensorFlow.registerCustomGradient(INPUT, (tf, op, up) -> adjoint(tf, op, up, INPUT_GRAD))
          || !TensorFlow.registerCustomGradient(OUTPUT, (tf, op, up) -> adjoint(tf, op, up, OUTPUT_GRAD))) {
        unavailable = "the Winograd ops already have gradients registered";
      }
    }
    return unavailable == null;
  }

  /** Why the ops cannot run in this process, or null when they can. */
  public static synchronized String whyUnavailable() {
    available();
    return unavailable;
  }

  /**
   * What train.conv3x3 means for a training graph here: the transforms' thread count (train.intra_op_threads, or the
   * available processors for 0) and a description for the log, or 0 threads and why not.
   *
   * @param precision the precision the training resolved to ({@code fp32} or {@code bf16})
   * @throws IllegalArgumentException naming the key when it is {@code winograd} and the ops cannot run
   */
  public static Choice choose(ExperimentConfig.Train tc, boolean distributed, String precision) {
    String setting = tc.conv3x3();
    if (setting.equals("tensorflow")) return new Choice(0, "TensorFlow's Conv2D (train.conv3x3: tensorflow)");
    String why = whyNot(distributed, precision);
    if (why != null) {
      if (setting.equals("winograd")) throw new IllegalArgumentException("train.conv3x3: winograd, but " + why);
      return new Choice(0, "TensorFlow's Conv2D (" + why + ")");
    }
    int threads = FusedGroupNorm.threads(tc);
    return new Choice(threads, "Winograd F(4x4, 3x3) where a layer fits, " + threads + " thread"
        + (threads == 1 ? "" : "s"));
  }

  /**
   * Why a training graph of this precision could not run its 3x3 convolutions as Winograd here (the precision, a
   * distributed run, a visible GPU, the op library), or null when it could. {@code TrainingPrecision} asks it for
   * fp32 before it lets {@code auto} pick fp32 on a CPU with AVX512_BF16.
   */
  public static String whyNot(boolean distributed, String precision) {
    return !precision.equals("fp32")
        ? "training runs in " + precision + ", and Winograd's transformed products need float32"
        : distributed ? FusedGroupNorm.DISTRIBUTED
        : FusedGroupNorm.gpuVisible() ? "a GPU is visible and the Winograd transforms have CPU kernels only"
        : whyUnavailable();
  }

  /** @param threads 0: TensorFlow's Conv2D */
  public record Choice(int threads, String description) {
    public UNet apply(UNet unet) {
      return threads > 0 ? unet.withWinograd(threads) : unet;
    }
  }

  /** Whether this convolution runs as Winograd: 3x3, stride 1, channels multiples of 16, x's H and W static. */
  public static boolean fits(Shape x, int k, int stride, int in, int out) {
    return k == 3 && stride == 1 && in % 16 == 0 && out % 16 == 0 && in > 0 && out > 0 && x.numDimensions() == 4
        && x.size(1) > 0 && x.size(2) > 0;
  }

  /**
   * conv2d(x, w, stride 1, SAME) for x [N, H, W, in] with static H and W, w [3, 3, in, out].
   *
   * @param threads threads each transform splits the batch over (one sample per thread: values do not depend on it)
   */
  public static Operand<TFloat32> conv(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, int in, int out,
      int threads) {
    return conv(tf, x, w, null, in, out, threads);
  }

  /**
   * conv2d(x, w) + bias, the bias added inside: A^T's column 1 is all ones, so adding b to the product of tile matrix
   * 7 (row 1, column 1 of the 6x6 tile) adds b to all 16 outputs of the tile. A BiasAdd on one product of [tiles,
   * out], which oneDNN fuses into the MatMul, instead of a pass over the whole output.
   *
   * @param bias [out], or null for none
   */
  public static Operand<TFloat32> conv(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> bias,
      int in, int out, int threads) {
    return conv(tf, x, w, null, bias, null, in, out, threads);
  }

  /**
   * conv2d(x, w) + bias + perSample[n] (broadcast over H and W, a residual block's time embedding), both added inside
   * on tile matrix 7: each sample's row repeated over its tiles, 1/16 of a pass over the output.
   *
   * @param filter the filter transform {@link #filter} computed elsewhere (once before a sampling loop rather than at
   *     every network call), or null to compute it here from w
   * @param perSample [N, out], or null for none
   */
  public static Operand<TFloat32> conv(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> filter,
      Operand<TFloat32> bias, Operand<TFloat32> perSample, int in, int out, int threads) {
    if (!available()) throw new IllegalStateException("the Winograd ops are not available: " + unavailable);
    if (!fits(x.shape(), 3, 1, in, out)) {
      throw new IllegalArgumentException("a Winograd convolution needs x [N, H, W, C] with static H and W and channel"
          + " counts that are multiples of 16, got " + x.shape() + ", " + in + " -> " + out);
    }
    long h = x.shape().size(1);
    long wd = x.shape().size(2);
    Operation v = imageAttrs(tf.scope().opBuilder(INPUT, "WinogradInput").addInput(x.asOutput()), h, wd, threads)
        .build();
    // 36 MatMuls, not one BatchMatMulV2: oneDNN's batched product ran at 85 GFLOP/s where a product had 128 columns,
    // its single products at 190-250 (docs/BENCHMARKS.md). The transforms read and write the 36 matrices as lists, so
    // no Pack or Unpack copies them; each MatMul's gradient comes from TensorFlow's registry.
    List<Output<TFloat32>> us = tf.unstack(filter != null ? filter : filter(tf, w, in, out), 36L).output();
    Output<?>[] products = new Output<?>[36];
    for (int k = 0; k < 36; k++) {
      @SuppressWarnings("unchecked")
      Output<TFloat32> vk = (Output<TFloat32>) (Output<?>) v.output(k);
      Operand<TFloat32> m = tf.linalg.matMul(vk, us.get(k));
      if (k == BIAS_TILE && bias != null) m = tf.nn.biasAdd(m, bias);
      if (k == BIAS_TILE && perSample != null) {
        // tile t of sample n has index n * tilesPerImage + i: row n repeated tilesPerImage times
        long tilesPerImage = ((h + 3) / 4) * ((wd + 3) / 4);
        m = tf.math.add(m, tf.reshape(tf.tile(tf.expandDims(perSample, tf.constant(1)),
            tf.constant(new long[] {1, tilesPerImage, 1})), tf.constant(new long[] {-1, out})));
      }
      products[k] = m.asOutput();
    }
    Operation y = imageAttrs(tf.scope().opBuilder(OUTPUT, "WinogradOutput").addInputList(products), h, wd, threads)
        .build();
    return image(tf, y, h, wd, out);
  }

  /**
   * The same convolution as {@link #conv(Ops, Operand, Operand, Operand, Operand, Operand, int, int, int)}, as one op
   * with no gradient ({@code src/main/native/winograd_conv.c}): each thread takes blocks of tiles that fit its cache
   * through the input transform, the 36 products and the output transform, with the bias and the per-sample term
   * added at the end, so the tile matrices never go through memory. For graphs that take no gradient through the
   * network (the sampling graph of precision fp32-fast).
   */
  public static Operand<TFloat32> forward(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> filter,
      Operand<TFloat32> bias, Operand<TFloat32> perSample, int in, int out, int threads) {
    return forward(tf, x, w, filter, bias, perSample, in, out, threads, false);
  }

  /**
   * {@link #forward(Ops, Operand, Operand, Operand, Operand, Operand, int, int, int)}; with {@code upsample}, the
   * {@code out} channels are the four output phases of a 2x upsampling layer ({@link UNet#phaseKernel}: channel (2a +
   * b) * out/4 + c), and the op writes them where {@code DepthToSpace(2)} would put them: y [N, 2H, 2W, out/4], the
   * phases never written apart. {@code out} must then be a multiple of 64.
   */
  public static Operand<TFloat32> forward(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> filter,
      Operand<TFloat32> bias, Operand<TFloat32> perSample, int in, int out, int threads, boolean upsample) {
    if (!available()) throw new IllegalStateException("the Winograd ops are not available: " + unavailable);
    if (out < 1 || !fits(x.shape(), 3, 1, in, (out + 15) / 16 * 16)) {
      throw new IllegalArgumentException("a Winograd convolution needs x [N, H, W, C] with static H and W and an input"
          + " channel count that is a multiple of 16, got " + x.shape() + ", " + in + " -> " + out);
    }
    if (upsample && out % 64 != 0) {
      throw new IllegalArgumentException("an upsampling layer's four phases need a multiple of 64 channels, got " + out);
    }
    // an output layer (1 or 3 channels) runs padded with zero filters to a multiple of 16, the padding never written
    int padded = (out + 15) / 16 * 16;
    Operand<TFloat32> u = filter != null ? filter : filter(tf, w, in, out);
    Operand<TFloat32> b = bias != null ? bias : tf.zeros(tf.constant(new long[] {out}), TFloat32.class);
    Operand<TFloat32> e = perSample != null ? perSample : tf.zeros(tf.constant(new long[] {0, out}), TFloat32.class);
    if (padded != out) {
      u = tf.pad(u, tf.constant(new int[][] {{0, 0}, {0, 0}, {0, padded - out}}), tf.constant(0f));
      b = tf.pad(b, tf.constant(new int[][] {{0, padded - out}}), tf.constant(0f));
      e = tf.pad(e, tf.constant(new int[][] {{0, 0}, {0, padded - out}}), tf.constant(0f));
    }
    long h = x.shape().size(1);
    long wd = x.shape().size(2);
    OperationBuilder op = imageAttrs(tf.scope().opBuilder(FUSED, "WinogradConv").addInput(x.asOutput())
        .addInput(u.asOutput()).addInput(b.asOutput()).addInput(e.asOutput()), h, wd, threads);
    if (upsample) return image(tf, op.setAttr("upsample", true).build(), 2 * h, 2 * wd, out / 4);
    // a padded layer's extra channels are never written: a Slice of them cost 6 of 115 ms in a traced call of the
    // 64x64 RGB emoji export at batch 16 (docs/BENCHMARKS.md)
    if (padded != out) op.setAttr("keep", (long) out);
    return image(tf, op.build(), h, wd, out);
  }

  /**
   * Whether a graph without gradients runs this convolution by {@link #forward}: {@link #fits}, with the output
   * channels padded to 16. At 64-256 output channels (the upsampling layers' four phases among them) the one op was
   * 1.2-1.7x faster than the split ops in a harness on an AMD Zen 5 once its second thread started on the other CPU
   * (docs/BENCHMARKS.md, "The upsampling layers as one op"); before that, beyond 64 the split ops had won.
   */
  public static boolean oneOp(Shape x, int k, int stride, int in, int out) {
    return out > 0 && fits(x, k, stride, in, (out + 15) / 16 * 16);
  }

  /** The attributes every Winograd op has: its threads and its image's height and width. */
  private static OperationBuilder imageAttrs(OperationBuilder b, long h, long w, int threads) {
    return b.setAttr("threads", (long) Math.max(1, threads)).setAttr("height", h).setAttr("width", w);
  }

  /** An op's image output [N, H, W, channels], its static shape set. */
  private static Operand<TFloat32> image(Ops tf, Operation op, long h, long w, long channels) {
    @SuppressWarnings("unchecked")
    Output<TFloat32> y = (Output<TFloat32>) (Output<?>) op.output(0);
    return tf.reshape(y, tf.constant(new long[] {-1, h, w, channels}));
  }

  /** U = G w G^T as [36, in, out]: two products with the 6x3 G over reshaped weights. */
  public static Operand<TFloat32> filter(Ops tf, Operand<TFloat32> w, long cin, long cout) {
    long c = cin * cout;
    Operand<TFloat32> g = tf.constant(G);
    // t1[a, l, c] = sum_k G[a, k] w[k, l, c]
    Operand<TFloat32> t1 = tf.reshape(tf.linalg.matMul(g, tf.reshape(w, tf.constant(new long[] {3, 3 * c}))),
        tf.constant(new long[] {6, 3, c}));
    // t2[b, a, c] = sum_l G[b, l] t1[a, l, c]
    Operand<TFloat32> t1t = tf.reshape(tf.linalg.transpose(t1, tf.constant(new int[] {1, 0, 2})),
        tf.constant(new long[] {3, 6 * c}));
    Operand<TFloat32> t2 = tf.reshape(tf.linalg.matMul(g, t1t), tf.constant(new long[] {6, 6, c}));
    return tf.reshape(tf.linalg.transpose(t2, tf.constant(new int[] {1, 0, 2})),
        tf.constant(new long[] {36, cin, cout}));
  }

  /** The gradient of a transform: its adjoint, from the 36 matrices to the image or back. */
  private static List<Operand<?>> adjoint(Ops tf, GraphOperation op, List<Output<?>> upstream, String gradOp) {
    var attrs = op.attributes();
    // (attributes, not shapes: reading a shape here would wait on the graph lock addGradients holds)
    var b = tf.scope().opBuilder(gradOp, gradOp.substring(4));
    if (gradOp.equals(INPUT_GRAD)) {
      b.addInputList(upstream.toArray(new Output<?>[0]));
    } else {
      b.addInput(upstream.get(0));
    }
    Operation g = b.setAttr("threads", attrs.getAttrInt("threads"))
        .setAttr("height", attrs.getAttrInt("height"))
        .setAttr("width", attrs.getAttrInt("width"))
        .build();
    List<Operand<?>> grads = new ArrayList<>();
    for (int i = 0; i < g.numOutputs(); i++) grads.add(g.output(i));
    return grads;
  }
}
