package dev.ddpm4j;

import dev.ddpm4j.config.ExperimentConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Small configs for tests: synthetic data, a U-Net of a few thousand weights, few timesteps. */
public final class TinyConfigs {
  private TinyConfigs() {}

  public static List<String> tiny(Path runs, String... extra) {
    List<String> o = new ArrayList<>(List.of(
        "data.kind=synthetic", "data.image_size=8", "data.channels=1", "data.synthetic.num_images=16",
        "model.base_channels=8", "model.channel_mults=[1,2]", "model.num_res_blocks=1",
        "model.attention_resolutions=[4]", "model.groups=4", "model.heads=2", "model.dropout=0.0",
        "diffusion.timesteps=20", "train.batch_size=8", "train.steps=20", "train.lr=0.001", "train.warmup_steps=5",
        "train.log_every=5", "train.sample_every=0", "train.sample_images=4", "train.checkpoint_every=10",
        "train.keep_checkpoints=5", "train.precision=fp32", "run.name=tiny", "run.seed=3"));
    if (runs != null) o.add("run.output_dir=" + runs);
    o.addAll(List.of(extra));
    return o;
  }

  public static ExperimentConfig config(Path runs, String... extra) {
    return ExperimentConfig.defaults(tiny(runs, extra));
  }
}
