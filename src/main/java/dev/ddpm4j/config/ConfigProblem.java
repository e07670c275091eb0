package dev.ddpm4j.config;

/**
 * One thing wrong with a config: where (file, key path, line/column when YAML gave one), the bad value and why.
 */
public record ConfigProblem(String source, String path, String value, String message) {
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append(source).append(": ").append(path.isEmpty() ? "<root>" : path);
    if (value != null) sb.append(" = ").append(value);
    sb.append(": ").append(message);
    return sb.toString();
  }
}
