package dev.ddpm4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.tools.ToolProvider;

/**
 * Runs {@code child/TfOnlyClient.java}, a client that knows nothing of ddpm4j, in a separate JVM whose classpath holds
 * TensorFlow Java alone: the export contract as any JVM app sees it.
 */
public final class TfOnlyChild {
  private TfOnlyChild() {}

  /** Compiles and runs the client with {@code args}; returns the folder it wrote its outputs to. */
  public static Path run(Path tmp, String model, String... args) throws Exception {
    Path src = Files.createDirectories(tmp.resolve("child-src"));
    Path classes = Files.createDirectories(tmp.resolve("child-classes"));
    Path java = src.resolve("TfOnlyClient.java");
    try (var in = TfOnlyChild.class.getResourceAsStream("/child/TfOnlyClient.java")) {
      Files.write(java, in.readAllBytes());
    }
    String tfOnly = String.join(File.pathSeparator, tensorFlowJars());
    int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-cp", tfOnly, "-d", classes.toString(),
        java.toString());
    assertEquals(0, rc, "compiling the TF-only client");
    Path out = Files.createTempDirectory(tmp, "child-out");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", classes + File.pathSeparator + tfOnly, "TfOnlyClient", model, out.toString()));
    cmd.addAll(List.of(args));
    Path log = out.resolve("child.log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "child finished");
    assertEquals(0, p.exitValue(), Files.readString(log));
    return out;
  }

  /** The TensorFlow Java jars of the test classpath (API, native, ndarray, JavaCPP, protobuf) and nothing else. */
  public static List<String> tensorFlowJars() {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> out = new ArrayList<>();
    for (String e : cp.split(File.pathSeparator)) {
      String name = Path.of(e).getFileName().toString();
      if (name.startsWith("tensorflow-core-") || name.startsWith("ndarray-") || name.startsWith("javacpp-")
          || name.startsWith("protobuf-java-")) {
        out.add(e);
      }
    }
    assertTrue(out.stream().anyMatch(s -> s.contains("tensorflow-core-api")), "TF Java on the test classpath: " + cp);
    return out;
  }
}
