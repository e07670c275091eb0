package dev.ddpm4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "info", mixinStandardHelpOptions = true,
    description = "Describe the model a config builds: parameters per level and forward FLOPs per image.")
final class InfoCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Override
  public Integer call() {
    options.resolve();
    throw new Main.UserError("info is not available yet in this build");
  }
}
