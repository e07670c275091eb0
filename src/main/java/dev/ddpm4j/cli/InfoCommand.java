package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.ModelInfo;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "info", mixinStandardHelpOptions = true,
    description = "Describe the model a config builds (parameters per level, forward FLOPs per image) and the machine "
        + "it would train on (CPU, oneDNN, AMX, bfloat16, the precision train.precision resolves to).")
final class InfoCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    ExperimentConfig cfg = options.resolve();
    ModelInfo info = ModelInfo.of(cfg);
    PrintWriter out = spec.commandLine().getOut();
    out.printf("U-Net for %dx%dx%d images: base_channels %d, channel_mults %s, %d res blocks, attention at %s%n",
        cfg.data().imageSize(), cfg.data().imageSize(), cfg.data().channels(), cfg.model().baseChannels(),
        cfg.model().channelMults(), cfg.model().numResBlocks(), cfg.model().attentionResolutions());
    out.println("parameters per level:");
    for (var e : info.paramsPerGroup().entrySet()) out.printf("  %-8s %,12d%n", e.getKey(), e.getValue());
    out.printf("  %-8s %,12d%n", "total", info.totalParams());
    out.printf("forward FLOPs per image: %,d (%.3f GFLOP)%n", info.forwardFlops(), info.forwardFlops() / 1e9);
    for (var e : info.flopsPerOpType().entrySet()) out.printf("  %-20s %,15d%n", e.getKey(), e.getValue());
    var env = dev.ddpm4j.platform.Platform.describe();
    out.printf("machine: %s, %s cores, flags %s%n", env.get("cpu_model"), env.get("cores"), env.get("cpu_key_flags"));
    out.printf("oneDNN: %s (TF_ENABLE_ONEDNN_OPTS=%s), AMX: %s, native bfloat16: %s%n",
        Boolean.TRUE.equals(env.get("onednn_active")) ? "in use" : "not in use", env.get("tf_enable_onednn_opts"),
        Boolean.TRUE.equals(env.get("amx")) ? "yes" : "no", Boolean.TRUE.equals(env.get("native_bf16")) ? "yes" : "no");
    out.printf("training precision: %s%n", dev.ddpm4j.train.TrainingPrecision.of(cfg));
    List<org.tensorflow.LocalDevices.Device> devices = org.tensorflow.LocalDevices.list();
    out.printf("TensorFlow devices: %s%n", devices.stream().map(d -> d.name().replaceFirst(".*/device:", "") + " ("
        + d.type() + (d.type().equals("CPU") ? "" : String.format(", %.1f GiB", d.memoryBytes() / 1073741824.0)) + ")")
        .collect(java.util.stream.Collectors.joining(", ")));
    if (devices.stream().noneMatch(d -> d.type().equals("GPU"))) {
      out.println("GPU: none seen by TensorFlow (the GPU build is mvn -Pgpu, with CUDA 12.5 and cuDNN 9.3; see README "
          + "\"GPU\")");
    }
    out.flush();
    return 0;
  }
}
