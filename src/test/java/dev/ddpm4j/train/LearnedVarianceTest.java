package dev.ddpm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.TinyConfigs;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.diffusion.Elbo;
import dev.ddpm4j.diffusion.Schedule;
import dev.ddpm4j.export.Exporter;
import dev.ddpm4j.sampler.DiffusionSampler;
import dev.ddpm4j.sampler.GeneratedImages;
import dev.ddpm4j.sampler.SamplerSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The improved-DDPM learned variance from training to the export's denoise, samplers and bound. */
class LearnedVarianceTest {
  @TempDir Path tmp;

  @Test
  void trainsExportsSamplesAndBoundsWithTheLearnedVariance() {
    ExperimentConfig cfg = TinyConfigs.config(tmp, "diffusion.variance=learned_range", "diffusion.loss=hybrid",
        "diffusion.schedule.kind=cosine", "export.dir=" + tmp.resolve("exports"), "train.steps=30",
        "train.checkpoint_every=30", "model.dropout=0.1");
    new Trainer(cfg, false, new Progress(new PrintStream(new ByteArrayOutputStream()), false, 1), null).run();
    Path model = Exporter.export(cfg.runDir(), "latest", null, null, false).dir();
    Schedule s = Schedule.of(cfg.diffusion());
    try (DiffusionSampler sampler = DiffusionSampler.load(model)) {
      assertEquals("learned_range", sampler.metadata().variance());
      int n = 3;
      float[] xt = new float[n * 64];
      for (int i = 0; i < xt.length; i++) xt[i] = (float) Math.sin(i * 0.3);
      int[] t = {0, 7, 19};
      DiffusionSampler.Denoised d = sampler.denoise(xt, t);
      assertNotNull(d.logVariance(), "a learned-variance export's denoise returns log sigma^2");
      for (int i = 0; i < xt.length; i++) {
        int k = t[i / 64];
        double lo = s.posteriorLogVarianceClipped[k];
        double hi = Math.log(s.betas[k]);
        assertTrue(d.logVariance()[i] >= Math.min(lo, hi) - 1e-4 && d.logVariance()[i] <= Math.max(lo, hi) + 1e-4,
            "log sigma^2 at t=" + k + " between log beta~ and log beta: " + d.logVariance()[i]);
      }
      // every sampler runs on it; respaced ancestral uses the learned variance of its own steps
      for (String name : sampler.metadata().samplers().keySet()) {
        GeneratedImages g = sampler.sample(2, 1, SamplerSpec.of(name, 5));
        for (float v : g.samples()) assertTrue(Float.isFinite(v), name);
      }
      // the bound uses the network's variance
      float[] x0 = new float[64];
      for (int i = 0; i < 64; i++) x0[i] = (float) (Math.round((Math.cos(i) + 1) * 127.5) / 127.5 - 1);
      Elbo.Result r = Elbo.evaluate(s, "learned_range", x0, 1, 64, new double[] {1 / 127.5}, new double[] {-1},
          (x, tt) -> {
            DiffusionSampler.Denoised p = sampler.denoise(x, tt);
            return new Elbo.Prediction(p.x0(), p.logVariance());
          }, 2, 2);
      assertTrue(Double.isFinite(r.total()) && r.total() > 0, "" + r);
    }
    try (DiffusionSampler fixed = DiffusionSampler.load(dev.ddpm4j.TinyModel.export())) {
      assertNull(fixed.denoise(new float[64], new int[] {3}).logVariance(), "fixed variance: no log_variance output");
    }
  }
}
