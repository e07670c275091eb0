package org.tensorflow;

import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_DeleteStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_GetCode;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_Message;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSession;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewSessionOptions;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_NewStatus;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_OK;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetConfig;
import static org.tensorflow.internal.c_api.global.tensorflow.TF_SetTarget;

import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.proto.ConfigProto;

/**
 * A {@link Session} on a target such as {@code grpc://localhost:2222}: a session of TensorFlow's distributed master.
 *
 * <p>Why this class exists, and why in this package: TensorFlow Java 1.1's public {@code Session} constructors always
 * pass no target, so they only make in-process sessions. The C API has {@code TF_SetTarget} on session options, and
 * {@code Session} has a package-private constructor over a native {@code TF_Session}. Living in {@code
 * org.tensorflow} (a package the TF Java jar does not seal), this one small class creates the native session with a
 * target and wraps it in an ordinary {@code Session}, checked by the compiler rather than by reflection: if a later TF
 * Java changes either piece, the build fails here. Everything else in ddpm4j uses the returned {@code Session} as
 * usual (runner, save, restore, close).
 */
public final class TargetSessions {
  private TargetSessions() {}

  /** A session of {@code graph} on {@code target} (for example {@code grpc://localhost:2222}) with {@code config}. */
  public static Session open(Graph graph, String target, ConfigProto config) {
    try (Graph.Reference ref = graph.ref()) {
      TF_SessionOptions options = TF_NewSessionOptions();
      TF_Status status = TF_NewStatus();
      try {
        TF_SetTarget(options, target);
        byte[] bytes = config.toByteArray();
        try (BytePointer p = new BytePointer(bytes)) {
          TF_SetConfig(options, p, bytes.length, status);
        }
        if (TF_GetCode(status) != TF_OK) throw new IllegalStateException(TF_Message(status).getString());
        TF_Session session = TF_NewSession(ref.nativeHandle(), options, status);
        if (TF_GetCode(status) != TF_OK) {
          throw new IllegalStateException("cannot open a session on " + target + ": " + TF_Message(status).getString());
        }
        return new Session(graph, session);
      } finally {
        TF_DeleteSessionOptions(options);
        TF_DeleteStatus(status);
      }
    }
  }
}
