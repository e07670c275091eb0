package dev.ddpm4j.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.family.TFloating;

/**
 * Hands out one placeholder per weight and records what was asked for: the names, shapes and initializers of a
 * network's weights, in the order it asks, without creating variables (a probe graph that is never run).
 */
public final class RecordingParams<T extends TFloating> implements Params<T> {
  private final Ops tf;
  private final Class<T> dtype;
  private final Map<String, long[]> shapes = new LinkedHashMap<>();
  private final Map<String, Init> inits = new LinkedHashMap<>();

  public RecordingParams(Ops tf, Class<T> dtype) {
    this.tf = tf;
    this.dtype = dtype;
  }

  @Override
  public Operand<T> get(String name, long[] shape, Init init) {
    if (shapes.containsKey(name)) throw new IllegalStateException("weight " + name + " requested twice");
    shapes.put(name, shape.clone());
    inits.put(name, init);
    return tf.placeholder(dtype, Placeholder.shape(Shape.of(shape)));
  }

  /** Shapes by weight name, in request order. */
  public Map<String, long[]> shapes() {
    return Collections.unmodifiableMap(shapes);
  }

  /** Initializers by weight name, in request order. */
  public Map<String, Init> inits() {
    return Collections.unmodifiableMap(inits);
  }
}
