package dev.ddpm4j.model;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.train.BatchMatMul;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * The DDPM U-Net (Ho et al. 2020, as in the seed) over NHWC images, built with the Ops API. Weight names:
 * {@code time.*}, {@code in.*}, {@code down<level>.*}, {@code mid.*}, {@code up<level>.*}, {@code out.*}.
 *
 * <ul>
 *   <li>timestep t -> sinusoidal embedding (base_channels wide) -> Dense -> SiLU -> Dense (4 * base_channels);
 *   <li>residual block: GroupNorm -> SiLU -> Conv3x3, + Dense(SiLU(temb)), GroupNorm -> SiLU -> Dropout -> Conv3x3
 *       (zero-initialized), 1x1 shortcut when the width changes;
 *   <li>self-attention: GroupNorm, q/k/v projections, {@code heads} heads, softmax(q k^T / sqrt(d)) v, output
 *       projection (zero-initialized), residual;
 *   <li>down path: num_res_blocks blocks per level (+ attention at attention_resolutions), stride-2 Conv3x3 between
 *       levels; middle Res-Attn-Res; up path with num_res_blocks+1 blocks per level, each concatenating one skip, and
 *       nearest-neighbour x2 + Conv3x3 (or a 4x4 stride-2 transposed conv) between levels; GroupNorm -> SiLU ->
 *       Conv3x3 (zero-initialized) out.
 * </ul>
 * A class-conditional model ({@code model.num_classes} = N > 0) adds a learned embedding of the label (N + 1 rows, row
 * N = no label) to the timestep embedding (weight {@code class.embedding}).
 * Other weights use variance scaling (fan_avg, uniform, scale 1), biases zero, GroupNorm gamma one and beta zero, as
 * the DDPM reference implementation.
 */
public final class UNet {
  /** Dropout applied in training; absent at inference. */
  public interface Dropout {
    <T extends TFloating> Operand<T> apply(Ops tf, Operand<T> x, int layer);

    /** Layer's rate and mask key for the fused op to draw the mask itself, or null where only apply can. */
    default KeyedDropout keyed(Ops tf, int layer) {
      return null;
    }
  }

  /** A dropout's rate and the int64 [2] key its masks are a function of. */
  public record KeyedDropout(double rate, Operand<TInt64> key) {}

  private final ExperimentConfig.Model cfg;
  private final int imageChannels;
  private final int imageSize;
  private final int outputChannels;
  private final int fusedThreads; // > 0: GroupNorm (+ SiLU) by FusedGroupNorm on that many threads
  private final boolean training; // gradients are taken through this network: see Pass.conv2d
  private final int winogradThreads; // > 0: float32 3x3 stride-1 convolutions by WinogradConv on that many threads

  /** @param outputChannels C, or 2C for a learned variance (the last C channels are its interpolation v) */
  public UNet(ExperimentConfig.Model cfg, int imageChannels, int imageSize, int outputChannels) {
    this(cfg, imageChannels, imageSize, outputChannels, 0, false, 0);
  }

  private UNet(ExperimentConfig.Model cfg, int imageChannels, int imageSize, int outputChannels, int fusedThreads,
      boolean training, int winogradThreads) {
    this.cfg = cfg;
    this.imageChannels = imageChannels;
    this.imageSize = imageSize;
    this.outputChannels = outputChannels;
    this.fusedThreads = fusedThreads;
    this.training = training;
    this.winogradThreads = winogradThreads;
  }

  /**
   * The same network for a graph that takes its gradients: a convolution with one output channel (the output layer of
   * a greyscale model) runs as two, the second filter a zero, and keeps the first. oneDNN 3.5's bfloat16 input
   * gradient of a convolution with a single output channel returned garbage on an AMD EPYC Zen 5 (family 26 model 2:
   * relative error 0.9, or 1e37 at the default model's 64x32x32x32 -> 1), so bf16 training learned from noise there;
   * two channels take another kernel. Same weights and values; exports keep the plain convolution (no gradients).
   */
  public UNet forTraining() {
    return new UNet(cfg, imageChannels, imageSize, outputChannels, fusedThreads, true, winogradThreads);
  }

  /**
   * The same network with each GroupNorm (and the SiLU after it) computed by {@link FusedGroupNorm} for float32 and
   * bfloat16: same weights, same values up to float rounding. For the training graph; exports use TensorFlow's ops.
   */
  public UNet withFusedGroupNorm(int threads) {
    if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    return new UNet(cfg, imageChannels, imageSize, outputChannels, threads, training, winogradThreads);
  }

  /**
   * The same network with each float32 3x3, stride-1 convolution whose channel counts are multiples of 16 computed as
   * a Winograd F(4x4, 3x3) convolution ({@link WinogradConv}): same weights, same values up to float rounding
   * (within 1e-5 of the largest value), 2.25 times fewer multiply-adds. For the training graph ({@link
   * #forTraining}: transforms around oneDNN products, each with a gradient) and the fp32-fast sampling graph (one
   * forward op per convolution, the output layer's too: {@link WinogradConv#forward}; there the other convolutions
   * with 16 input channels or more are {@link DirectConv}); exports use TensorFlow's ops.
   */
  public UNet withWinograd(int threads) {
    if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    return new UNet(cfg, imageChannels, imageSize, outputChannels, fusedThreads, training, threads);
  }

