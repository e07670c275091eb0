package dev.ddpm4j.data;

import java.nio.file.Path;

/** A problem with input data, always naming the file (or folder) and what is wrong with it. */
public final class DataException extends RuntimeException {
  private final Path file;

  public DataException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public DataException(Path file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  public Path file() {
    return file;
  }
}
