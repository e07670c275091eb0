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

  /** Number of classes of a class-conditional model; 0 for an unconditional one. */
  public int numClasses() {
    return ((Number) json.getOrDefault("num_classes", 0)).intValue();
  }

  /** The class names (index = label), or empty when the export does not name them. */
  @SuppressWarnings("unchecked")
  public List<String> classNames() {
    Object names = json.get("class_names");
    return names instanceof List ? ((List<Object>) names).stream().map(String::valueOf).toList() : List.of();
  }

  /** Version of the export contract: 2 adds first_index and one sample_<sampler> signature per sampler. */
  public int formatVersion() {
    return ((Number) json.getOrDefault("format_version", 1)).intValue();
  }

  /** A sampler the export offers: its signature, the spacings it accepts, its default spacing, whether it takes eta. */
  public record SamplerInfo(String name, String signature, List<String> spacings, String defaultSpacing,
      boolean takesEta) {}

  /** The samplers of this export, by name (empty for exports before format 2). */
  @SuppressWarnings("unchecked")
  public Map<String, SamplerInfo> samplers() {
    Map<String, SamplerInfo> out = new java.util.LinkedHashMap<>();
    Object s = json.get("samplers");
    if (!(s instanceof Map)) return out;
    for (var e : ((Map<String, Object>) s).entrySet()) {
      Map<String, Object> d = (Map<String, Object>) e.getValue();
      List<String> spacings = ((List<Object>) d.get("spacings")).stream().map(String::valueOf).toList();
      out.put(e.getKey(), new SamplerInfo(e.getKey(), (String) d.get("signature"), spacings,
          (String) d.get("default_spacing"), Boolean.TRUE.equals(d.get("eta"))));
    }
    return out;
  }

  /** The whole metadata document (the full training config is under "config"). */
  public Map<String, Object> asMap() {
    return json;
  }
}