  /** The name suffix of a 3x3 kernel's Winograd filter transform among the weights handed to {@link MapParams}. */
  public static final String WINOGRAD_FILTER = "/winograd_filter";

  /**
   * The name suffix of an upsampling layer's Winograd filter transform: its four output phases as one 3x3 kernel
   * ({@link #phaseFilter}).
   */
  public static final String WINOGRAD_PHASES = "/winograd_phases";

  /** The name every upsampling layer's weights end with. */
  private static final String UPSAMPLE_WEIGHTS = ".upsample.w";

  /**
   * The Winograd filter transforms of the 3x3 kernels among {@code weights} (name + {@link #WINOGRAD_FILTER}) and of
   * the upsampling layers' four output phases (name + {@link #WINOGRAD_PHASES}), for a sampler to compute once and
   * hand into its loop with the weights, so a network call does not repeat them; none unless {@link #withWinograd} is
   * on. A kernel whose layer turns out not to fit never reads its entry.
   */
  public Map<String, Operand<TFloat32>> winogradFilters(Ops tf, Map<String, Operand<TFloat32>> weights) {
    Map<String, Operand<TFloat32>> out = new LinkedHashMap<>();
    if (winogradThreads == 0) return out;
    for (var e : weights.entrySet()) {
      long[] s = e.getValue().shape().asArray();
      if (s.length != 4 || s[2] % 16 != 0 || s[3] % 16 != 0) continue;
      if (e.getKey().endsWith(UPSAMPLE_WEIGHTS)) {
        out.put(e.getKey() + WINOGRAD_PHASES, phaseFilter(tf, e.getValue(), (int) s[2]));
      } else if (e.getKey().endsWith(".w") && s[0] == 3 && s[1] == 3) {
        out.put(e.getKey() + WINOGRAD_FILTER, WinogradConv.filter(tf, e.getValue(), s[2], s[3]));
      }
    }
    return out;
  }

  /**
   * The Winograd filter transform [36, ch, 4 ch] of an upsampling layer's four output phases ({@link #phaseKernel}),
   * from its weights: [3, 3, ch, ch] for {@code nearest_conv} ({@link #upsampleKernel}), the transposed convolution's
   * [4, 4, ch, ch] for {@code transposed_conv}.
   */
  public Operand<TFloat32> phaseFilter(Ops tf, Operand<TFloat32> w, int ch) {
    Operand<TFloat32> k = cfg.upsample().equals("transposed_conv") ? w : upsampleKernel(tf, TFloat32.class, w, ch, ch);
    return WinogradConv.filter(tf, phaseKernel(tf, TFloat32.class, k, ch, ch), ch, 4L * ch);
  }

  public static UNet of(ExperimentConfig c) {
    int ch = c.data().channels();
    return new UNet(c.model(), ch, c.data().imageSize(),
        c.diffusion().variance().equals("learned_range") ? 2 * ch : ch);
  }

  public int imageChannels() {
    return imageChannels;
  }

  public int imageSize() {
    return imageSize;
  }

  /**
   * Predicts from x [B,H,W,C] and integer timesteps t [B] (0-based); the output has the shape of x (2C channels with a
   * learned variance: the last C are its interpolation v). A class-conditional model ({@code model.num_classes > 0}) reads the condition's labels [B] (index num_classes = no label).
   */
  public <T extends TFloating> Operand<T> apply(Ops tf, Class<T> dtype, Params<T> params, Operand<T> x,
      Operand<TInt32> t, Condition condition, Dropout dropout) {
    Operand<TInt32> labels = condition.labels();
    if (cfg.conditional() && labels == null) {
      throw new IllegalArgumentException("a class-conditional U-Net (model.num_classes = " + cfg.numClasses()
          + ") needs labels");
    }
    if (!cfg.conditional() && labels != null) {
      throw new IllegalArgumentException("this U-Net is unconditional (model.num_classes = 0) and takes no labels");
    }
    return new Pass<>(tf, dtype, params, dropout).forward(x, t, labels);
  }

