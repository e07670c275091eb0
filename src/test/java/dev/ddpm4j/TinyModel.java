package dev.ddpm4j;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.export.Exporter;
import dev.ddpm4j.train.Progress;
import dev.ddpm4j.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One tiny trained and exported model per test JVM, for the tests of commands that need a model. */
public final class TinyModel {
  private static Path export;
  private static ExperimentConfig config;

  private TinyModel() {}

  public static synchronized Path export() {
    if (export == null) {
      try {
        Path dir = Files.createTempDirectory("ddpm4j-tiny-model");
        dir.toFile().deleteOnExit();
        config = TinyConfigs.config(dir, "export.dir=" + dir.resolve("exports"));
        new Trainer(config, false, new Progress(new PrintStream(new ByteArrayOutputStream()), false, 1), null).run();
        export = Exporter.export(config.runDir(), "latest", null, null, false).dir();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return export;
  }

  public static synchronized ExperimentConfig config() {
    export();
    return config;
  }
}
