package dev.ddpm4j.diffusion;

import java.util.ArrayList;
import java.util.List;

/**
 * The shared sampling loop of {@link SamplerLoop} in plain Java and double precision, over any network given as a
 * Java function: the reference the graph loops are tested against, and the way to test a solver's maths on an
 * analytic denoiser without training anything.
 */
public final class ReferenceSampler {
  /** The x_0 prediction (unclipped) for a batch x (n images, flattened) at timestep t. */
  public interface Net {
    double[] x0(double[] x, int t);

    /** A learned variance's interpolation f at (x, t), per value; null for a fixed variance. */
    default double[] varianceFraction(double[] x, int t) {
      return null;
    }
  }

  /** Standard-normal noise of a batch: stream 0 is x_T, stream j + 1 the noise of step j. */
  public interface NoiseSource {
    double[] noise(int stream);
  }

  private ReferenceSampler() {}

  /**
   * Runs the loop over {@code ts} (noisiest first) and returns x_0.
   *
   * @param low per-channel lower end of the data range (x_0 is clipped to [low, high]); channels interleaved last
   */
  public static double[] sample(Solver solver, int[] ts, double eta, Net net, NoiseSource noise, double[] low,
      double[] high) {
    double[] x = noise.noise(0);
    List<double[]> previous = new ArrayList<>();
    for (int h = 0; h < solver.history(); h++) previous.add(new double[x.length]);
    for (int j = 0; j < ts.length; j++) {
      double[] x0 = net.x0(x, ts[j]);
      int c = low.length;
      for (int i = 0; i < x0.length; i++) x0[i] = Math.min(high[i % c], Math.max(low[i % c], x0[i]));
      if (j == ts.length - 1) return x0;
      double[] z = solver.stochastic() ? noise.noise(j + 1) : null;
      x = solver.step(ts, j, eta, x, x0, net.varianceFraction(x, ts[j]), previous, z);
      if (solver.history() > 0) {
        previous.add(0, x0);
        previous.remove(previous.size() - 1);
      }
    }
    return x;
  }
}