  /**
   * The weights this U-Net asks for, in the order it asks, with their shapes and initializers: a batch-1 forward pass
   * against placeholders in a scratch graph (no variables, nothing run).
   */
  public RecordingParams<TFloat32> weights() {
    try (Graph probe = new Graph()) {
      Ops tf = Ops.create(probe);
      RecordingParams<TFloat32> p = new RecordingParams<>(tf, TFloat32.class);
      Condition condition = cfg.conditional()
          ? Condition.labels(tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1))), null) : Condition.none();
      apply(tf, TFloat32.class, p,
          tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, imageSize, imageSize, imageChannels))),
          tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(1))), condition, null);
      return p;
    }
  }

  /** A convolution's kernel and bias, and the kernel's weight name. */
  private record Kernel<T extends TFloating>(String name, Operand<T> w, Operand<T> b) {}

  /** The sinusoidal frequencies exp(-ln(10000) * i / (half - 1)), i = 0..half-1, as in the DDPM reference. */
  public static double[] frequencies(int dim) {
    int half = dim / 2;
    double[] f = new double[half];
    double step = Math.log(10000) / Math.max(1, half - 1);
    for (int i = 0; i < half; i++) f[i] = Math.exp(-step * i);
    return f;
  }

  /**
   * GroupNorm of NHWC x with a two-pass variance: the group mean from per-channel sums, then the mean squared
   * deviation from it (E[x^2] - E[x]^2 loses every digit when the mean is large against the spread). Both passes are
   * per-channel reductions of x grouped afterwards, cheaper than a 5-D reshape of x. eps = 1e-5.
   *
   * <p>Means are sums times 1/n, a constant where H and W are static: the gradient of {@code Mean} asks for the input's
   * element count at run time ({@code Size}, which bf16 auto mixed precision feeds with a float32 copy of the whole
   * activation) and a {@code Div}; a constant scale has neither.
   */
  static <T extends TFloating> Operand<T> groupNorm(Ops tf, Class<T> dtype, Operand<T> x, int ch, int groups,
      Operand<T> gamma, Operand<T> beta) {
    Operand<TInt32> spatial = tf.constant(new int[] {1, 2});
    Operand<TInt32> last = tf.constant(2);
    long[] grouped = {-1, groups, ch / groups};
    long[] perChannel = {-1, 1, 1, ch};
    float[][][] onesArr = new float[1][1][ch / groups];
    for (int k = 0; k < ch / groups; k++) onesArr[0][0][k] = 1f;
    Operand<T> ones = tf.dtypes.cast(tf.constant(onesArr), dtype); // broadcasts [B,G,1] to [B,G,C/G]
    Operand<T> perGroup = perGroupScale(tf, dtype, x, ch / groups);
    Operand<T> s1 = tf.reduceSum(x, spatial); // [B, C]
    Operand<T> gm = tf.math.mul(tf.reduceSum(tf.reshape(s1, tf.constant(grouped)), last, ReduceSum.keepDims(true)),
        perGroup); // [B, G, 1]
    Operand<T> meanC = tf.reshape(tf.math.mul(ones, gm), tf.constant(perChannel));
    Operand<T> dev2 = tf.reduceSum(tf.math.squaredDifference(x, meanC), spatial); // [B, C]
    Operand<T> var = tf.math.mul(tf.reduceSum(tf.reshape(dev2, tf.constant(grouped)), last,
        ReduceSum.keepDims(true)), perGroup);
    Operand<T> inv = tf.math.rsqrt(tf.math.add(var, tf.dtypes.cast(tf.constant(1e-5), dtype)));
    Operand<T> invC = tf.reshape(tf.math.mul(ones, inv), tf.constant(perChannel));
    Operand<T> scale = tf.math.mul(invC, gamma);
    Operand<T> shift = tf.math.sub(beta, tf.math.mul(meanC, scale));
    return tf.math.add(tf.math.mul(x, scale), shift);
  }

  /**
   * A 1x1 convolution as one matrix product over all pixels ([B*H*W, in] x [in, out]): the same weights and result,
   * but oneDNN's 1x1 convolution gradients ran at a tenth of its MatMul speed (docs/BENCHMARKS.md). {@code b} null: no
   * bias (the caller adds it elsewhere).
   */
  static <T extends TFloating> Operand<T> pointwise(Ops tf, Operand<T> x, Operand<T> w, Operand<T> b, int in,
      int out) {
    Operand<T> y = tf.linalg.matMul(tf.reshape(x, tf.constant(new long[] {-1, in})),
        tf.reshape(w, tf.constant(new long[] {in, out})));
    if (b != null) y = tf.nn.biasAdd(y, b);
    boolean known = x.shape().numDimensions() == 4 && x.shape().size(1) > 0 && x.shape().size(2) > 0;
    Operand<TInt32> shape = known
        ? tf.constant(new int[] {-1, (int) x.shape().size(1), (int) x.shape().size(2), out})
        : tf.concat(List.of(tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {3})),
            tf.constant(new int[] {out})), tf.constant(0));
    return tf.reshape(y, shape);
  }

  /**
   * Nearest-neighbour 2x upsampling followed by a 3x3 SAME convolution with weights w [3, 3, in, out], computed as one
   * stride-2 transposed convolution of the small input. Each output row 2m sees input rows m-1 and m with the weight
   * rows W0 and W1+W2, and row 2m+1 sees rows m and m+1 with W0+W1 and W2; the same holds for columns. So the 4x4
   * kernel is K = M W M^T with M = [[0,0,1],[0,1,1],[1,1,0],[1,0,0]] (a transposed convolution flips its kernel), and
   * the layer costs 16 instead of 4 * 9 multiply-adds per input pixel and channel pair, with no upsampled tensor
   * (docs/BENCHMARKS.md). Same weights, same values up to float rounding.
   */
  static <T extends TFloating> Operand<T> upsampleConv(Ops tf, Class<T> dtype, Operand<T> x, Operand<T> w,
      Operand<T> b, int in, int out, int res) {
    return transposedConv2x(tf, x, upsampleKernel(tf, dtype, w, in, out), b, out, res);
  }

  /** The 4x4 transposed-convolution filter [r, c, out, in] of {@link #upsampleConv} for 3x3 weights [3, 3, in, out]. */
  static <T extends TFloating> Operand<T> upsampleKernel(Ops tf, Class<T> dtype, Operand<T> w, int in, int out) {
    Operand<T> m = tf.dtypes.cast(tf.constant(new float[][] {{0, 0, 1}, {0, 1, 1}, {1, 1, 0}, {1, 0, 0}}), dtype);
    Operand<TInt32> swap = tf.constant(new int[] {1, 0, 2, 3});
    Operand<T> rows = tf.reshape(tf.linalg.matMul(m, tf.reshape(w, tf.constant(new long[] {3, 3L * in * out}))),
        tf.constant(new long[] {4, 3, in, out})); // [r, v, in, out]
    Operand<T> cols = tf.linalg.matMul(m, tf.reshape(tf.linalg.transpose(rows, swap),
        tf.constant(new long[] {3, 4L * in * out}))); // [c, r * in * out]
    return tf.linalg.transpose(tf.reshape(cols, tf.constant(new long[] {4, 4, in, out})),
        tf.constant(new int[] {1, 0, 3, 2})); // [r, c, out, in]: a transposed convolution's filter layout
  }

  /**
   * The stride-2 SAME transposed convolution's filter k [4, 4, out, in] as the 3x3 filter [3, 3, in, 4 * out] of its
   * four output phases. Output row 2m sums input rows m-1 and m with filter rows 3 and 1, row 2m+1 rows m and m+1
   * with filter rows 2 and 0 (the transposed convolution puts input row i at output rows 2i-1 .. 2i+2 with filter
   * rows 0 .. 3); the same holds for columns. So phase (a, b)'s kernel is S_a K S_b^T with the 3x4 selections S_0 =
   * [[0,0,0,1],[0,1,0,0],[0,0,0,0]] and S_1 = [[0,0,0,0],[0,0,1,0],[1,0,0,0]], a 3x3 kernel with zeros, and its
   * channels go to output channel (2a + b) * out + o, the order DepthToSpace reads.
   */
  static <T extends TFloating> Operand<T> phaseKernel(Ops tf, Class<T> dtype, Operand<T> k, int in, int out) {
    Operand<T> s = tf.dtypes.cast(tf.constant(new float[][] {{0, 0, 0, 1}, {0, 1, 0, 0}, {0, 0, 0, 0},
        {0, 0, 0, 0}, {0, 0, 1, 0}, {1, 0, 0, 0}}), dtype); // [S_0; S_1]: row 3a + r
    long per = 4L * out * in;
    Operand<T> rows = tf.reshape(tf.linalg.matMul(s, tf.reshape(k, tf.constant(new long[] {4, per}))),
        tf.constant(new long[] {6, 4, out, in})); // [(a, r), l, out, in]
    Operand<T> cols = tf.linalg.matMul(s, tf.reshape(tf.linalg.transpose(rows, tf.constant(new int[] {1, 0, 2, 3})),
        tf.constant(new long[] {4, 6 * (long) out * in}))); // [(b, c), (a, r) * out * in]
    Operand<T> split = tf.reshape(cols, tf.constant(new long[] {2, 3, 2, 3, out, in})); // [b, c, a, r, o, i]
    return tf.reshape(tf.linalg.transpose(split, tf.constant(new int[] {3, 1, 5, 2, 0, 4})),
        tf.constant(new long[] {3, 3, in, 4L * out})); // [r, c, i, (a, b, o)]
  }

  /** Stride-2 SAME transposed conv of x [B, res, res, in] by k [kh, kw, out, in], plus bias: [B, 2res, 2res, out]. */
  static <T extends TFloating> Operand<T> transposedConv2x(Ops tf, Operand<T> x, Operand<T> k, Operand<T> b, int out,
      int res) {
    Operand<TInt32> batch = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    Operand<TInt32> sizes = tf.concat(List.of(batch, tf.constant(new int[] {2 * res, 2 * res, out})), tf.constant(0));
    return tf.nn.biasAdd(tf.nn.conv2dBackpropInput(sizes, k, x, List.of(1L, 2L, 2L, 1L), "SAME"), b);
  }

  /**
   * 1 / (H * W * channels per group): a constant where H and W are static (the training graph), else from the
   * run-time shape (a sampler loop body traced with unknown spatial dims); {@code Shape} carries no gradient.
   */
  private static <T extends TFloating> Operand<T> perGroupScale(Ops tf, Class<T> dtype, Operand<T> x, int perGroup) {
    long h = x.shape().numDimensions() == 4 ? x.shape().size(1) : -1;
    long w = x.shape().numDimensions() == 4 ? x.shape().size(2) : -1;
    if (h > 0 && w > 0) return tf.dtypes.cast(tf.constant((float) (1.0 / (h * w * perGroup))), dtype);
    Operand<TInt32> hw = tf.reduceProd(tf.slice(tf.shape(x), tf.constant(new int[] {1}), tf.constant(new int[] {2})),
        tf.constant(0));
    return tf.math.reciprocal(tf.dtypes.cast(tf.math.mul(hw, tf.constant(perGroup)), dtype));
  }

  private final class Pass<T extends TFloating> {
    final Ops tf;
    final Class<T> dtype;
    final Params<T> p;
    final Dropout dropout;
    int dropoutLayers;

    Pass(Ops tf, Class<T> dtype, Params<T> p, Dropout dropout) {
      this.tf = tf;
      this.dtype = dtype;
      this.p = p;
      this.dropout = dropout;
    }

    /** Whether x is [N, H, W, C] with H, W and C known. */
    boolean imageShapeKnown(Shape x) {
      return x.numDimensions() == 4 && x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0;
    }

    Operand<T> c(double v) {
      return tf.dtypes.cast(tf.constant(v), dtype);
    }

    Operand<T> forward(Operand<T> x, Operand<TInt32> t, Operand<TInt32> labels) {
      int base = cfg.baseChannels();
      if (winogradThreads > 0 && !imageShapeKnown(x.shape())) {
        // Our ops need static image sizes, and a conditional sampler's rows (Guidance: a Slice of a size it computes)
        // have none: without this the emoji export's sampling loop ran most of its convolutions as Conv2D. Exports
        // (no Winograd) keep their graphs.
        x = tf.reshape(x, tf.constant(new long[] {-1, imageSize, imageSize, imageChannels}));
      }
      Operand<T> temb = timeEmbedding(t, base);
      if (labels != null) {
        // one learned row per class plus the "no label" row, added to the timestep embedding the blocks read
        int width = 4 * base;
        Operand<T> table = p.get("class.embedding", new long[] {cfg.numClasses() + 1, width},
            Init.fanAvgUniform(1.0, cfg.numClasses() + 1L, width));
        temb = tf.math.add(temb, tf.gather(table, labels, tf.constant(0)));
      }
      Deque<Operand<T>> skips = new ArrayDeque<>();
      Deque<Integer> skipWidths = new ArrayDeque<>();
      Operand<T> h = conv("in", x, imageChannels, base, 3, 1, 1.0);
      skips.push(h);
      skipWidths.push(base);
      int ch = base;
      int res = imageSize;
      int levels = cfg.levels();
      for (int level = 0; level < levels; level++) {
        int out = base * cfg.channelMults().get(level);
        for (int b = 0; b < cfg.numResBlocks(); b++) {
          String name = "down" + level + ".res" + b;
          h = resBlock(name, h, ch, out, temb);
          ch = out;
          if (cfg.attentionResolutions().contains(res)) h = attention("down" + level + ".attn" + b, h, ch, res);
          skips.push(h);
          skipWidths.push(ch);
        }
        if (level < levels - 1) {
          h = conv("down" + level + ".downsample", h, ch, ch, 3, 2, 1.0);
          res /= 2;
          skips.push(h);
          skipWidths.push(ch);
        }
      }
      h = resBlock("mid.res0", h, ch, ch, temb);
      h = attention("mid.attn", h, ch, res);
      h = resBlock("mid.res1", h, ch, ch, temb);
      for (int level = levels - 1; level >= 0; level--) {
        int out = base * cfg.channelMults().get(level);
        for (int b = 0; b < cfg.numResBlocks() + 1; b++) {
          int skipCh = skipWidths.pop();
          h = resBlock("up" + level + ".res" + b, h, skips.pop(), ch + skipCh, out, temb);
          ch = out;
          if (cfg.attentionResolutions().contains(res)) h = attention("up" + level + ".attn" + b, h, ch, res);
        }
        if (level > 0) {
          h = upsample("up" + level + ".upsample", h, ch, res);
          res *= 2;
        }
      }
      h = normSilu("out.norm", h, ch);
      return conv("out.conv", h, ch, outputChannels, 3, 1, 0.0);
    }

    Operand<T> timeEmbedding(Operand<TInt32> t, int dim) {
      double[] f = frequencies(dim);
      Operand<T> freqs = tf.dtypes.cast(tf.constant(f), dtype);
      Operand<T> args = tf.math.mul(tf.expandDims(tf.dtypes.cast(t, dtype), tf.constant(1)),
          tf.expandDims(freqs, tf.constant(0)));
      Operand<T> emb = tf.concat(List.of(tf.math.sin(args), tf.math.cos(args)), tf.constant(1));
      int width = 4 * cfg.baseChannels();
      Operand<T> h = dense("time.dense0", emb, 2 * f.length, width, 1.0);
      return dense("time.dense1", silu(h), width, width, 1.0);
    }

    Operand<T> resBlock(String name, Operand<T> x, int in, int out, Operand<T> temb) {
      return resBlock(name, x, null, in, out, temb);
    }

    /**
     * The residual block of concat(x, skip) along the channels (skip null: of x; in: both's channels). Where the
     * fp32-fast graph's ops take the two inputs apart (its GroupNorm and the direct 1x1 shortcut), the concatenation is
     * never written: a pass over the block's widest activation out to memory and back saved.
     */
    @SuppressWarnings("unchecked")
    Operand<T> resBlock(String name, Operand<T> x, Operand<T> skip, int in, int out, Operand<T> temb) {
      boolean apart = skip != null && in != out && fused() && directAsked(in) && FusedGroupNorm.concatAvailable()
          && DirectConv.fits(DirectConv.concatShape(x.shape(), skip.shape()), 1, 1, in, out);
      if (skip != null && !apart) {
        x = tf.concat(List.of(x, skip), tf.constant(3));
        skip = null;
      }
      Operand<T> h;
      if (apart) {
        Operand<T> gamma = p.get(name + ".norm1.gamma", new long[] {in}, Init.ONES);
        Operand<T> beta = p.get(name + ".norm1.beta", new long[] {in}, Init.ZEROS);
        h = (Operand<T>) FusedGroupNorm.applyConcat(tf, (Operand<TFloat32>) x, (Operand<TFloat32>) skip,
            (Operand<TFloat32>) gamma, (Operand<TFloat32>) beta, cfg.groups(), true, fusedThreads);
      } else {
        h = normSilu(name + ".norm1", x, in);
      }
      Kernel<T> c1 = kernel(name + ".conv1", in, out, 3, 1.0);
      Operand<T> proj = dense(name + ".temb", silu(temb), 4 * cfg.baseChannels(), out, 1.0);
      h = conv2d(h, c1, c1.b(), proj, in, out, 3, 1); // the embedding added inside a Winograd convolution
      KeyedDropout keyed = fused() && dropout != null && cfg.dropout() > 0 ? dropout.keyed(tf, dropoutLayers) : null;
      if (keyed != null) { // dropout inside the fused op
        h = norm(name + ".norm2", h, out, true, keyed);
        dropoutLayers++;
      } else {
        h = normSilu(name + ".norm2", h, out);
        if (dropout != null && cfg.dropout() > 0) h = dropout.apply(tf, h, dropoutLayers++);
      }
      if (in == out) return tf.math.add(x, conv(name + ".conv2", h, out, out, 3, 1, 0.0));
      // shortcut(x) + conv2(h) needs the two biases once, so conv2's fused BiasAdd adds both and the 1x1 shortcut is a
      // bare product: fused with its own BiasAdd, oneDNN ran it as an inner_product off the AMX kernel under bf16
      // (8.7 against 2.5 ms for 65536x96 -> 32), and a separate bias Add would cost a pass over the activation
      Kernel<T> c2 = kernel(name + ".conv2", out, out, 3, 0.0);
      Kernel<T> sc = kernel(name + ".shortcut", in, out, 1, 1.0);
      Operand<T> product = conv2d(h, c2, tf.math.add(c2.b(), sc.b()), null, out, out, 3, 1);
      if (apart || direct(x, 1, 1, in, out)) { // the sum inside, the input read apart from its skip where it is one
        return directConv(x, skip, sc.w(), null, product, in, out, 1, 1);
      }
      return tf.math.add(pointwise(tf, x, sc.w(), null, in, out), product);
    }

    Operand<T> attention(String name, Operand<T> x, int ch, int res) {
      int heads = cfg.heads();
      int d = ch / heads;
      long hw = (long) res * res;
      Shape layer = Shape.of(-1, res, res, ch);
      if (directAsked(ch) && DirectConv.fits(layer, 1, 1, ch, 3 * ch) && DirectConv.fits(layer, 1, 1, ch, ch)
          && Attention.fits(Shape.of(-1, res, res, 3L * ch), ch, heads)) { // fp32-fast: three ops
        // its static shape set for the direct convolution (a conditional sampler's rows had lost it before forward
        // set the input's; kept for any other op that loses it)
        Operand<T> normed = tf.reshape(groupNorm(name + ".norm", x, ch), tf.constant(new long[] {-1, res, res, ch}));
        Kernel<T> q = denseKernel(name + ".q", ch, ch, 1.0);
        Kernel<T> k = denseKernel(name + ".k", ch, ch, 1.0);
        Kernel<T> v = denseKernel(name + ".v", ch, ch, 1.0);
        Operand<T> qkv = directConv(normed, tf.concat(List.of(q.w(), k.w(), v.w()), tf.constant(1)),
            tf.concat(List.of(q.b(), k.b(), v.b()), tf.constant(0)), null, ch, 3 * ch, 1, 1);
        @SuppressWarnings("unchecked")
        Operand<T> a = (Operand<T>) Attention.forward(tf, (Operand<TFloat32>) qkv, ch, heads, winogradThreads);
        Kernel<T> proj = denseKernel(name + ".proj", ch, ch, 0.0);
        return directConv(a, proj.w(), proj.b(), x, ch, ch, 1, 1);
      }
      Operand<T> h = tf.reshape(groupNorm(name + ".norm", x, ch), tf.constant(new long[] {-1, ch}));
      Operand<T> q = splitHeads(dense(name + ".q", h, ch, ch, 1.0), hw, heads, d);
      Operand<T> k = splitHeads(dense(name + ".k", h, ch, ch, 1.0), hw, heads, d);
      Operand<T> v = splitHeads(dense(name + ".v", h, ch, ch, 1.0), hw, heads, d);
      Operand<T> scores = tf.math.mul(tf.train.batchMatMul(q, k, dtype, BatchMatMul.adjY(true)), c(1.0 / Math.sqrt(d)));
      Operand<T> w = tf.nn.softmax(scores);
      Operand<T> a = tf.train.batchMatMul(w, v, dtype); // [B, heads, HW, d]
      a = tf.reshape(tf.linalg.transpose(a, tf.constant(new int[] {0, 2, 1, 3})), tf.constant(new long[] {-1, ch}));
      Operand<T> o = dense(name + ".proj", a, ch, ch, 0.0);
      return tf.math.add(x, tf.reshape(o, tf.constant(new long[] {-1, res, res, ch})));
    }

    Operand<T> splitHeads(Operand<T> x, long hw, int heads, int d) {
      Operand<T> r = tf.reshape(x, tf.constant(new long[] {-1, hw, heads, d}));
      return tf.linalg.transpose(r, tf.constant(new int[] {0, 2, 1, 3}));
    }

    @SuppressWarnings("unchecked")
    Operand<T> upsample(String name, Operand<T> x, int ch, int res) {
      boolean transposed = cfg.upsample().equals("transposed_conv");
      Operand<T> w = transposed
          ? p.get(name + ".w", new long[] {4, 4, ch, ch}, Init.fanAvgUniform(1.0, 16L * ch, 16L * ch))
          : p.get(name + ".w", new long[] {3, 3, ch, ch}, Init.fanAvgUniform(1.0, 9L * ch, 9L * ch));
      Operand<T> b = p.get(name + ".b", new long[] {ch}, Init.ZEROS);
      if (!training && winogradThreads > 0 && dtype == TFloat32.class && ch % 16 == 0
          && WinogradConv.oneOp(x.shape(), 3, 1, ch, 4 * ch)) {
        // no gradient: the four phases as one op that writes them upsampled, their filter transform once per loop
        Operand<T> derived = p.derived(name + ".w" + WINOGRAD_PHASES);
        Operand<TFloat32> u = derived != null ? (Operand<TFloat32>) derived : phaseFilter(tf, (Operand<TFloat32>) w, ch);
        return (Operand<T>) WinogradConv.forward(tf, (Operand<TFloat32>) x, null, u,
            (Operand<TFloat32>) tf.tile(b, tf.constant(new int[] {4})), null, ch, 4 * ch, winogradThreads, true);
      }
      return upsample2x(x, transposed ? w : upsampleKernel(tf, dtype, w, ch, ch), b, ch, ch, res);
    }

    /**
     * {@link #transposedConv2x} by k [4, 4, out, in]; where Winograd is on and the layer fits, its four output phases
     * as one 3x3 convolution to 4 * out channels ({@link #phaseKernel}, Winograd) and a DepthToSpace: the same
     * function, 9 instead of 16 multiply-adds per input pixel and channel pair, and on the fast path (oneDNN's
     * stride-2 transposed convolution and its gradient ran at a third of the MatMul ceiling, docs/BENCHMARKS.md).
     */
    Operand<T> upsample2x(Operand<T> x, Operand<T> k, Operand<T> b, int in, int out, int res) {
      if (winogradThreads > 0 && dtype == TFloat32.class && WinogradConv.fits(x.shape(), 3, 1, in, 4 * out)) {
        // DepthToSpace puts phase channel p * out + c at output channel c: the bias of every phase is b
        Operand<T> phases = conv2d(x, phaseKernel(tf, dtype, k, in, out), tf.tile(b, tf.constant(new int[] {4})), in,
            4 * out, 3, 1);
        return tf.nn.depthToSpace(phases, 2L);
      }
      return transposedConv2x(tf, x, k, b, out, res);
    }

    Operand<T> groupNorm(String name, Operand<T> x, int ch) {
      return norm(name, x, ch, false, null);
    }

    /** SiLU(GroupNorm(x)). */
    Operand<T> normSilu(String name, Operand<T> x, int ch) {
      return norm(name, x, ch, true, null);
    }

    /** Whether GroupNorm runs as the fused op here: asked for, and a type it has kernels for. */
    boolean fused() {
      return fusedThreads > 0 && (dtype == TFloat32.class || dtype == TBfloat16.class);
    }

    /** @param keyed a dropout after the SiLU, fused; only where {@link #fused()} */
    Operand<T> norm(String name, Operand<T> x, int ch, boolean thenSilu, KeyedDropout keyed) {
      Operand<T> gamma = p.get(name + ".gamma", new long[] {ch}, Init.ONES);
      Operand<T> beta = p.get(name + ".beta", new long[] {ch}, Init.ZEROS);
      if (fused()) return FusedGroupNorm.apply(tf, x, gamma, beta, cfg.groups(), thenSilu, fusedThreads, keyed);
      if (keyed != null) throw new IllegalStateException("a fused dropout needs the fused op");
      Operand<T> y = UNet.groupNorm(tf, dtype, x, ch, cfg.groups(), gamma, beta);
      return thenSilu ? silu(y) : y;
    }

    Operand<T> conv(String name, Operand<T> x, int in, int out, int k, int stride, double scale) {
      return conv(kernel(name, in, out, k, scale), x, in, out, k, stride);
    }

    /** The convolution by a kernel already asked for, with its bias. */
    Operand<T> conv(Kernel<T> c, Operand<T> x, int in, int out, int k, int stride) {
      if (k == 1 && stride == 1) return pointwise(tf, x, c.w(), c.b(), in, out);
      return conv2d(x, c, c.b(), null, in, out, k, stride);
    }

    /** conv2d by a kernel asked for by name: its Winograd filter transform where the params hold it. */
    Operand<T> conv2d(Operand<T> x, Kernel<T> c, Operand<T> b, Operand<T> perSample, int in, int out, int k,
        int stride) {
      return conv2d(x, c.w(), p.derived(c.name() + WINOGRAD_FILTER), b, perSample, in, out, k, stride);
    }

    /** A SAME convolution without bias: Winograd where {@link #withWinograd} asked for it and the layer fits. */
    Operand<T> conv2d(Operand<T> x, Operand<T> w, int in, int out, int k, int stride) {
      return conv2d(x, w, null, null, null, in, out, k, stride);
    }

    /** A SAME convolution plus a bias (null: none). */
    Operand<T> conv2d(Operand<T> x, Operand<T> w, Operand<T> b, int in, int out, int k, int stride) {
      return conv2d(x, w, null, b, null, in, out, k, stride);
    }

    /**
     * A SAME convolution plus a bias and a per-sample term [N, out] (each may be null). A Winograd one ({@link
     * WinogradConv}) adds both inside and uses {@code filter}, the kernel's filter transform, where one is given
     * ({@link Params#derived}).
     */
    @SuppressWarnings("unchecked")
    private Operand<T> conv2d(Operand<T> x, Operand<T> w, Operand<T> filter, Operand<T> b, Operand<T> perSample,
        int in, int out, int k, int stride) {
      if (!training && winogradThreads > 0 && dtype == TFloat32.class
          && WinogradConv.oneOp(x.shape(), k, stride, in, out)) { // no gradient: the whole convolution as one op
        return (Operand<T>) WinogradConv.forward(tf, (Operand<TFloat32>) x, (Operand<TFloat32>) w,
            (Operand<TFloat32>) filter, (Operand<TFloat32>) b, (Operand<TFloat32>) perSample, in, out,
            winogradThreads);
      }
      if (perSample == null && direct(x, k, stride, in, out)) return directConv(x, w, b, null, in, out, k, stride);
      if (winograd(x, k, stride, in, out)) {
        return (Operand<T>) WinogradConv.conv(tf, (Operand<TFloat32>) x, (Operand<TFloat32>) w,
            (Operand<TFloat32>) filter, (Operand<TFloat32>) b, (Operand<TFloat32>) perSample, in, out,
            winogradThreads);
      }
      Operand<T> y;
      if (training && out == 1) { // see forTraining: as two output channels, the second filter a zero
        Operand<T> w2 = tf.pad(w, tf.constant(new int[][] {{0, 0}, {0, 0}, {0, 0}, {0, 1}}),
            tf.dtypes.cast(tf.constant(0f), dtype));
        Operand<T> y2 = tf.nn.conv2d(x, w2, List.of(1L, (long) stride, (long) stride, 1L), "SAME");
        y = tf.slice(y2, tf.constant(new int[] {0, 0, 0, 0}), tf.constant(new int[] {-1, -1, -1, 1}));
      } else {
        y = tf.nn.conv2d(x, w, List.of(1L, (long) stride, (long) stride, 1L), "SAME");
      }
      if (b != null) y = tf.nn.biasAdd(y, b);
      return perSample == null ? y : tf.math.add(y, tf.reshape(perSample, tf.constant(new long[] {-1, 1, 1, out})));
    }

    /**
     * Whether a graph without gradients runs this convolution as {@link DirectConv} (one op of ours, forward only):
     * asked for by {@link #withWinograd}, float32, and the layer fits; {@link #conv2d} asks Winograd first. Not the
     * input layer (one or three channels): its 9 multiply-adds per output between setting up each block of pixels
     * took 7.6 ms against oneDNN's 3.1 (docs/BENCHMARKS.md).
     */
    boolean direct(Operand<T> x, int k, int stride, int in, int out) {
      return directAsked(in) && DirectConv.fits(x.shape(), k, stride, in, out);
    }

    /** Whether this graph runs a convolution of {@code in} input channels as {@link DirectConv} where it fits. */
    boolean directAsked(int in) {
      return !training && winogradThreads > 0 && dtype == TFloat32.class && in >= 16;
    }

    Operand<T> directConv(Operand<T> x, Operand<T> w, Operand<T> b, Operand<T> residual, int in, int out, int k,
        int stride) {
      return directConv(x, null, w, b, residual, in, out, k, stride);
    }

    /** {@link DirectConv#forward} of concat(x, x2) (x2 null: of x), on this network's threads. */
    @SuppressWarnings("unchecked")
    Operand<T> directConv(Operand<T> x, Operand<T> x2, Operand<T> w, Operand<T> b, Operand<T> residual, int in,
        int out, int k, int stride) {
      return (Operand<T>) DirectConv.forward(tf, (Operand<TFloat32>) x, (Operand<TFloat32>) x2, (Operand<TFloat32>) w,
          (Operand<TFloat32>) b, (Operand<TFloat32>) residual, in, out, k, stride, winogradThreads);
    }

    /** Whether this convolution runs as Winograd: asked for by {@link #withWinograd}, float32, and the layer fits. */
    boolean winograd(Operand<T> x, int k, int stride, int in, int out) {
      return winogradThreads > 0 && dtype == TFloat32.class && WinogradConv.fits(x.shape(), k, stride, in, out);
    }

    /** A k x k convolution's kernel [k, k, in, out] and bias [out], asked for in that order (it names them). */
    Kernel<T> kernel(String name, int in, int out, int k, double scale) {
      long fanIn = (long) k * k * in;
      long fanOut = (long) k * k * out;
      Init init = scale == 0 ? Init.ZEROS : Init.fanAvgUniform(scale, fanIn, fanOut);
      Operand<T> w = p.get(name + ".w", new long[] {k, k, in, out}, init);
      Operand<T> b = p.get(name + ".b", new long[] {out}, Init.ZEROS);
      return new Kernel<>(name + ".w", w, b);
    }

    Operand<T> dense(String name, Operand<T> x, int in, int out, double scale) {
      Kernel<T> d = denseKernel(name, in, out, scale);
      return tf.nn.biasAdd(tf.linalg.matMul(x, d.w()), d.b());
    }

    /** A dense layer's weights [in, out] and bias [out], asked for in that order (it names them). */
    Kernel<T> denseKernel(String name, int in, int out, double scale) {
      Init init = scale == 0 ? Init.ZEROS : Init.fanAvgUniform(scale, in, out);
      Operand<T> w = p.get(name + ".w", new long[] {in, out}, init);
      Operand<T> b = p.get(name + ".b", new long[] {out}, Init.ZEROS);
      return new Kernel<>(name + ".w", w, b);
    }

    Operand<T> silu(Operand<T> x) {
      return tf.math.mul(x, tf.math.sigmoid(x));
    }
  }
}
