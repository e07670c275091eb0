package dev.ddpm4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ddpm4j.data.BatchIterator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.tensorflow.Session;

/**
 * Crash-safe checkpoints under {@code runs/<name>/checkpoints/}: each is written into a hidden temporary folder and
 * renamed to {@code step-NNNNNNNN} only when complete, so a kill at any moment leaves the previous checkpoint intact.
 * A checkpoint holds every variable of the training graph (weights, Adam slots, EMA, step counter) and
 * {@code state.json} (step, data iterator position, elapsed time). The last {@code keep} are kept.
 */
public final class Checkpoints {
  static final String PREFIX = "step-";
  static final String VARIABLES = "variables";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** What a checkpoint records besides the variables. */
  public record State(long step, long epoch, int cursor, double elapsedSeconds) {
    public BatchIterator.Position position() {
      return new BatchIterator.Position(epoch, cursor);
    }
  }

  /** A complete checkpoint on disk. */
  public record Checkpoint(Path dir, State state) {
    /** The prefix {@code Session.restore} takes. */
    public String variablesPrefix() {
      return dir.resolve(VARIABLES).toString();
    }
  }

  private final Path root;
  private final int keep;

  public Checkpoints(Path root, int keep) {
    this.root = root;
    this.keep = keep;
  }

  public Path root() {
    return root;
  }

  public Checkpoint save(Session session, State state) {
    try {
      Files.createDirectories(root);
      String name = String.format("%s%08d", PREFIX, state.step());
      Path tmp = root.resolve(".tmp-" + name);
      deleteTree(tmp);
      Files.createDirectories(tmp);
      session.save(tmp.resolve(VARIABLES).toString());
      JSON.writeValue(tmp.resolve("state.json").toFile(), state);
      Path dir = root.resolve(name);
      deleteTree(dir);
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      prune();
      return new Checkpoint(dir, state);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint in " + root + ": " + e.getMessage(), e);
    }
  }

  /** Complete checkpoints, oldest first. Leftover temporary folders are ignored. */
  public List<Checkpoint> list() {
    if (!Files.isDirectory(root)) return List.of();
    try (Stream<Path> s = Files.list(root)) {
      return s.filter(p -> p.getFileName().toString().startsWith(PREFIX))
          .filter(p -> Files.isRegularFile(p.resolve("state.json")))
          .map(p -> {
            try {
              return new Checkpoint(p, JSON.readValue(p.resolve("state.json").toFile(), State.class));
            } catch (IOException e) {
              throw new UncheckedIOException("unreadable checkpoint state " + p.resolve("state.json") + ": "
                  + e.getMessage(), e);
            }
          })
          .sorted(Comparator.comparingLong(c -> c.state().step()))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public Optional<Checkpoint> latest() {
    List<Checkpoint> all = list();
    return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
  }

  /** The checkpoint of a given step. */
  public Optional<Checkpoint> at(long step) {
    return list().stream().filter(c -> c.state().step() == step).findFirst();
  }

  private void prune() throws IOException {
    List<Checkpoint> all = list();
    for (int i = 0; i < all.size() - keep; i++) deleteTree(all.get(i).dir());
    try (Stream<Path> s = Files.list(root)) {
      for (Path p : s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList()) deleteTree(p);
    }
  }

  /** Deletes a file or folder tree if present. */
  public static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) return;
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
    }
  }
}
