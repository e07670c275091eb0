package dev.ddpm4j.model;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * What a model is conditioned on, passed through every model call untouched (improved-diffusion's {@code
 * model_kwargs}): the samplers carry it through their loops, the diffusion maths never reads it. Today: class labels
 * (int32 [N], index {@code num_classes} is the "no label" token of classifier-free guidance) and the guidance scale
 * (float32 []). New kinds of conditioning add a name here and change the model and the data, nothing else.
 */
public final class Condition {
  public static final String LABELS = "labels";
  public static final String GUIDANCE = "guidance_scale";
  private static final Condition NONE = new Condition(Map.of());

  private final Map<String, Operand<?>> tensors;

  private Condition(Map<String, Operand<?>> tensors) {
    this.tensors = tensors;
  }

  /** Unconditional. */
  public static Condition none() {
    return NONE;
  }

  /** From named tensors (as a sampling loop hands them back). */
  public static Condition of(Map<String, Operand<?>> tensors) {
    return tensors.isEmpty() ? NONE : new Condition(Collections.unmodifiableMap(new LinkedHashMap<>(tensors)));
  }

  /** Class labels, and a guidance scale (null: none, i.e. 1). */
  public static Condition labels(Operand<TInt32> labels, Operand<TFloat32> guidance) {
    Map<String, Operand<?>> m = new LinkedHashMap<>();
    m.put(LABELS, labels);
    if (guidance != null) m.put(GUIDANCE, guidance);
    return new Condition(Collections.unmodifiableMap(m));
  }

  /** This condition with other labels (the rest unchanged). */
  public Condition withLabels(Operand<TInt32> labels) {
    Map<String, Operand<?>> m = new LinkedHashMap<>(tensors);
    m.put(LABELS, labels);
    return new Condition(Collections.unmodifiableMap(m));
  }

  /** Class labels [N], or null when unconditional. */
  @SuppressWarnings("unchecked")
  public Operand<TInt32> labels() {
    return (Operand<TInt32>) tensors.get(LABELS);
  }

  /** The classifier-free guidance scale [], or null (no guidance: the conditional prediction as it is). */
  @SuppressWarnings("unchecked")
  public Operand<TFloat32> guidance() {
    return (Operand<TFloat32>) tensors.get(GUIDANCE);
  }

  /** Every tensor by name, in a fixed order. */
  public Map<String, Operand<?>> tensors() {
    return tensors;
  }
}
