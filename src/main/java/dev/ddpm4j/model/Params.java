package dev.ddpm4j.model;

import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/**
 * Where the U-Net gets its weights from, by name: variables in a training or export graph, or plain operands inside a
 * while-loop body (which cannot read variables). The U-Net asks for each weight exactly once per forward pass.
 */
public interface Params<T extends TFloating> {
  Operand<T> get(String name, long[] shape, Init init);

  /**
   * A tensor computed from the weights once, outside the forward pass (a Winograd filter transform handed into a
   * sampler's loop, {@link UNet#winogradFilters}), or null: the network then computes it itself.
   */
  default Operand<T> derived(String name) {
    return null;
  }
}
