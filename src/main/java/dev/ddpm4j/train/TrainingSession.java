package dev.ddpm4j.train;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import dev.ddpm4j.sampler.CpuFeatures;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.GraphOptions;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/** A {@link TrainingGraph} with its session: one {@code Session.run} per training step. Closes every tensor it makes. */
public final class TrainingSession implements AutoCloseable {
  /** What one step reports. */
  public record StepResult(long step, float loss, float gradNorm, float learningRate) {}

  public final ExperimentConfig config;
  public final Graph graph;
  public final TrainingGraph net;
  public final Session session;
  /** fp32 or bf16: what train.precision resolved to on this machine. */
  public final String precision;
  private final int height;
  private final int width;
  private final int channels;

  public TrainingSession(ExperimentConfig config) {
    this.config = config;
    this.graph = new Graph();
    try {
      this.net = new TrainingGraph(config, graph);
      this.precision = CpuFeatures.resolvePrecision(config.train().precision());
      this.session = new Session(graph, sessionConfig(config.train().intraOpThreads(), config.train().interOpThreads(),
          precision));
      session.initialize();
    } catch (RuntimeException e) {
      graph.close();
      throw e;
    }
    this.height = config.data().imageSize();
    this.width = config.data().imageSize();
    this.channels = config.data().channels();
  }

  public static ConfigProto sessionConfig(int intra, int inter) {
    return sessionConfig(intra, inter, "fp32");
  }

  /**
   * Thread pools and precision: {@code bf16} switches on TensorFlow's oneDNN bfloat16 automatic mixed precision (its
   * allow list casts Conv2D, its gradients, MatMul and BatchMatMul to bfloat16; variables, optimizer state and EMA
   * stay float32).
   */
  public static ConfigProto sessionConfig(int intra, int inter, String precision) {
    ConfigProto.Builder b = ConfigProto.newBuilder()
        .setIntraOpParallelismThreads(intra)
        .setInterOpParallelismThreads(inter);
    if (precision.equals("bf16")) {
      b.setGraphOptions(GraphOptions.newBuilder().setRewriteOptions(RewriterConfig.newBuilder()
          .setAutoMixedPrecisionOnednnBfloat16(RewriterConfig.Toggle.ON)));
    } else if (!precision.equals("fp32")) {
      throw new IllegalArgumentException("precision must be fp32 or bf16 (resolved), got " + precision);
    }
    return b.build();
  }

  /** One optimizer step on a batch of normalized NHWC floats; reports the step number it completed (1-based). */
  public StepResult step(float[] batch) {
    return step(batch, null);
  }

  /**
   * One optimizer step on a batch and its class labels (used by a conditional model, ignored otherwise); reports the
   * step number it completed (1-based).
   */
  public StepResult step(float[] batch, int[] labels) {
    int b = batch.length / (height * width * channels);
    if (net.labels != null && labels == null) {
      throw new IllegalArgumentException("a class-conditional model (model.num_classes > 0) trains on labels");
    }
    try (TFloat32 x = TFloat32.tensorOf(Shape.of(b, height, width, channels));
        TInt32 y = net.labels != null ? TInt32.vectorOf(labels) : null) {
      x.asRawTensor().data().asFloats().write(batch);
      Session.Runner runner = session.runner().feed(net.x0, x);
      if (y != null) runner.feed(net.labels, y);
      try (Result r = runner.addTarget(net.train)
          .fetch(net.loss).fetch(net.gradNorm).fetch(net.learningRate).fetch(net.stepAfter).run()) {
        return new StepResult(((TInt64) r.get(3)).getLong(), ((TFloat32) r.get(0)).getFloat(),
            ((TFloat32) r.get(1)).getFloat(), ((TFloat32) r.get(2)).getFloat());
      }
    }
  }

  /** The number of completed steps (the step counter variable). */
  public long globalStep() {
    try (Result r = session.runner().fetch(net.stepRead).run()) {
      return ((TInt64) r.get(0)).getLong();
    }
  }

  /**
   * Runs the in-graph default sampler ({@link dev.ddpm4j.diffusion.SamplerKind#DEFAULT}, at most its default steps)
   * over the EMA weights; returns n*H*W*C model-space floats.
   */
  public float[] sample(long seed, int n) {
    try (TInt64 s = TInt64.scalarOf(seed); TInt32 count = TInt32.scalarOf(n);
        Result r = session.runner().feed(net.sampleSeed, s).feed(net.sampleCount, count).fetch(net.samples).run()) {
      TFloat32 out = (TFloat32) r.get(0);
      float[] a = new float[(int) out.size()];
      out.asRawTensor().data().asFloats().read(a);
      return a;
    }
  }

  /** Current values of the raw weights ({@code ema=false}) or the EMA weights, by name. */
  public Map<String, float[]> weights(boolean ema) {
    List<String> names = new ArrayList<>(net.weights.variables().keySet());
    Session.Runner runner = session.runner();
    for (String n : names) runner.fetch(ema ? net.ema.get(n) : net.weights.variables().get(n));
    Map<String, float[]> out = new LinkedHashMap<>();
    try (Result r = runner.run()) {
      for (int i = 0; i < names.size(); i++) {
        Tensor t = r.get(i);
        float[] a = new float[(int) t.size()];
        ((TFloat32) t).asRawTensor().data().asFloats().read(a);
        out.put(names.get(i), a);
      }
    }
    return out;
  }

  public void save(String prefix) {
    session.save(prefix);
  }

  public void restore(String prefix) {
    session.restore(prefix);
  }

  @Override
  public void close() {
    session.close();
    graph.close();
  }
}
