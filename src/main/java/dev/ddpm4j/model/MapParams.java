package dev.ddpm4j.model;

import java.util.Arrays;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/** Weights handed in as operands (loop variables of an in-graph sampler, or fed placeholders). */
public final class MapParams<T extends TFloating> implements Params<T> {
  private final Map<String, Operand<T>> weights;

  public MapParams(Map<String, Operand<T>> weights) {
    this.weights = weights;
  }

  @Override
  public Operand<T> get(String name, long[] shape, Init init) {
    Operand<T> w = weights.get(name);
    if (w == null) throw new IllegalArgumentException("no weight named " + name);
    long[] actual = w.shape().asArray();
    if (!Arrays.equals(actual, shape)) {
      throw new IllegalArgumentException("weight " + name + " has shape " + Arrays.toString(actual)
          + ", the model needs " + Arrays.toString(shape));
    }
    return w;
  }

  @Override
  public Operand<T> derived(String name) {
    return weights.get(name);
  }
}
