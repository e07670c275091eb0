package dev.ddpm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TfOnlyChild;
import dev.ddpm4j.diffusion.SamplerKind;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's TensorFlow-only client is a whole program that compiles and runs with TF Java's jars alone. */
class ReadmeClientTest {
  @TempDir Path tmp;

  static final String START = "runs it on `savedmodels/default`):\n```java\n";

  @Test
  void theReadmeSnippetIsTheProgramAndRunsOnTheShippedModel() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    int a = readme.indexOf(START);
    assertTrue(a > 0, "the README shows the TensorFlow-only client");
    String snippet = readme.substring(a + START.length(), readme.indexOf("```", a + START.length()));
    String program;
    try (var in = ReadmeClientTest.class.getResourceAsStream("/examples/TensorFlowOnly.java")) {
      program = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
    assertEquals(program, snippet, "README and src/test/resources/examples/TensorFlowOnly.java must match");
    Path src = Files.createDirectories(tmp.resolve("src")).resolve("TensorFlowOnly.java");
    Files.writeString(src, snippet);
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    List<String> jars = TfOnlyChild.tensorFlowJars();
    assertEquals(6, jars.size(), "the six TensorFlow Java jars the README names: " + jars);
    String cp = String.join(File.pathSeparator, jars);
    assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, "-cp", cp, "-d", classes.toString(),
        src.toString()), "compiles with TensorFlow Java alone");
    Path log = tmp.resolve("run.log");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        classes + File.pathSeparator + cp, "TensorFlowOnly").redirectErrorStream(true).redirectOutput(log.toFile())
        .start();
    assertTrue(p.waitFor(180, TimeUnit.SECONDS), "finished");
    assertEquals(0, p.exitValue(), Files.readString(log));
    assertTrue(Files.readString(log).contains("images [16, 32, 32, 1]"), Files.readString(log));
  }

  @Test
  void exportHelpListsEverySignature() {
    for (SamplerKind k : SamplerKind.values()) {
      assertTrue(ExportCommand.SIGNATURES.contains(k.signature() + ",") || ExportCommand.SIGNATURES.contains(
          k.signature() + " "), k.signature() + " missing from " + ExportCommand.SIGNATURES);
    }
    CliTest.Outcome o = CliTest.run("export", "--help");
    assertTrue(o.out().replaceAll("\\s+", " ").contains("sample_dpmpp_2m_sde, denoise, q_sample"), o.out());
  }
}
