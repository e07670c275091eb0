package dev.ddpm4j.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One process at a time per run directory: an advisory lock on {@code <run>/.lock}, held while the run trains. Two
 * processes training one run would interleave its metrics and delete each other's checkpoints in progress. The
 * operating system releases the lock when the process ends, however it ends, so a crash never leaves a run locked.
 */
public final class RunLock implements AutoCloseable {
  public static final String FILE = ".lock";

  /**
   * The lock files this process holds. Checked before a channel is opened: on Linux, closing any channel of a file
   * releases every lock the process holds on it, so a second attempt from this process must never open one.
   */
  private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private final FileChannel channel; // holds the lock until closed
  private final Path key;

  private RunLock(FileChannel channel, Path key) {
    this.channel = channel;
    this.key = key;
  }

  /** Takes the run's lock (creating the run directory), or throws naming the process that holds it. */
  public static RunLock acquire(Path runDir) {
    Path file = runDir.resolve(FILE);
    FileChannel ch = null;
    Path key = null;
    try {
      Files.createDirectories(runDir);
      key = runDir.toRealPath().resolve(FILE);
      if (!HELD.add(key)) {
        key = null;
        throw new IllegalStateException("run " + runDir + " is in use by another run in this process (pid "
            + ProcessHandle.current().pid() + "): it holds " + file + "; wait for it to end, or choose another run.name");
      }
      ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock l = ch.tryLock(); // another process's lock: null (this process's own were refused above)
      if (l == null) {
        String holder = Files.readString(file, StandardCharsets.UTF_8).trim();
        ch.close();
        HELD.remove(key);
        throw new IllegalStateException("run " + runDir + " is in use by another process"
            + (holder.isEmpty() ? "" : " (" + holder + ")") + ": it holds " + file + "; wait for it to end, or choose "
            + "another run.name");
      }
      ch.truncate(0);
      ch.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8)), 0);
      return new RunLock(ch, key);
    } catch (IOException e) {
      if (key != null) HELD.remove(key);
      try {
        if (ch != null) ch.close();
      } catch (IOException ignored) {
        // the first failure is the one to report
      }
      throw new UncheckedIOException("cannot lock run " + runDir + " (" + file + "): " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    try {
      channel.close(); // releases the lock
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      HELD.remove(key);
    }
  }
}
