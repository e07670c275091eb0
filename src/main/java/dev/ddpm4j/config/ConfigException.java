package dev.ddpm4j.config;

import java.util.List;

/** Every problem found while loading a config, reported together. */
public final class ConfigException extends RuntimeException {
  private final List<ConfigProblem> problems;

  public ConfigException(List<ConfigProblem> problems) {
    super(format(problems));
    this.problems = List.copyOf(problems);
  }

  public ConfigException(String source, String path, String value, String message) {
    this(List.of(new ConfigProblem(source, path, value, message)));
  }

  public List<ConfigProblem> problems() {
    return problems;
  }

  private static String format(List<ConfigProblem> problems) {
    StringBuilder sb = new StringBuilder("invalid config (").append(problems.size())
        .append(problems.size() == 1 ? " problem" : " problems").append("):");
    for (ConfigProblem p : problems) sb.append("\n  ").append(p);
    return sb.toString();
  }
}
