package dev.ddpm4j.diffusion;

import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Standard-normal noise keyed per image: image i (counted from the seed's first image, so {@code firstIndex + k} for
 * the k-th image of a call) of stream s always gets the same values, whether it is drawn alone or in a batch of any
 * size. Built on TensorFlow's counter-based Philox generator ({@code StatelessRandomNormalV2}): the key is the seed,
 * the 128-bit counter is (i * ceil(D / 4), s) with D = H*W*C, and element e of a draw uses counter + floor(e / 4), so
 * the draw for images [f, f + n) is one op whose rows are exactly the per-image draws. Streams: 0 for x_T, j + 1 for
 * the noise of sampler step j.
 */
public final class Noise {
  private Noise() {}

  public static Operand<TFloat32> images(Ops tf, Operand<TInt64> seed, Operand<TInt64> firstIndex,
      Operand<TInt32> numImages, Operand<TInt64> stream, int height, int width, int channels) {
    long d = (long) height * width * channels;
    long quads = (d + 3) / 4; // Philox counters per image
    Operand<TInt64> n = tf.dtypes.cast(numImages, TInt64.class);
    Operand<TInt64> shape = tf.reshape(tf.math.mul(n, tf.constant(quads * 4)), tf.constant(new int[] {1}));
    Operand<TInt64> counter = tf.concat(List.of(
        tf.reshape(tf.math.mul(firstIndex, tf.constant(quads)), tf.constant(new int[] {1})),
        tf.reshape(stream, tf.constant(new int[] {1}))), tf.constant(0));
    Operand<TInt64> key = tf.reshape(seed, tf.constant(new int[] {1}));
    Operation draw = tf.scope().opBuilder("StatelessRandomNormalV2", "noise")
        .addInput(shape.asOutput())
        .addInput(uint64(tf, key))
        .addInput(uint64(tf, counter))
        .addInput(tf.constant(1).asOutput()) // RNG_ALG_PHILOX
        .setAttr("dtype", DataType.DT_FLOAT)
        .build();
    @SuppressWarnings("unchecked")
    Operand<TFloat32> flat = (Operand<TFloat32>) (Operand<?>) draw.output(0);
    Operand<TFloat32> rows = tf.reshape(flat, tf.constant(new long[] {-1, quads * 4}));
    if (quads * 4 != d) rows = tf.slice(rows, tf.constant(new long[] {0, 0}), tf.constant(new long[] {-1, d}));
    return tf.reshape(rows, tf.constant(new long[] {-1, height, width, channels}));
  }

  /** The same bits as uint64 (a type TF Java has no class for; the ops only pass it on). */
  private static Output<?> uint64(Ops tf, Operand<TInt64> x) {
    return tf.scope().opBuilder("Bitcast", "u64").addInput(x.asOutput()).setAttr("type", DataType.DT_UINT64).build()
        .output(0);
  }
}
