package dev.ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.config.ExperimentConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Schedule tables against an independent computation (logs and products written out here) and published values. */
class ScheduleTest {
  final Schedule s = Schedule.linear(1e-4, 0.02, 1000);

  @Test
  void linearBetasAreEvenlySpacedFromStartToEnd() {
    assertEquals(1e-4, s.betas[0], 1e-18);
    assertEquals(0.02, s.betas[999], 1e-15);
    assertEquals(1e-4 + 0.0199 * 500 / 999, s.betas[500], 1e-15);
    Schedule fromConfig = Schedule.of(ExperimentConfig.defaults(List.of()).diffusion());
    for (int i = 0; i < 1000; i++) assertEquals(s.betas[i], fromConfig.betas[i], 0);
  }

  @Test
  void alphaBarMatchesKnownValues() {
    assertEquals(0.9999, s.alphaBar[0], 1e-15);
    // published value for the DDPM linear schedule: alpha_bar_T ~= 4.04e-5
    assertEquals(4.04e-5, s.alphaBar[999], 0.01e-5);
  }

  @Test
  void tablesMatchAnIndependentLogSpaceComputation() {
    double logSum = 0;
    for (int i = 0; i < 1000; i++) {
      double beta = 1e-4 + (0.02 - 1e-4) * i / 999.0;
      double prevBar = Math.exp(logSum);
      logSum += Math.log1p(-beta);
      double bar = Math.exp(logSum);
      assertEquals(bar, s.alphaBar[i], 1e-12 * Math.max(1, bar) + 1e-15, "alpha_bar at " + i);
      assertEquals(prevBar, s.alphaBarPrev[i], 1e-12);
      assertEquals(Math.sqrt(bar), s.sqrtAlphaBar[i], 1e-12);
      assertEquals(Math.sqrt(1 - bar), s.sqrtOneMinusAlphaBar[i], 1e-12);
      assertEquals(1 / Math.sqrt(bar), s.sqrtRecipAlphaBar[i], 1e-9 / Math.sqrt(bar));
      assertEquals(Math.sqrt((1 - bar) / bar), s.sqrtRecipM1AlphaBar[i], 1e-9 / Math.sqrt(bar));
      double postVar = beta * (1 - prevBar) / (1 - bar);
      assertEquals(postVar, s.posteriorVariance[i], 1e-14);
      assertEquals(beta * Math.sqrt(prevBar) / (1 - bar), s.posteriorMeanCoef1[i], 1e-10);
      assertEquals((1 - prevBar) * Math.sqrt(1 - beta) / (1 - bar), s.posteriorMeanCoef2[i], 1e-10);
    }
  }

  @Test
  void posteriorVarianceGoldenValuesPinnedByDiffusers() {
    // diffusers' DDPMScheduler test pins the fixed_small (beta-tilde) variance of the linear schedule
    assertEquals(0.0, s.posteriorVariance[0], 1e-12);
    assertEquals(0.00979, s.posteriorVariance[487], 1e-5);
    assertEquals(0.02, s.posteriorVariance[999], 1e-5);
    // the clipped log uses beta-tilde at the second step in place of log(0)
    assertEquals(Math.log(s.posteriorVariance[1]), s.posteriorLogVarianceClipped[0], 0);
  }

  @Test
  void posteriorMeanIsAnAffineCombinationThatReproducesX0WhenXtIsNoiseless() {
    // If x_t = sqrt(alpha_bar_t) x_0 exactly, the posterior mean is sqrt(alpha_bar_{t-1}) x_0.
    for (int i : new int[] {1, 10, 500, 999}) {
      double mu = s.posteriorMeanCoef1[i] + s.posteriorMeanCoef2[i] * s.sqrtAlphaBar[i];
      assertEquals(Math.sqrt(s.alphaBarPrev[i]), mu, 1e-12);
    }
  }

  @Test
  void fixedVarianceChoices() {
    assertEquals(s.betas[300], s.fixedVariance("beta")[300], 0);
    assertEquals(s.posteriorVariance[300], s.fixedVariance("beta_tilde")[300], 0);
    // the first step uses the clipped beta~_2 for both, as the improved-DDPM reference's fixed-large variance
    assertEquals(s.posteriorVariance[1], s.fixedVariance("beta")[0], 0);
    assertEquals(s.posteriorVariance[1], s.fixedVariance("beta_tilde")[0], 0);
    assertThrows(IllegalArgumentException.class, () -> s.fixedVariance("learned_range"));
    assertThrows(IllegalArgumentException.class, () -> new Schedule(new double[] {0.1, 1.0}));
  }

