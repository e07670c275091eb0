package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.model.ModelInfo;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "info", mixinStandardHelpOptions = true,
    description = "Describe the model a config builds: parameters per level and forward FLOPs per image.")
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
    out.flush();
    return 0;
  }
}
