package dev.ddpm4j.export;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.diffusion.AncestralSampler;
import dev.ddpm4j.diffusion.DdimSampler;
import dev.ddpm4j.diffusion.DiffusionOps;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.model.UNet;
import dev.ddpm4j.model.VariableParams;
import dev.ddpm4j.train.TrainingGraph;
import java.util.LinkedHashMap;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint8;

/**
 * The graph a SavedModel is exported from: only the U-Net's weights (named like the training checkpoint's
 * {@code ema/*} or {@code unet/*} variables, so {@code Session.restore} fills them), no gradients or optimizer state,
 * and the public signatures {@code sample}, {@code denoise} and {@code q_sample}.
 */
public final class InferenceGraph {
  public static final String SAMPLE = "sample";
  public static final String DENOISE = "denoise";
  public static final String Q_SAMPLE = "q_sample";
  public static final String SAMPLE_DDIM = "sample_ddim";

  public final Signature sample;
  public final Signature denoise;
  public final Signature qSample;
  public final Signature servingDefault;
  public final Signature sampleDdim;

  /** @param weights {@code ema} or {@code raw}: which training variables the export's weights are restored from */
  public InferenceGraph(ExperimentConfig cfg, Graph graph, String weights) {
    Ops tf = Ops.create(graph);
    int size = cfg.data().imageSize();
    int ch = cfg.data().channels();
    Shape image = Shape.of(-1, size, size, ch);
    Schedule schedule = Schedule.of(cfg.diffusion());
    UNet unet = UNet.of(cfg);
    Normalizer norm = Normalizer.of(cfg.data());
    VariableParams<TFloat32> params = new VariableParams<>(tf, TFloat32.class, weights.equals("ema") ? "ema" : "unet", 0);
    DiffusionOps<TFloat32> diffusion = new DiffusionOps<>(tf, TFloat32.class, schedule);

    // denoise: eps and the implied x0 at (x_t, t).
    Placeholder<TFloat32> xt = tf.withName("denoise_x_t").placeholder(TFloat32.class, Placeholder.shape(image));
    Placeholder<TInt32> t = tf.withName("denoise_t").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    Operand<TInt32> tChecked = checkedTimesteps(tf, t, xt, schedule.timesteps);
    String prediction = cfg.diffusion().prediction();
    Operand<TFloat32> out = unet.apply(tf, TFloat32.class, params, xt, tChecked, null);
    Operand<TFloat32> eps = tf.withName("denoise_eps").identity(diffusion.predictedEps(prediction, out, xt, tChecked));
    Operand<TFloat32> x0 = tf.withName("denoise_x0").identity(diffusion.predictedX0(prediction, out, xt, tChecked));
    denoise = Signature.builder(DENOISE).input("x_t", xt).input("t", t).output("eps", eps).output("x0", x0).build();

    // q_sample: noise real images.
    Placeholder<TFloat32> qx0 = tf.withName("q_x0").placeholder(TFloat32.class, Placeholder.shape(image));
    Placeholder<TInt32> qt = tf.withName("q_t").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
    Placeholder<TFloat32> qn = tf.withName("q_noise").placeholder(TFloat32.class, Placeholder.shape(image));
    Operand<TFloat32> qxt = tf.withName("q_x_t").identity(diffusion.qSample(qx0, checkedTimesteps(tf, qt, qx0,
        schedule.timesteps), qn));
    qSample = Signature.builder(Q_SAMPLE).input("x0", qx0).input("t", qt).input("noise", qn).output("x_t", qxt).build();

    // sample: the whole reverse process in one while loop over the weights.
    Placeholder<TInt64> seed = tf.withName("sample_seed").placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
    Placeholder<TInt32> num = tf.withName("sample_num_images").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    var numOk = tf.assertThat(tf.math.greater(num, tf.constant(0)),
        List.of(tf.constant("num_images must be >= 1, got"), num));
    Operand<TInt32> numChecked = tf.withControlDependencies(List.of(numOk)).identity(num);
    LinkedHashMap<String, Operand<TFloat32>> reads = new LinkedHashMap<>(params.reads());
    double[] low = norm.lows();
    double[] high = norm.highs();
    float[] scale = new float[ch];
    float[] shift = new float[ch];
    for (int k = 0; k < ch; k++) {
      scale[k] = (float) (double) norm.scale().get(k);
      shift[k] = (float) (double) norm.shift().get(k);
    }
    AncestralSampler.Denoiser denoiser = TrainingGraph.x0Denoiser(unet, schedule, prediction);
    AncestralSampler sampler = new AncestralSampler(schedule, cfg.diffusion().variance(), low, high);
    Operand<TFloat32> samples = tf.withName("sample_samples").identity(sampler.sample(tf.withSubScope("sampler"),
        denoiser, reads, seed, numChecked, size, size, ch));
    Operand<TUint8> images = tf.withName("sample_images").dtypes.cast(toPixels(tf, samples, scale, shift), TUint8.class);
    sample = Signature.builder(SAMPLE).input("seed", seed).input("num_images", num)
        .output("images", images).output("samples", samples).build();
    servingDefault = Signature.builder(Signature.DEFAULT_KEY).input("seed", seed).input("num_images", num)
        .output("images", images).output("samples", samples).build();

    // sample_ddim: K of the T steps, eta from 0 (deterministic) to 1.
    Placeholder<TInt64> dSeed = tf.withName("ddim_seed").placeholder(TInt64.class, Placeholder.shape(Shape.scalar()));
    Placeholder<TInt32> dNum = tf.withName("ddim_num_images").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    Placeholder<TInt32> dSteps = tf.withName("ddim_num_steps").placeholder(TInt32.class, Placeholder.shape(Shape.scalar()));
    Placeholder<TFloat32> dEta = tf.withName("ddim_eta").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
    var dOk = List.<org.tensorflow.op.Op>of(
        tf.assertThat(tf.math.greater(dNum, tf.constant(0)), List.of(tf.constant("num_images must be >= 1, got"), dNum)),
        tf.assertThat(tf.math.logicalAnd(tf.math.greaterEqual(dSteps, tf.constant(1)),
            tf.math.lessEqual(dSteps, tf.constant(schedule.timesteps))),
            List.of(tf.constant("num_steps must be in [1, " + schedule.timesteps + "], got"), dSteps)),
        tf.assertThat(tf.math.logicalAnd(tf.math.greaterEqual(dEta, tf.constant(0f)),
            tf.math.lessEqual(dEta, tf.constant(1f))), List.of(tf.constant("eta must be in [0, 1], got"), dEta)));
    Ops checked = tf.withControlDependencies(dOk);
    Operand<TFloat32> ddim = tf.withName("ddim_samples").identity(new DdimSampler(schedule, low, high).sample(
        tf.withSubScope("ddim"), denoiser, reads, dSeed, checked.identity(dNum), checked.identity(dSteps),
        checked.identity(dEta), size, size, ch));
    Operand<TUint8> ddimImages = tf.withName("ddim_images").dtypes.cast(toPixels(tf, ddim, scale, shift), TUint8.class);
    sampleDdim = Signature.builder(SAMPLE_DDIM).input("seed", dSeed).input("num_images", dNum)
        .input("num_steps", dSteps).input("eta", dEta).output("images", ddimImages).output("samples", ddim).build();
  }

