package dev.ddpm4j.train;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.TargetSessions;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
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
    this(config, null);
  }

  /**
   * The training graph and its session. With distributed.cluster set, this process is task 0, the chief: it starts
   * its TensorFlow server, waits for the workers (distributed.connect_timeout_s) and opens a session on its own
   * server's distributed master, which places each replica's pass on its task.
   */
  public TrainingSession(ExperimentConfig config, Progress progress) {
    this.config = config;
    this.graph = new Graph();
    TrainingGraph built = null;
    try {
      built = new TrainingGraph(config, graph);
      this.net = built;
      this.precision = built.precision.value();
      ConfigProto cfg = sessionConfig(config.train().intraOpThreads(), config.train().interOpThreads(), precision);
      ExperimentConfig.Distributed dist = config.distributed();
      if (dist.enabled()) {
        List<String> tasks = dist.tasks();
        chiefServer(tasks, config.train().intraOpThreads(), config.train().interOpThreads());
        Cluster.awaitReachable(tasks, dist.connectTimeoutS(), progress != null ? progress
            : new Progress(System.err, false, 1));
        String port = tasks.get(0).substring(tasks.get(0).lastIndexOf(':') + 1);
        cfg = cfg.toBuilder().setOperationTimeoutInMs((long) (dist.stepTimeoutS() * 1000)).build();
        ConfigProto c = cfg;
        this.session = openInitialized(() -> TargetSessions.open(graph, "grpc://localhost:" + port, c));
      } else {
        ConfigProto c = cfg;
        this.session = openInitialized(() -> new Session(graph, c));
      }
    } catch (RuntimeException e) {
      if (built != null) built.close();
      graph.close();
      throw e;
    }
    this.height = config.data().imageSize();
    this.width = config.data().imageSize();
    this.channels = config.data().channels();
  }

  /**
   * Opens a session and runs its initializers; when they fail, closes the session before rethrowing: TF Java's
   * {@code Graph.close()} waits for every session on the graph, so a session left open would hang the caller's
   * cleanup (and Ctrl-C after it) forever.
   */
  static Session openInitialized(java.util.function.Supplier<Session> open) {
    Session s = open.get();
    try {
      s.initialize();
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
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
        Result r = session.runner().feed(net.sampler().seed(), s).feed(net.sampler().count(), count)
            .fetch(net.sampler().samples()).run()) {
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

  /** The chief's server of each cluster this process has started (a TensorFlow gRPC server cannot be stopped). */
  private static final Map<String, org.tensorflow.Server> CHIEF_SERVERS = new java.util.HashMap<>();

  private static synchronized void chiefServer(List<String> tasks, int intra, int inter) {
    CHIEF_SERVERS.computeIfAbsent(String.join(",", tasks), k -> Cluster.start(tasks, 0, intra, inter));
  }

  @Override
  public void close() {
    session.close();
    net.close();
    graph.close();
  }
}
