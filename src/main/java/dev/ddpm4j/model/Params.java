package dev.ddpm4j.model;

import org.tensorflow.Operand;
import org.tensorflow.types.family.TFloating;

/**
 * Where the U-Net gets its weights from, by name: variables in a training or export graph, or plain operands inside a
 * while-loop body (which cannot read variables). The U-Net asks for each weight exactly once per forward pass.
 */
public interface Params<T extends TFloating> {
  Operand<T> get(String name, long[] shape, Init init);
}
