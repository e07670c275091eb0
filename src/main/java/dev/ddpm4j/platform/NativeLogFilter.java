package dev.ddpm4j.platform;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Keeps TensorFlow's native INFO lines out of the terminal. TF_CPP_MIN_LOG_LEVEL (set by {@link
 * Platform#enableOneDnn}) quiets TensorFlow's own logging, but TF 2.18's native library also logs through an abseil
 * statically linked into it, which ignores that variable and has no exported switch: "WARNING: All log messages
 * before absl::InitializeLog() is called are written to STDERR" and "I0000 ... mlir_graph_optimization_pass.cc:401]
 * MLIR V1 optimization pass is not enabled" on every run.
 *
 * <p>{@link #install} points file descriptor 2 at a pipe and copies everything from it to the original standard
 * error except those lines: abseil's INFO lines (severity I, the {@code Immdd hh:mm:ss.uuuuuu thread file:line]}
 * prefix) and its preamble. Warnings and errors, from TensorFlow or from Java, pass unchanged and at once: a partial
 * line is held back only while it can still become a dropped one, so progress bars ending in '\r' are not delayed.
 * At exit the original descriptor is restored and the pipe drained. {@code DDPM4J_TF_LOG=all} turns the filter off.
 */
public final class NativeLogFilter {
  /**
   * Abseil's log prefix with severity INFO: {@code I1201 13:50:04.686855   25617 file.cc:401] }, or before
   * {@code absl::InitializeLog} {@code I0000 00:00:1796133004.686855   25617 file.cc:401] } (seconds since the epoch).
   */
  static final Pattern ABSL_INFO = Pattern.compile("I\\d{4} [\\d:.]+ +\\d+ [^ \\]]+:\\d+\\] .*");
  static final String ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR";
  /** A start of line that may still grow into {@link #ABSL_INFO}: I and up to 4 digits, or I, 4 digits, a space, more. */
  private static final Pattern ABSL_INFO_START = Pattern.compile("I(\\d{0,4}|\\d{4} .*)");

  private static Thread reader;

  private NativeLogFilter() {}

  private interface LibC extends Library {
    int pipe(int[] fds);

    int dup(int fd);

    int dup2(int from, int to);

    int close(int fd);

    long read(int fd, byte[] buf, long n);

    long write(int fd, byte[] buf, long n);
  }

  /** Whether a whole line (without its line end) is native noise to drop. */
  public static boolean dropped(String line) {
    return line.equals(ABSL_PREAMBLE) || ABSL_INFO.matcher(line).matches();
  }

  /** Whether a partial line may still become one {@link #dropped} would drop (so it has to wait for its end). */
  static boolean mayBeDropped(String partial) {
    return ABSL_PREAMBLE.startsWith(partial) || ABSL_INFO_START.matcher(partial).matches();
  }

  /**
   * The filter over a byte stream: {@link #accept} the bytes as they arrive, and what comes out has the dropped
   * lines removed. Line ends are '\n' and '\r'; both are kept with the line they end.
   */
  static final class LineFilter {
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final java.util.function.Consumer<byte[]> out;

    LineFilter(java.util.function.Consumer<byte[]> out) {
      this.out = out;
    }

    void accept(byte[] buf, int n) {
      ByteArrayOutputStream pass = new ByteArrayOutputStream();
      for (int i = 0; i < n; i++) {
        byte b = buf[i];
        pending.write(b);
        if (b == '\n' || b == '\r') {
          byte[] line = pending.toByteArray();
          pending.reset();
          String text = new String(line, 0, line.length - 1, StandardCharsets.UTF_8);
          if (!dropped(text)) pass.writeBytes(line);
        }
      }
      if (pending.size() > 0 && !mayBeDropped(pending.toString(StandardCharsets.UTF_8))) {
        pass.writeBytes(pending.toByteArray());
        pending.reset();
      }
      if (pass.size() > 0) out.accept(pass.toByteArray());
    }

    /** What is still held back, written out (at the end of the stream). */
    void finish() {
      if (pending.size() > 0) {
        byte[] rest = pending.toByteArray();
        pending.reset();
        if (!dropped(new String(rest, StandardCharsets.UTF_8))) out.accept(rest);
      }
    }
  }

  /**
   * Installs the filter on file descriptor 2 for the rest of the process (once; later calls do nothing). Does nothing
   * off Linux, when {@code DDPM4J_TF_LOG=all}, or when the C library calls fail.
   */
  public static synchronized void install() {
    if (reader != null || !Platform.isLinux() || "all".equals(System.getenv("DDPM4J_TF_LOG"))) return;
    LibC c;
    int[] fds = new int[2];
    int saved;
    try {
      c = Native.load("c", LibC.class);
      if (c.pipe(fds) != 0) return;
      saved = c.dup(2);
      if (saved < 0) {
        c.close(fds[0]);
        c.close(fds[1]);
        return;
      }
      System.err.flush();
      if (c.dup2(fds[1], 2) < 0) {
        c.close(fds[0]);
        c.close(fds[1]);
        c.close(saved);
        return;
      }
      c.close(fds[1]);
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return;
    }
    final LibC libc = c;
    final int in = fds[0];
    LineFilter filter = new LineFilter(bytes -> {
      int off = 0;
      while (off < bytes.length) {
        byte[] chunk = off == 0 ? bytes : java.util.Arrays.copyOfRange(bytes, off, bytes.length);
        long w = libc.write(saved, chunk, chunk.length);
        if (w <= 0) return;
        off += (int) w;
      }
    });
    reader = new Thread(() -> {
      byte[] buf = new byte[8192];
      while (true) {
        long n = libc.read(in, buf, buf.length);
        if (n <= 0) break;
        filter.accept(buf, (int) n);
      }
      filter.finish();
      libc.close(in);
    }, "ddpm4j-native-log");
    reader.setDaemon(true);
    reader.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.err.flush();
      // fd 2 back to the terminal: the pipe's last write end closes, so the reader drains it and sees its end
      libc.dup2(saved, 2);
      try {
        reader.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "ddpm4j-native-log-drain"));
  }
}
