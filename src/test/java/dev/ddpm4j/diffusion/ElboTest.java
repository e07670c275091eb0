package dev.ddpm4j.diffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.data.BatchIterator;
import dev.ddpm4j.data.Dataset;
import dev.ddpm4j.data.Datasets;
import dev.ddpm4j.data.Normalizer;
import dev.ddpm4j.train.TrainingSession;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

class ElboTest {
  @TempDir Path tmp;
  final Schedule linear = Schedule.linear(1e-4, 0.02, 1000);

  @Test
  void priorTermOfTheLinearScheduleIsBelowOneTenThousandthBitPerDim() {
    assertTrue(Elbo.priorBitsPerDim(linear, 1.0) < 1e-4, "" + Elbo.priorBitsPerDim(linear, 1.0));
    // closed form: 0.5 (-ln(1-a) + (1-a) + a x^2 - 1) / ln 2 with a = alpha_bar_T
    double a = linear.alphaBar[999];
    assertEquals(0.5 * (-Math.log(1 - a) - a + a * 0.25) / Math.log(2), Elbo.priorBitsPerDim(linear, 0.5), 1e-15);
  }

  @Test
  void normalCdfAndDiscretizedDecoder() {
    assertEquals(0.5, Elbo.normalCdf(0), 2e-7); // the erfc fit is good to 1.2e-7 relative
    assertEquals(0.8413447460685429, Elbo.normalCdf(1), 2e-7);
    assertEquals(0.022750131948179195, Elbo.normalCdf(-2), 2e-8);
    double h = 1 / 255.0;
    // an interior bin centred on the mean: Phi(h/s) - Phi(-h/s)
    double s = 0.01;
    assertEquals(Math.log(Elbo.normalCdf(h / s) - Elbo.normalCdf(-h / s)),
        Elbo.discretizedLogLikelihood(0.2, 153, h, 0.2, s), 1e-12);
    // the edge bins run to infinity: mean far above pixel 255's centre still gives it almost all mass
    assertEquals(0.0, Elbo.discretizedLogLikelihood(1.0, 255, h, 1.5, s), 1e-9);
    assertEquals(0.0, Elbo.discretizedLogLikelihood(-1.0, 0, h, -1.5, s), 1e-9);
  }

  @Test
  void aPerfectNetworkWithPosteriorVarianceHasZeroDiffusionTerms() {
    Schedule s = Schedule.linear(1e-4, 0.02, 50);
    float[] x0 = {(float) (10 / 127.5 - 1), (float) (200 / 127.5 - 1), 1f, -1f};
    Elbo.Result r = Elbo.evaluate(s, "beta_tilde", x0, 2, 2, new double[] {1 / 127.5}, new double[] {-1},
        (xt, t) -> new Elbo.Prediction(x0.clone(), null), 1, 5);
    assertEquals(0.0, r.diffusionTerms(), 1e-12);
    // the decoder with mean exactly x_0 and sigma = sqrt(beta~ of the second step)
    double sigma = Math.sqrt(s.posteriorVariance[1]);
    double h = 1 / 255.0;
    double nll = -2 * Math.log(Elbo.normalCdf(h / sigma) - Elbo.normalCdf(-h / sigma)) // interior pixels
        - Math.log(Elbo.normalCdf(h / sigma)) - Math.log(Elbo.normalCdf(h / sigma)); // the two edge pixels
    assertEquals(nll / 4 / Math.log(2), r.decoder(), 1e-9);
    assertEquals(r.prior() + r.diffusionTerms() + r.decoder(), r.total(), 1e-12);
  }

  @Test
  void aPerfectNetworkWithVarianceBetaPaysTheGapBetweenBetaAndTheTruePosteriorVariance() {
    // with mu_theta = mu~ every term is KL(N(mu, beta~) || N(mu, beta)) = 0.5 (log(beta / beta~) + beta~ / beta - 1)
    Schedule s = Schedule.linear(1e-4, 0.02, 50);
    float[] x0 = {(float) (10 / 127.5 - 1), (float) (200 / 127.5 - 1), 0.2f, -0.4f};
    Elbo.Result r = Elbo.evaluate(s, "beta", x0, 2, 2, new double[] {1 / 127.5}, new double[] {-1},
        (xt, t) -> new Elbo.Prediction(x0.clone(), null), 1, 5);
    double perDim = 0;
    for (int k = 1; k < 50; k++) {
      perDim += 0.5 * (Math.log(s.betas[k] / s.posteriorVariance[k]) + s.posteriorVariance[k] / s.betas[k] - 1);
    }
    assertEquals(perDim / Math.log(2), r.diffusionTerms(), 1e-9);
    // the decoder uses beta~_2 at t = 1, not beta_1 (the reference's clipped fixed-large variance)
    Elbo.Result tilde = Elbo.evaluate(s, "beta_tilde", x0, 2, 2, new double[] {1 / 127.5}, new double[] {-1},
        (xt, t) -> new Elbo.Prediction(x0.clone(), null), 1, 5);
    assertEquals(tilde.decoder(), r.decoder(), 1e-12);
  }

