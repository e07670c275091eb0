package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/** A session whose initializers fail is closed, so the graph can be closed after it (Graph.close waits for it). */
class SessionCloseTest {
  @Test
  void aFailedInitializationLeavesNoSessionOpen() throws Exception {
    Graph g = new Graph();
    Ops tf = Ops.create(g);
    // a variable initialized from a placeholder nobody feeds: initialize() fails
    tf.variable(tf.withInitScope().placeholder(TFloat32.class, Placeholder.shape(Shape.of(2))));
    Session[] opened = new Session[1];
    assertThrows(RuntimeException.class, () -> TrainingSession.openInitialized(() -> opened[0] = new Session(g)));
    CompletableFuture<Void> closing = CompletableFuture.runAsync(g::close);
    closing.get(30, TimeUnit.SECONDS); // hangs (TimeoutException) when the failed session is still open
    assertTrue(closing.isDone());
  }
}
