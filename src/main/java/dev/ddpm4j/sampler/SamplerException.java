package dev.ddpm4j.sampler;

/** A SavedModel that cannot be used, or a call with bad arguments, explained in one sentence. */
public final class SamplerException extends RuntimeException {
  public SamplerException(String message) {
    super(message);
  }

  public SamplerException(String message, Throwable cause) {
    super(message, cause);
  }
}