  /** Pixels: the exact inverse of the training normalization, rounded and clipped to [0, 255]. */
  private static Operand<TFloat32> toPixels(Ops tf, Operand<TFloat32> x, float[] scale, float[] shift) {
    Operand<TFloat32> px = tf.math.round(tf.math.div(tf.math.sub(x, tf.constant(shift)), tf.constant(scale)));
    return tf.math.minimum(tf.math.maximum(px, tf.constant(0f)), tf.constant(255f));
  }

  /** Fails the run with a clear message when a timestep is outside [0, T) or t and x disagree in batch size. */
  private static Operand<TInt32> checkedTimesteps(Ops tf, Operand<TInt32> t, Operand<TFloat32> x, int timesteps) {
    var inRange = tf.math.logicalAnd(
        tf.reduceAll(tf.math.greaterEqual(t, tf.constant(0)), tf.constant(0)),
        tf.reduceAll(tf.math.less(t, tf.constant(timesteps)), tf.constant(0)));
    var ok = tf.assertThat(inRange, List.of(tf.constant("t must be in [0, " + timesteps + "), got"), t));
    Operand<TInt32> n = tf.slice(tf.shape(x), tf.constant(new int[] {0}), tf.constant(new int[] {1}));
    var sameBatch = tf.assertThat(tf.reduceAll(tf.math.equal(tf.shape(t), n), tf.constant(0)),
        List.of(tf.constant("t must have one entry per image; shapes of t and x:"), tf.shape(t), tf.shape(x)));
    return tf.withControlDependencies(List.of(ok, sameBatch)).identity(t);
  }
}
