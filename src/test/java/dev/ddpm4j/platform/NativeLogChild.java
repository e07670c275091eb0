package dev.ddpm4j.platform;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.nio.charset.StandardCharsets;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;

/**
 * Run in a child JVM by {@link NativeLogFilterTest}: installs the filter the CLI installs, runs one TensorFlow graph
 * (whose native library then logs its abseil lines), and writes one line of each kind that must pass: a Java one, a
 * native warning, and a progress bar ending in '\r'.
 */
public final class NativeLogChild {
  interface LibC extends Library {
    long write(int fd, byte[] buf, long n);
  }

  public static void main(String[] args) {
    Platform.enableOneDnn();
    NativeLogFilter.install();
    System.err.println("java line on stderr");
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var y = tf.math.add(tf.constant(1f), tf.constant(2f));
      try (var r = s.runner().fetch(y).run(); TFloat32 t = (TFloat32) r.get(0)) {
        System.out.println("sum " + t.getFloat());
      }
    }
    byte[] native1 = "W0000 00:00:1796133004.686855   25617 some_file.cc:12] a native warning\n".getBytes(StandardCharsets.UTF_8);
    byte[] native2 = "I0000 00:00:1796133004.686855   25617 other_file.cc:34] native info\n".getBytes(StandardCharsets.UTF_8);
    LibC c = Native.load("c", LibC.class);
    c.write(2, native1, native1.length);
    c.write(2, native2, native2.length);
    System.err.print("[####....] 4/8\r");
    System.err.flush();
    System.exit(3);
  }
}
