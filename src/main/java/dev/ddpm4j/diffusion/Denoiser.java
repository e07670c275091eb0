package dev.ddpm4j.diffusion;

import java.util.Map;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The network as every sampler calls it inside its loop: x_t [N,H,W,C] and 0-based timesteps t [N] in, the predicted
 * x_0 out, whatever the parameterization. The weights come from the loop's variables (loop bodies cannot read graph
 * variables); {@code condition} holds the tensors a conditional model needs (class labels, guidance scale), carried
 * through the loop untouched: the diffusion maths never looks at them.
 */
public interface Denoiser {
  /**
   * What the network says about x_t: the implied x_0 (unclipped) and, for a learned variance, the interpolation f in
   * [0, 1] between log beta~ and log beta (null for a fixed variance). The solver turns f into its own step's variance.
   */
  record Prediction(Operand<TFloat32> x0, Operand<TFloat32> varianceFraction) {
    public Prediction(Operand<TFloat32> x0) {
      this(x0, null);
    }
  }

  Prediction predict(Ops tf, Map<String, Operand<TFloat32>> weights, Operand<TFloat32> x, Operand<TInt32> t,
      Map<String, Operand<?>> condition);
}
