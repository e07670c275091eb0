package dev.ddpm4j.train;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.DeviceSpec;
import org.tensorflow.Server;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.ServerDef;

/**
 * A TensorFlow cluster of one job, {@code worker}, whose task 0 is the chief (it runs {@code train}, holds the
 * variables and applies the optimizer) and whose other tasks run {@code ddpm4j worker}. Servers speak gRPC; a started
 * TensorFlow gRPC server cannot be stopped cleanly (its Stop is unimplemented), so a server lives as long as its
 * process.
 */
public final class Cluster {
  public static final String JOB = "worker";

  /** The tasks did not all answer in time. */
  public static final class UnreachableException extends RuntimeException {
    public UnreachableException(String message) {
      super(message);
    }
  }

  private Cluster() {}

  /** The device of a task's CPU. */
  public static DeviceSpec device(int task) {
    return DeviceSpec.newBuilder().job(JOB).replica(0).task(task).deviceType(DeviceSpec.DeviceType.CPU)
        .deviceIndex(0).build();
  }

  /** The ServerDef of task {@code task} with its thread pools. */
  public static ServerDef serverDef(List<String> tasks, int task, int intraThreads, int interThreads) {
    JobDef.Builder job = JobDef.newBuilder().setName(JOB);
    for (int i = 0; i < tasks.size(); i++) job.putTasks(i, tasks.get(i));
    return ServerDef.newBuilder().setCluster(ClusterDef.newBuilder().addJob(job)).setJobName(JOB).setTaskIndex(task)
        .setProtocol("grpc").setDefaultSessionConfig(ConfigProto.newBuilder()
            .setIntraOpParallelismThreads(intraThreads).setInterOpParallelismThreads(interThreads))
        .build();
  }

  /** Starts task {@code task}'s server in this process. */
  public static Server start(List<String> tasks, int task, int intraThreads, int interThreads) {
    if (task < 0 || task >= tasks.size()) {
      throw new IllegalArgumentException("task " + task + " is not in a cluster of " + tasks.size() + " tasks");
    }
    Server s = new Server(serverDef(tasks, task, intraThreads, interThreads));
    s.start();
    return s;
  }

  /** The tasks whose host:port does not accept a TCP connection now. */
  public static List<Integer> unreachable(List<String> tasks) {
    List<Integer> down = new ArrayList<>();
    for (int i = 0; i < tasks.size(); i++) if (!reachable(tasks.get(i), 1000)) down.add(i);
    return down;
  }

  static boolean reachable(String hostPort, int timeoutMs) {
    int colon = hostPort.lastIndexOf(':');
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1))),
          timeoutMs);
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Waits until every task accepts connections, or gives up after {@code timeoutS} naming the missing ones. */
  public static void awaitReachable(List<String> tasks, double timeoutS, Progress progress) {
    long deadline = System.nanoTime() + (long) (timeoutS * 1e9);
    long lastNote = 0;
    while (true) {
      List<Integer> down = unreachable(tasks);
      if (down.isEmpty()) return;
      long now = System.nanoTime();
      if (now > deadline) {
        throw new UnreachableException("gave up after " + timeoutS + " s (distributed.connect_timeout_s): "
            + describe(tasks, down) + " did not come up; start it with: ddpm4j worker --cluster "
            + String.join(",", tasks) + " --task " + down.get(0));
      }
      if (now - lastNote > 10e9) {
        progress.message("waiting for " + describe(tasks, down) + " ...");
        lastNote = now;
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new UnreachableException("interrupted while waiting for the cluster");
      }
    }
  }

  /** "task 1 (host:port), task 2 (host:port)". */
  public static String describe(List<String> tasks, List<Integer> which) {
    List<String> out = new ArrayList<>();
    for (int i : which) out.add("task " + i + " (" + tasks.get(i) + ")");
    return String.join(", ", out);
  }
}
