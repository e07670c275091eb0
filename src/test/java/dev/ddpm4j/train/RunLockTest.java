package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One process per run directory, across processes and within one. */
class RunLockTest {
  @TempDir Path tmp;

  /** Holds a run's lock until its standard input closes. */
  public static final class Holder {
    public static void main(String[] args) throws Exception {
      try (RunLock lock = RunLock.acquire(Path.of(args[0]))) {
        System.out.println("locked");
        System.out.flush();
        while (System.in.read() >= 0) {
          // wait for the parent to close stdin
        }
      }
    }
  }

  @Test
  void anotherProcessHoldingTheRunIsNamedAndItsEndReleasesIt() throws Exception {
    Path run = tmp.resolve("runs/a");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), Holder.class.getName(), run.toString()).redirectErrorStream(true).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      assertEquals("locked", out.readLine());
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunLock.acquire(run));
      assertTrue(e.getMessage().contains("in use by another process (pid " + p.pid() + ")")
          && e.getMessage().contains(".lock"), e.getMessage());
      p.destroyForcibly(); // killed, not closed: the operating system releases the lock
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
    try (RunLock mine = RunLock.acquire(run)) {
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> RunLock.acquire(run));
      assertTrue(e.getMessage().contains("another run in this process"), e.getMessage());
      // the refused second attempt must not have released the first one's lock (closing any channel would)
      Process q = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
          System.getProperty("java.class.path"), Holder.class.getName(), run.toString()).redirectErrorStream(true)
          .start();
      q.getOutputStream().close();
      assertTrue(q.waitFor(60, TimeUnit.SECONDS));
      String said = new String(q.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(q.exitValue() != 0 && said.contains("in use by another process"), said);
    }
    try (RunLock again = RunLock.acquire(run)) {
      assertTrue(java.nio.file.Files.readString(run.resolve(RunLock.FILE)).contains("pid "
          + ProcessHandle.current().pid()));
    }
  }
}