  @Test
  void theScoredRegionExcludesPaddingAndClippingKeepsPredictionsInRange() {
    Schedule s = Schedule.linear(1e-4, 0.02, 30);
    // one image of 4 dims; dims 1 and 2 are "the data", dims 0 and 3 padding at pixel 0
    float[] x0 = {-1f, 0.2f, -0.4f, -1f};
    boolean[] scored = {false, true, true, false};
    Elbo.Denoise perfect = (xt, t) -> new Elbo.Prediction(x0.clone(), null);
    Elbo.Result r = Elbo.evaluate(s, "beta_tilde", x0, 1, 4, new double[] {1 / 127.5}, new double[] {-1}, scored,
        true, perfect, 1, 2);
    Elbo.Result inner = Elbo.evaluate(s, "beta_tilde", new float[] {0.2f, -0.4f}, 1, 2, new double[] {1 / 127.5},
        new double[] {-1}, (xt, t) -> new Elbo.Prediction(new float[] {0.2f, -0.4f}, null), 1, 2);
    assertEquals(2, r.scoredDims());
    assertEquals(inner.total(), r.total(), 1e-12, "the scored figure is the data pixels' bound");
    assertTrue(r.all().total() < r.total(), "border pixels at 0 are cheap: " + r.all().total() + " < " + r.total());
    // a prediction far outside the data range: clipped, it is the nearest edge; unclipped, it costs far more
    Elbo.Denoise wild = (xt, t) -> new Elbo.Prediction(new float[] {-5f, 0.2f, -0.4f, -5f}, null);
    double clipped = Elbo.evaluate(s, "beta_tilde", x0, 1, 4, new double[] {1 / 127.5}, new double[] {-1}, null, true,
        wild, 1, 2).total();
    double unclipped = Elbo.evaluate(s, "beta_tilde", x0, 1, 4, new double[] {1 / 127.5}, new double[] {-1}, null,
        false, wild, 1, 2).total();
    assertEquals(Elbo.evaluate(s, "beta_tilde", x0, 1, 4, new double[] {1 / 127.5}, new double[] {-1}, null, true,
        perfect, 1, 2).total(), clipped, 1e-12);
    assertTrue(unclipped > clipped + 1, clipped + " vs " + unclipped);
  }

  @Test
  void boundIsFiniteUntrainedAndLowerAfterOverfitting() {
    ExperimentConfig cfg = TinyConfigs.config(tmp, "data.synthetic.num_images=8", "train.lr=0.002");
    Dataset d = Datasets.load(cfg.data(), cfg.run().seed());
    Normalizer norm = Normalizer.of(cfg.data());
    float[] x0 = new float[d.pixels().length];
    norm.normalize(d.pixels(), 0, x0, 0, x0.length);
    Schedule s = Schedule.of(cfg.diffusion());
    try (TrainingSession ts = new TrainingSession(cfg)) {
      Elbo.Denoise net = (xt, t) -> new Elbo.Prediction(x0FromNetwork(ts, s, xt, t), null);
      Elbo.Result before = Elbo.evaluate(s, "beta", x0, 8, 64, new double[] {1 / 127.5}, new double[] {-1}, net, 3, 4);
      float[] batch;
      try (BatchIterator it = new BatchIterator(d, norm, 8, 0, false, 1, BatchIterator.Position.START)) {
        batch = it.next().images();
      }
      for (int i = 0; i < 300; i++) ts.step(batch);
      Elbo.Result after = Elbo.evaluate(s, "beta", x0, 8, 64, new double[] {1 / 127.5}, new double[] {-1}, net, 3, 4);
      assertTrue(Double.isFinite(before.total()) && before.total() > 0, "untrained: " + before);
      assertTrue(after.total() < before.total(), "before " + before.total() + " after " + after.total());
      assertTrue(after.totalStandardError() > 0);
    }
  }

  private static float[] x0FromNetwork(TrainingSession ts, Schedule s, float[] xt, int[] t) {
    try (TFloat32 x = TFloat32.tensorOf(Shape.of(t.length, 8, 8, 1)); TInt32 tt = TInt32.vectorOf(t)) {
      x.asRawTensor().data().asFloats().write(xt);
      try (Result r = ts.session.runner().feed(ts.net.xt, x).feed(ts.net.t, tt).fetch(ts.net.output).run()) {
        float[] eps = new float[xt.length];
        ((TFloat32) r.get(0)).asRawTensor().data().asFloats().read(eps);
        float[] out = new float[xt.length];
        int per = xt.length / t.length;
        for (int i = 0; i < xt.length; i++) {
          int k = t[i / per];
          out[i] = (float) (s.sqrtRecipAlphaBar[k] * xt[i] - s.sqrtRecipM1AlphaBar[k] * eps[i]);
        }
        return out;
      }
    }
  }
}
