package dev.ddpm4j.diffusion;

import java.util.List;
import java.util.Locale;

/**
 * Every sampler ddpm4j offers: the one list the export's signatures ({@code sample_<key>}), the client API's choices
 * and the CLI's {@code --sampler} values are derived from. A new sampler is one {@link Solver} file, its test, and a
 * line here.
 */
public enum SamplerKind {
  /** DDPM's ancestral sampler, over all T steps or respaced to K of them (betas recomputed from alpha_bar). */
  ANCESTRAL(List.of(Spacing.LEADING, Spacing.TRAILING, Spacing.LINSPACE), Spacing.TRAILING, false),
  /** DDIM with eta from 0 (deterministic) to 1. */
  DDIM(List.of(Spacing.LEADING, Spacing.TRAILING, Spacing.LINSPACE), Spacing.LEADING, true),
  /** DPM-Solver++ multistep, second order. */
  DPMPP_2M(List.of(Spacing.values()), Spacing.LEADING, false),
  /** DPM-Solver++ multistep, third order. */
  DPMPP_3M(List.of(Spacing.values()), Spacing.LEADING, false),
  /** SDE-DPM-Solver++ multistep, second order: DPM-Solver++ with fresh noise each step. */
  DPMPP_2M_SDE(List.of(Spacing.values()), Spacing.TRAILING, false);

  /**
   * What ddpm4j samples with when nobody says otherwise (the CLI's sample and eval, training grids): on the default
   * model it scores better than the 1000-step ancestral sampler at the same n in FID and KID of both feature spaces,
   * the detail ratio, the pixel-histogram distance, recall and coverage, and level with it in precision (within one
   * standard error), with 50 network calls instead of 1000 (README "Choosing a sampler"; docs/BENCHMARKS.md).
   */
  public static final SamplerKind DEFAULT = DPMPP_2M_SDE;
  /**
   * Network calls of {@link #DEFAULT} (at most T), and every sampler's default --steps. At 10, the choice of the
   * classifier-space FID alone, its images were visibly blurred (detail ratio 0.63); at 50 they keep 0.88 of real
   * images' fine detail, as the ancestral sampler does.
   */
  public static final int DEFAULT_STEPS = 50;

  private final List<Spacing> spacings;
  private final Spacing defaultSpacing;
  private final boolean takesEta;

  SamplerKind(List<Spacing> spacings, Spacing defaultSpacing, boolean takesEta) {
    this.spacings = spacings;
    this.defaultSpacing = defaultSpacing;
    this.takesEta = takesEta;
  }

  public String key() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The export signature that runs it. */
  public String signature() {
    return "sample_" + key();
  }

  public List<Spacing> spacings() {
    return spacings;
  }

  public Spacing defaultSpacing() {
    return defaultSpacing;
  }

  public boolean takesEta() {
    return takesEta;
  }

  public static SamplerKind parse(String s) {
    for (SamplerKind k : values()) if (k.key().equals(s)) return k;
    throw new IllegalArgumentException("unknown sampler '" + s + "' (available: " + keys() + ")");
  }

  public static String keys() {
    List<String> out = new java.util.ArrayList<>();
    for (SamplerKind k : values()) out.add(k.key());
    return String.join(", ", out);
  }

  /** The solver for a schedule; {@code variance} is the model's (beta or beta_tilde) for the ancestral sampler. */
  public Solver solver(Schedule schedule, String variance) {
    return switch (this) {
      case ANCESTRAL -> new AncestralSolver(schedule, variance);
      case DDIM -> new DdimSolver(schedule);
      case DPMPP_2M -> new DpmSolverPlusPlus(schedule, 2);
      case DPMPP_3M -> new DpmSolverPlusPlus(schedule, 3);
      case DPMPP_2M_SDE -> new DpmSolverPlusPlusSde(schedule);
    };
  }
}