  @Test
  void cosineScheduleFollowsTheClosedFormAndClipsAtMaxBeta() {
    Schedule c = Schedule.cosine(0.008, 0.999, 1000);
    for (int i : new int[] {0, 1, 250, 500, 750, 998}) {
      double f = Math.pow(Math.cos(((i + 1) / 1000.0 + 0.008) / 1.008 * Math.PI / 2), 2);
      double f0 = Math.pow(Math.cos(0.008 / 1.008 * Math.PI / 2), 2);
      assertEquals(f / f0, c.alphaBar[i], 1e-9 * Math.max(1e-3, f / f0), "alpha_bar at " + i);
    }
    assertEquals(0.999, c.betas[999], 0); // 1 - 0/alpha_bar would be 1: clipped
    assertEquals(0.5, c.alphaBar[499], 0.01); // the cosine schedule's alpha_bar halves near the middle
    assertTrue(c.betas[0] < 1e-4);
  }

  @Test
  void quadraticAndSigmoidRunFromStartToEnd() {
    Schedule q = Schedule.quadratic(1e-4, 0.02, 1000);
    assertEquals(1e-4, q.betas[0], 1e-18);
    assertEquals(0.02, q.betas[999], 1e-15);
    double mid = Math.pow((Math.sqrt(1e-4) + Math.sqrt(0.02)) / 2, 2);
    assertEquals(mid, (q.betas[499] + q.betas[500]) / 2, 1e-6);
    Schedule s = Schedule.sigmoid(1e-4, 0.02, 1000);
    assertEquals(1e-4 + 0.0199 / (1 + Math.exp(6)), s.betas[0], 1e-15);
    assertEquals(1e-4 + 0.0199 / (1 + Math.exp(-6)), s.betas[999], 1e-15);
    assertEquals((1e-4 + 0.02) / 2, (s.betas[499] + s.betas[500]) / 2, 1e-9); // symmetric around x = 0
    for (int i = 1; i < 1000; i++) {
      assertTrue(q.betas[i] > q.betas[i - 1]);
      assertTrue(s.betas[i] > s.betas[i - 1]);
    }
  }

  @Test
  void snrIsAlphaBarOverOneMinusAlphaBar() {
    double[] snr = s.snr();
    assertEquals(0.9999 / 0.0001, snr[0], 1e-6);
    assertEquals(s.alphaBar[999] / (1 - s.alphaBar[999]), snr[999], 1e-15);
  }

  @Test
  void everyScheduleKindIsSelectableFromTheConfig() {
    for (String k : ExperimentConfig.SCHEDULES) {
      Schedule x = Schedule.of(ExperimentConfig.defaults(List.of("diffusion.schedule.kind=" + k)).diffusion());
      assertEquals(1000, x.timesteps, k);
    }
  }

  @Test
  void everyScheduleKindOfAConfigIsItsOwnFormulaNotLinear() {
    for (String kind : List.of("linear", "cosine", "quadratic", "sigmoid")) {
      Schedule fromConfig = Schedule.of(ExperimentConfig.defaults(List.of("diffusion.schedule.kind=" + kind,
          "diffusion.timesteps=100")).diffusion());
      for (int i = 0; i < 100; i++) {
        double beta = switch (kind) {
          case "linear" -> 1e-4 + (0.02 - 1e-4) * i / 99.0;
          case "quadratic" -> Math.pow(Math.sqrt(1e-4) + (Math.sqrt(0.02) - Math.sqrt(1e-4)) * i / 99.0, 2);
          case "sigmoid" -> 1e-4 + (0.02 - 1e-4) / (1 + Math.exp(-(-6 + 12.0 * i / 99)));
          default -> {
            java.util.function.DoubleUnaryOperator f = u -> Math.pow(Math.cos((u + 0.008) / 1.008 * Math.PI / 2), 2);
            yield Math.min(1 - f.applyAsDouble((i + 1) / 100.0) / f.applyAsDouble(i / 100.0), 0.999);
          }
        };
        assertEquals(beta, fromConfig.betas[i], 1e-12 * Math.max(1, beta), kind + " beta " + i);
      }
      if (!kind.equals("linear")) {
        boolean differs = false;
        Schedule linear100 = Schedule.linear(1e-4, 0.02, 100);
        for (int i = 0; i < 100; i++) differs |= Math.abs(linear100.betas[i] - fromConfig.betas[i]) > 1e-6;
        assertTrue(differs, kind + " is not the linear schedule");
      }
    }
  }
}
