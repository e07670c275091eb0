package org.tensorflow;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_CloseSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteDeviceList;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListCount;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListMemoryBytes;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListName;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeviceListType;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_GetCode;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_Message;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_OK;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SessionListDevices;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.internal.c_api.TF_DeviceList;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;

/**
 * The devices an in-process TensorFlow session sees (CPU, and GPUs when the CUDA native library finds them): TF Java
 * 1.1 has no public call for it, so, like {@link TargetSessions}, this opens a native session with the C API's
 * {@code TF_SessionListDevices}. In this package for the graph's native handle.
 */
public final class LocalDevices {
  private LocalDevices() {}

  /** One device: its full name, its type ("CPU", "GPU") and its memory in bytes as TensorFlow reports it. */
  public record Device(String name, String type, long memoryBytes) {}

  public static List<Device> list() {
    List<Device> out = new ArrayList<>();
    try (Graph graph = new Graph(); Graph.Reference ref = graph.ref()) {
      TF_SessionOptions options = TF_NewSessionOptions();
      TF_Status status = TF_NewStatus();
      try {
        TF_Session session = TF_NewSession(ref.nativeHandle(), options, status);
        check(status, "cannot open a session");
        try {
          TF_DeviceList devices = TF_SessionListDevices(session, status);
          check(status, "cannot list devices");
          try {
            for (int i = 0; i < TF_DeviceListCount(devices); i++) {
              String name = TF_DeviceListName(devices, i, status).getString();
              String type = TF_DeviceListType(devices, i, status).getString();
              long memory = TF_DeviceListMemoryBytes(devices, i, status);
              check(status, "cannot read device " + i);
              out.add(new Device(name, type, memory));
            }
          } finally {
            TF_DeleteDeviceList(devices);
          }
        } finally {
          TF_CloseSession(session, status);
          TF_DeleteSession(session, status);
        }
      } finally {
        TF_DeleteSessionOptions(options);
        TF_DeleteStatus(status);
      }
    }
    return out;
  }

  private static void check(TF_Status status, String what) {
    if (TF_GetCode(status) != TF_OK) throw new IllegalStateException(what + ": " + TF_Message(status).getString());
  }
}
