package dev.ddpm4j.cli;

import dev.ddpm4j.config.ExperimentConfig;
import dev.ddpm4j.train.Cluster;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import org.tensorflow.Server;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "worker", mixinStandardHelpOptions = true,
    description = "Serve one task of a training cluster: start TensorFlow's gRPC server for task i and wait. The chief "
        + "(task 0) runs `ddpm4j train` with the same distributed.cluster and places each replica's forward and "
        + "backward pass on its task. The process serves until it is stopped (a TensorFlow server cannot be shut "
        + "down cleanly).")
final class WorkerCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--cluster", paramLabel = "HOST:PORT,...",
      description = "Every task's host:port, the chief's first (default: the config's distributed.cluster).")
  String cluster;

  @Option(names = "--task", required = true, description = "This process's task index (1.. for workers).")
  int task;

  @Option(names = "--threads", defaultValue = "0",
      description = "Intra- and inter-op threads of this task (default: the config's train.intra_op_threads and "
          + "train.inter_op_threads).")
  int threads;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException {
    List<String> tasks;
    int intra;
    int inter;
    ExperimentConfig cfg = cluster == null || threads == 0 ? options.resolve() : null;
    if (cluster != null) {
      tasks = Arrays.stream(cluster.split(",")).map(String::trim).toList();
    } else {
      tasks = cfg.distributed().tasks();
      if (tasks.isEmpty()) throw new Main.UserError("no cluster: pass --cluster host:port,... or set distributed.cluster");
    }
    for (String t : tasks) {
      if (!t.matches("[A-Za-z0-9._-]+:[0-9]{1,5}")) throw new Main.UserError("--cluster: '" + t + "' is not host:port");
    }
    if (task < 1 || task >= tasks.size()) {
      throw new Main.UserError("--task must be in [1, " + (tasks.size() - 1) + "] (task 0 is the chief, which runs "
          + "train), got " + task);
    }
    intra = threads > 0 ? threads : cfg.train().intraOpThreads();
    inter = threads > 0 ? threads : cfg.train().interOpThreads();
    Server server;
    try {
      server = Cluster.start(tasks, task, intra, inter);
    } catch (RuntimeException e) {
      throw new Main.UserError("cannot start task " + task + " on " + tasks.get(task) + ": " + e.getMessage());
    }
    spec.commandLine().getOut().printf("worker: task %d of %d serving on %s (%d intra-op, %d inter-op threads); "
        + "the chief is %s%n", task, tasks.size(), tasks.get(task), intra, inter, tasks.get(0));
    spec.commandLine().getOut().flush();
    server.join();
    return 0;
  }
}
