package dev.ddpm4j.sampler;

/**
 * Which sampler to draw with: a sampler of the export ({@code ancestral}, {@code ddim}, {@code dpmpp_2m}, {@code
 * dpmpp_3m}, {@code dpmpp_2m_sde}; {@link SamplerMetadata#samplers()} lists them), its number of network calls K, its timestep spacing
 * (null: the sampler's default) and, for DDIM, eta.
 *
 * @param steps K; 0 means all T steps (ancestral only)
 */
public record SamplerSpec(String sampler, int steps, String spacing, float eta) {
  public SamplerSpec {
    if (sampler == null || sampler.isEmpty()) throw new IllegalArgumentException("sampler name is empty");
    if (steps < 0) throw new IllegalArgumentException("steps must be >= 1 (or 0 for all T steps), got " + steps);
    if (!(eta >= 0 && eta <= 1)) throw new IllegalArgumentException("eta must be in [0, 1], got " + eta);
  }

  /** The DDPM ancestral sampler over all T steps (the {@code sample} signature). */
  public static SamplerSpec ancestral() {
    return new SamplerSpec("ancestral", 0, null, 0f);
  }

  /** {@code sampler} with K steps and its default spacing. */
  public static SamplerSpec of(String sampler, int steps) {
    return new SamplerSpec(sampler, steps, null, 0f);
  }

  public SamplerSpec withSpacing(String spacing) {
    return new SamplerSpec(sampler, steps, spacing, eta);
  }

  public SamplerSpec withEta(float eta) {
    return new SamplerSpec(sampler, steps, spacing, eta);
  }

  /** Whether this is the full ancestral sampler (all T steps). */
  public boolean isFullAncestral() {
    return sampler.equals("ancestral") && steps == 0;
  }

  @Override
  public String toString() {
    if (isFullAncestral()) return "ancestral, all steps";
    return sampler + ", " + steps + " steps" + (spacing != null ? ", " + spacing + " spacing" : "")
        + (eta != 0 ? ", eta " + eta : "");
  }
}
