package dev.ddpm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.diffusion.Schedule;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "schedule", mixinStandardHelpOptions = true,
    description = "Print the diffusion schedule of a config, one row per step: t (1-based, as in the paper), beta, "
        + "alpha_bar, posterior variance, posterior mean coefficients (x_0 and x_t), SNR.")
final class ScheduleCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--format", defaultValue = "csv", description = "csv or json (default: ${DEFAULT-VALUE}).")
  String format;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (!format.equals("csv") && !format.equals("json")) {
      throw new Main.UserError("--format must be csv or json, got " + format);
    }
    ExperimentConfig cfg = options.resolve();
    Schedule s = Schedule.of(cfg.diffusion());
    double[] snr = s.snr();
    PrintWriter out = spec.commandLine().getOut();
    if (format.equals("csv")) {
      out.println("t,beta,alpha_bar,posterior_variance,posterior_mean_coef_x0,posterior_mean_coef_xt,snr");
      for (int i = 0; i < s.timesteps; i++) {
        out.printf("%d,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g%n", i + 1, s.betas[i], s.alphaBar[i],
            s.posteriorVariance[i], s.posteriorMeanCoef1[i], s.posteriorMeanCoef2[i], snr[i]);
      }
    } else {
      ObjectMapper json = new ObjectMapper();
      ArrayNode rows = json.createArrayNode();
      for (int i = 0; i < s.timesteps; i++) {
        ObjectNode r = rows.addObject();
        r.put("t", i + 1);
        r.put("beta", s.betas[i]);
        r.put("alpha_bar", s.alphaBar[i]);
        r.put("posterior_variance", s.posteriorVariance[i]);
        r.put("posterior_mean_coef_x0", s.posteriorMeanCoef1[i]);
        r.put("posterior_mean_coef_xt", s.posteriorMeanCoef2[i]);
        r.put("snr", snr[i]);
      }
      out.println(rows.toString());
    }
    out.flush();
    return 0;
  }
}
