package dev.ddpm4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "config", mixinStandardHelpOptions = true,
    description = "Validate a config and print it fully resolved (defaults, extends and --set applied).")
final class ConfigCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().print(options.resolve().toYaml());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
