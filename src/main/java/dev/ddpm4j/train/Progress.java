package dev.ddpm4j.train;

import java.io.PrintStream;

/**
 * A one-line progress bar (step/total, smoothed loss when steps report one, images/s, ETA) redrawn in place on a terminal; where output is
 * not a terminal (CI logs, files) it prints one plain line per log interval instead.
 */
public final class Progress {
  private final PrintStream out;
  private final boolean terminal;
  private final long total;
  private double smoothed = Double.NaN;
  private long lastDraw;
  private String note = "";
  private long deadline;
  private boolean hasDeadline;
  private String unit = "step";

  /** A fixed note shown at the end of every line (for example the number of replicas). */
  public void note(String note) {
    this.note = note == null || note.isEmpty() ? "" : "  " + note;
  }

  public Progress(PrintStream out, boolean terminal, long total) {
    this.out = out;
    this.terminal = terminal;
    this.total = total;
  }

  /**
   * A time budget that ends the work after {@code seconds} from now (train.max_minutes): the ETA is then the sooner
   * of the steps left and the budget left, marked "(time budget)" when the budget ends first.
   */
  public void deadline(double seconds) {
    deadline = System.nanoTime() + (long) (Math.max(0, seconds) * 1e9);
    hasDeadline = true;
  }

  /** What one step counts (a training step, or an image when sampling): the line shows seconds per {@code unit}. */
  public Progress per(String unit) {
    this.unit = unit;
    return this;
  }

  public static Progress forConsole(long total) {
    return new Progress(System.err, System.console() != null, total);
  }

  /** Records one step's loss (exponential smoothing, factor 0.98). */
  public void step(double loss) {
    smoothed = Double.isNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
  }

  public double smoothedLoss() {
    return smoothed;
  }

  /** Redraws (at most 4 times a second on a terminal); {@code force} for log-interval lines. */
  public void show(long step, double imagesPerSecond, double secondsPerStep, boolean force) {
    long now = System.nanoTime();
    if (terminal && !force && now - lastDraw < 250_000_000L) return;
    if (!terminal && !force) return;
    lastDraw = now;
    String line = line(step, imagesPerSecond, secondsPerStep);
    if (terminal) {
      out.print("\r" + line + "   ");
    } else {
      out.println(line);
    }
    out.flush();
  }

  String line(long step, double imagesPerSecond, double secondsPerStep) {
    int width = 24;
    int filled = (int) Math.min(width, Math.round(width * (double) step / Math.max(1, total)));
    String bar = "#".repeat(filled) + ".".repeat(width - filled);
    long eta = Math.round(Math.max(0, total - step) * secondsPerStep);
    String budget = "";
    if (hasDeadline) {
      long left = Math.max(0, Math.round((deadline - System.nanoTime()) / 1e9));
      if (left < eta) {
        eta = left;
        budget = " (time budget)";
      }
    }
    String loss = Double.isNaN(smoothed) ? "" : String.format("  loss %.4f", smoothed);
    String perStep = secondsPerStep > 0 ? String.format("  %.3f s/%s", secondsPerStep, unit) : "";
    return String.format("[%s] %d/%d%s  %.1f img/s%s  ETA %s%s%s", bar, step, total, loss, imagesPerSecond, perStep,
        duration(eta), budget, note);
  }

  /** Ends the bar's line. */
  public void finish() {
    if (terminal) {
      out.println();
      out.flush();
    }
  }

  public void message(String s) {
    if (terminal) out.print("\r");
    out.println(s);
    out.flush();
  }

  static String duration(long seconds) {
    if (seconds >= 3600) return String.format("%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
    if (seconds >= 60) return String.format("%dm%02ds", seconds / 60, seconds % 60);
    return seconds + "s";
  }
}
