package dev.ddpm4j.cli;

import dev.ddpm4j.config.ConfigException;
import dev.ddpm4j.data.DataException;
import dev.ddpm4j.sampler.SamplerException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code ddpm4j} command line: one entry point, one subcommand per task. */
@Command(name = "ddpm4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Denoising diffusion probabilistic models on TensorFlow Java.",
    subcommands = {ConfigCommand.class, TrainCommand.class, SampleCommand.class, ExportCommand.class,
        BenchCommand.class, InfoCommand.class, PlotCommand.class, ScheduleCommand.class, EvalCommand.class, FeaturesCommand.class, WorkerCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  public static final String VERSION = dev.ddpm4j.export.Exporter.VERSION;

  /** Exit code of a bad config or bad data (the user's input). */
  public static final int EXIT_INPUT = 2;
  /** Exit code of any other failure. */
  public static final int EXIT_FAILURE = 1;

  @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
      description = "On error, print the full stack trace too.")
  static boolean verbose;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  public static void main(String[] args) {
    // before anything loads TensorFlow: the same oneDNN configuration on every x86 CPU, under mvn exec:java too
    dev.ddpm4j.platform.Platform.enableOneDnn();
    // and none of the INFO lines TensorFlow's native abseil prints whatever TF_CPP_MIN_LOG_LEVEL says
    dev.ddpm4j.platform.NativeLogFilter.install();
    int code = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
    System.exit(code);
  }

  /** Runs the CLI with the given streams and returns the exit code (used by tests). */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    verbose = false;
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      Throwable e = ex;
      while ((e instanceof RuntimeException) && e.getCause() != null && e.getMessage() != null
          && e.getMessage().equals(String.valueOf(e.getCause()))) {
        e = e.getCause();
      }
      String msg = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
      commandLine.getErr().println("ddpm4j " + commandLine.getCommandName() + ": error: " + msg);
      if (verbose) {
        e.printStackTrace(commandLine.getErr());
      } else if (!(e instanceof ConfigException) && !(e instanceof DataException) && !(e instanceof UserError)
          && !(e instanceof SamplerException)) {
        commandLine.getErr().println("(run with --verbose for the stack trace)");
      }
      commandLine.getErr().flush();
      return (e instanceof ConfigException || e instanceof DataException || e instanceof UserError)
          ? EXIT_INPUT : EXIT_FAILURE;
    });
    // a bad option value, an unknown or repeated option: one line naming it and exit 2, as every other input error
    cl.setParameterExceptionHandler((ex, a) -> {
      CommandLine c = ex.getCommandLine();
      String sub = c.getCommandSpec().qualifiedName().replaceFirst("^\\S+\\s*", "");
      c.getErr().println("ddpm4j " + c.getCommandName() + ": error: " + ex.getMessage() + " (see ddpm4j "
          + (sub.isEmpty() ? "" : sub + " ") + "--help)");
      c.getErr().flush();
      return EXIT_INPUT;
    });
    return cl.execute(args);
  }

  /** An error in what the user asked for, reported as one line without a stack trace. */
  public static final class UserError extends RuntimeException {
    public UserError(String message) {
      super(message);
    }
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"ddpm4j " + VERSION};
    }
  }
}
