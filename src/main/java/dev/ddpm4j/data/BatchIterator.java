package dev.ddpm4j.data;

import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * An endless stream of shuffled, normalized float NHWC batches. Each epoch is a permutation drawn from the run seed and
 * the epoch number; a batch that runs past the end of an epoch continues into the next one. A background thread
 * normalizes (and flips) ahead of the training thread into a bounded queue. The sequence depends only on the seed and
 * the start {@link Position}, so a resumed run sees exactly the batches the interrupted one would have.
 */
public final class BatchIterator implements AutoCloseable {
  /** Where the stream stands: the next image is entry {@code cursor} of epoch {@code epoch}'s permutation. */
  public record Position(long epoch, int cursor) {
    public static final Position START = new Position(0, 0);
  }

  /** One batch: {@code images} is batch*H*W*C floats; {@code after} is the position after this batch. */
  public record Batch(float[] images, int[] labels, Position after) {}

  private static final Object END = new Object();
  private final Dataset data;
  private final Normalizer norm;
  private final int batchSize;
  private final long seed;
  private final boolean flip;
  private final BlockingQueue<Object> queue;
  private final Thread producer;
  private volatile boolean closed;
  private Position position;

  public BatchIterator(Dataset data, Normalizer norm, int batchSize, long seed, boolean flip, int prefetch,
      Position start) {
    if (data.size() == 0) throw new IllegalArgumentException("dataset " + data.name() + " is empty");
    if (start.cursor() < 0 || start.cursor() >= data.size() || start.epoch() < 0) {
      throw new IllegalArgumentException("position " + start + " is outside a dataset of " + data.size() + " images");
    }
    if (norm.channels() != data.channels()) {
      throw new IllegalArgumentException("normalizer has " + norm.channels() + " channels, data " + data.channels());
    }
    this.data = data;
    this.norm = norm;
    this.batchSize = batchSize;
    this.seed = seed;
    this.flip = flip;
    this.position = start;
    this.queue = new ArrayBlockingQueue<>(Math.max(1, prefetch));
    this.producer = new Thread(() -> produce(start), "ddpm4j-batches");
    producer.setDaemon(true);
    producer.start();
  }

  /** Position after the last batch returned by {@link #next()} (the start position before the first). */
  public Position position() {
    return position;
  }

  public int batchSize() {
    return batchSize;
  }

  /** The next batch; blocks until the background thread has it ready. */
  public Batch next() {
    if (closed) throw new IllegalStateException("iterator is closed");
    Object o;
    try {
      o = queue.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for data", e);
    }
    if (o instanceof RuntimeException e) throw e;
    if (o == END) throw new IllegalStateException("iterator is closed");
    Batch b = (Batch) o;
    position = b.after();
    return b;
  }

  private void produce(Position start) {
    try {
      long epoch = start.epoch();
      int cursor = start.cursor();
      int[] perm = permutation(seed, epoch, data.size());
      int per = data.imageBytes();
      while (!closed) {
        float[] images = new float[batchSize * per];
        int[] labels = new int[batchSize];
        SplittableRandom flips = new SplittableRandom(mix(seed, epoch, cursor) ^ 0xF11Fl);
        for (int i = 0; i < batchSize; i++) {
          int idx = perm[cursor];
          norm.normalize(data.pixels(), idx * per, images, i * per, per);
          if (flip && flips.nextBoolean()) flipHorizontally(images, i * per, data.height(), data.width(), data.channels());
          labels[i] = data.labels()[idx];
          if (++cursor == data.size()) {
            cursor = 0;
            epoch++;
            perm = permutation(seed, epoch, data.size());
          }
        }
        queue.put(new Batch(images, labels, new Position(epoch, cursor)));
      }
    } catch (InterruptedException e) {
      // closed
    } catch (RuntimeException e) {
      queue.offer(e);
    }
  }

  /** The order in which epoch {@code epoch} visits the images: a Fisher-Yates shuffle seeded by (seed, epoch). */
  public static int[] permutation(long seed, long epoch, int n) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) p[i] = i;
    SplittableRandom r = new SplittableRandom(mix(seed, epoch, -1));
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  private static long mix(long seed, long epoch, long cursor) {
    long h = seed * 0x9E3779B97F4A7C15L + epoch;
    h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L + cursor;
    return h ^ (h >>> 29);
  }

  static void flipHorizontally(float[] a, int off, int h, int w, int c) {
    for (int y = 0; y < h; y++) {
      int row = off + y * w * c;
      for (int x = 0; x < w / 2; x++) {
        int l = row + x * c;
        int r = row + (w - 1 - x) * c;
        for (int k = 0; k < c; k++) {
          float t = a[l + k];
          a[l + k] = a[r + k];
          a[r + k] = t;
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    producer.interrupt();
    queue.clear();
    queue.offer(END);
  }
}
