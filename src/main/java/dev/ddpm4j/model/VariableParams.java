package dev.ddpm4j.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TFloating;

/**
 * Creates one variable per weight, named {@code <prefix>/<name>}, initialized in-graph from stateless random ops keyed
 * by (seed, name) so the same seed gives the same initial weights in every process. Reads go through an Identity (the
 * gradient of some ops applied directly to a VariableV2 crashes TF 2.18).
 */
public final class VariableParams<T extends TFloating> implements Params<T> {
  private final Ops tf;
  private final Class<T> dtype;
  private final String prefix;
  private final long seed;
  private final Map<String, Variable<T>> variables = new LinkedHashMap<>();
  private final Map<String, Operand<T>> reads = new LinkedHashMap<>();
  private final Map<String, long[]> shapes = new LinkedHashMap<>();
  private final Map<String, Init> inits = new LinkedHashMap<>();
  private final Map<String, Boolean> slotKinds = new LinkedHashMap<>();
  private final Map<String, Map<String, Variable<T>>> slots = new LinkedHashMap<>();
  /** Name scopes opened ahead by {@link #reserve}, one {@link #openScopes} per weight. */
  private final java.util.ArrayDeque<Ops[]> reserved = new java.util.ArrayDeque<>();

  public VariableParams(Ops tf, Class<T> dtype, String prefix, long seed) {
    this.tf = tf;
    this.dtype = dtype;
    this.prefix = prefix;
    this.seed = seed;
  }

  /**
   * Also creates, next to every weight, a variable {@code <slot>/<name>} of the same shape that starts as a copy of the
   * weight ({@code copy}) or at zero: optimizer slots and EMA shadows. Creating them together with the weight, while
   * the graph is still small, is much faster in TF Java 1.1 than adding init-scope variables to a large graph.
   */
  public VariableParams<T> withSlot(String slot, boolean copy) {
    if (!reserved.isEmpty() || !variables.isEmpty()) {
      throw new IllegalStateException("slots are added before reserve() and before the first weight");
    }
    slotKinds.put(slot, copy);
    slots.put(slot, new LinkedHashMap<>());
    return this;
  }

  /** The slot variables of {@code slot}, keyed by weight name. */
  public Map<String, Variable<T>> slot(String slot) {
    return slots.get(slot);
  }

  /**
   * Creates now, while the graph is still small, the name scopes of the next {@code count} weights and their slots and
   * reads. TF Java 1.1 scans every operation of the graph each time it opens a name scope (NameScope.withUsedFrom,
   * one native call per operation), so opening three to five scopes per weight while the forward pass grows made a
   * graph build quadratic: 5.5 of the 7 seconds of a 45k-weight U-Net's training graph. The names are the ones
   * {@link #get} would have opened one by one ({@code unet}, {@code unet_1}, ...: the scope's own counter), so
   * checkpoints keep their variable names; weights beyond {@code count} open their scopes as they come.
   */
  public VariableParams<T> reserve(int count) {
    for (int k = 0; k < count; k++) reserved.add(openScopes());
    return this;
  }

  /** The next weight's name scopes: its own, one per slot (in slot order), its read's. */
  private Ops[] openScopes() {
    Ops[] s = new Ops[slots.size() + 2];
    s[0] = tf.withSubScope(prefix);
    int i = 1;
    for (String slot : slots.keySet()) s[i++] = tf.withSubScope(slot);
    s[i] = tf.withSubScope(prefix + "_read");
    return s;
  }

  @Override
  public Operand<T> get(String name, long[] shape, Init init) {
    if (variables.containsKey(name)) throw new IllegalStateException("weight " + name + " requested twice");
    Ops init0 = tf.withInitScope();
    Operand<T> value = initialValue(init0, name, shape, init);
    Ops[] scope = reserved.isEmpty() ? openScopes() : reserved.poll();
    Variable<T> v = scope[0].withName(name).variable(value);
    variables.put(name, v);
    int i = 1;
    for (var e : slotKinds.entrySet()) {
      Operand<T> start = e.getValue() ? init0.identity(value) : filled(init0, init0.constant(shape), 0.0);
      slots.get(e.getKey()).put(name, scope[i++].withName(name).variable(start));
    }
    shapes.put(name, shape.clone());
    inits.put(name, init);
    Operand<T> read = scope[i].withName(name).identity(v);
    reads.put(name, read);
    return read;
  }

  /** A tensor of one value; not {@code tf.zeros}, which opens a name scope (a scan of the whole graph, see reserve). */
  private Operand<T> filled(Ops tf, Operand<TInt64> dims, double value) {
    return tf.fill(dims, tf.dtypes.cast(tf.constant(value), dtype));
  }

  private Operand<T> initialValue(Ops tf, String name, long[] shape, Init init) {
    Operand<TInt64> dims = tf.constant(shape);
    switch (init.kind()) {
      case ZEROS:
        return filled(tf, dims, 0.0);
      case ONES:
        return filled(tf, dims, 1.0);
      default:
        long key = name.hashCode() * 0x9E3779B97F4A7C15L;
        Operand<TInt64> s = tf.constant(new long[] {seed, key});
        Operand<T> u = tf.random.statelessRandomUniform(dims, s, dtype); // [0, 1)
        Operand<T> l = tf.dtypes.cast(tf.constant(init.limit()), dtype);
        return tf.math.mul(tf.math.sub(tf.math.add(u, u), tf.dtypes.cast(tf.constant(1.0), dtype)), l);
    }
  }

  /** Variables in creation order, keyed by weight name. */
  public Map<String, Variable<T>> variables() {
    return variables;
  }

  /** The Identity reads the forward pass used, keyed by weight name (differentiate with respect to these). */
  public Map<String, Operand<T>> reads() {
    return reads;
  }

  public Map<String, long[]> shapes() {
    return shapes;
  }

  /** How each weight was initialized, by name (with {@link #shapes()}: enough to create the same variables again). */
  public Map<String, Init> inits() {
    return inits;
  }

  /** Total number of scalar weights. */
  public long count() {
    return shapes.values().stream().mapToLong(s -> Arrays.stream(s).reduce(1, (a, b) -> a * b)).sum();
  }

}
