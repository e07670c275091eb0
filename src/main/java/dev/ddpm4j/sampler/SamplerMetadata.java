package dev.ddpm4j.sampler;

import java.util.List;
import java.util.Map;

/** What {@code assets.extra/ddpm4j.json} says about an exported model. */
public final class SamplerMetadata {
  private final Map<String, Object> json;

  SamplerMetadata(Map<String, Object> json) {
    this.json = json;
  }

  public int imageSize() {
    return ((Number) json.get("image_size")).intValue();
  }

  public int channels() {
    return ((Number) json.get("channels")).intValue();
  }

  public int timesteps() {
    return ((Number) json.get("timesteps")).intValue();
  }

  public long trainingSteps() {
    return ((Number) json.get("training_steps")).longValue();
  }

  public String prediction() {
    return (String) json.get("prediction");
  }

  public String variance() {
    return (String) json.get("variance");
  }

  /** Per-channel scale and shift of the training normalization: x = pixel * scale + shift. */
  @SuppressWarnings("unchecked")
  public double[] normalizationScale() {
    return ((List<Object>) ((Map<String, Object>) json.get("normalization")).get("scale")).stream()
        .mapToDouble(o -> ((Number) o).doubleValue()).toArray();
  }

  @SuppressWarnings("unchecked")
  public double[] normalizationShift() {
    return ((List<Object>) ((Map<String, Object>) json.get("normalization")).get("shift")).stream()
        .mapToDouble(o -> ((Number) o).doubleValue()).toArray();
  }

  /** The whole metadata document (the full training config is under "config"). */
  public Map<String, Object> asMap() {
    return json;
  }
}
