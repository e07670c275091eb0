package dev.ddpm4j.train;

import dev.ddpm4j.model.VariableParams;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * Adam (Kingma and Ba 2015) as one fused {@code ApplyAdam} op per weight, with its moments in the weights' {@code
 * adam_m} and {@code adam_v} slots (create them with {@link #slots}). Every update waits for every gradient: the
 * gradients read the weights through Identity ops that alias the variables' buffers, so an update that ran while
 * another layer's gradient was still being computed would change what that gradient sees.
 */
public final class Adam {
  public static final double BETA1 = 0.9;
  public static final double BETA2 = 0.999;
  public static final double EPSILON = 1e-8;

  private Adam() {}

  /** Adds the two moment slots to a parameter source (before the model asks it for weights). */
  public static VariableParams<TFloat32> slots(VariableParams<TFloat32> params) {
    return params.withSlot("adam_m", false).withSlot("adam_v", false);
  }

  /**
   * One update of every weight of {@code params} (creation order) with {@code grads} (same order).
   *
   * @param step the 1-based number of this update (for the bias corrections beta^step)
   * @return the updated weight values, in weight order
   */
  public static List<Operand<TFloat32>> apply(Ops tf, VariableParams<TFloat32> params, List<Operand<TFloat32>> grads,
      Operand<TFloat32> learningRate, Operand<TFloat32> step) {
    List<String> names = new ArrayList<>(params.variables().keySet());
    if (grads.size() != names.size()) {
      throw new IllegalArgumentException(grads.size() + " gradients for " + names.size() + " weights");
    }
    Ops after = tf.withControlDependencyOps(grads.stream().map(Operand::op).toList());
    Operand<TFloat32> beta1Power = tf.math.pow(tf.constant((float) BETA1), step);
    Operand<TFloat32> beta2Power = tf.math.pow(tf.constant((float) BETA2), step);
    List<Operand<TFloat32>> updated = new ArrayList<>();
    for (int k = 0; k < names.size(); k++) {
      String n = names.get(k);
      Variable<TFloat32> w = params.variables().get(n);
      var adam = after.train.applyAdam(w, params.slot("adam_m").get(n), params.slot("adam_v").get(n), beta1Power,
          beta2Power, learningRate, tf.constant((float) BETA1), tf.constant((float) BETA2), tf.constant((float) EPSILON),
          grads.get(k));
      updated.add(adam.out());
    }
    return updated;
  }
}
