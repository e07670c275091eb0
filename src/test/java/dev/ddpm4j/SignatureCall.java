package dev.ddpm4j;

import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;

/**
 * A raw call of an export's sampling signature by its input and output names, as a TensorFlow client other than
 * {@code DiffusionSampler} makes it (the session runner, no ddpm4j code in between). Owns its input tensors.
 */
public final class SignatureCall {
  private final Map<String, Tensor> feeds = new LinkedHashMap<>();

  private SignatureCall() {}

  /** The inputs every sampling signature takes but eta: seed, num_images, first_index, num_steps, spacing. */
  public static SignatureCall sampling(long seed, int numImages, long firstIndex, int numSteps, String spacing) {
    return new SignatureCall().with("seed", TInt64.scalarOf(seed)).with("num_images", TInt32.scalarOf(numImages))
        .with("first_index", TInt64.scalarOf(firstIndex)).with("num_steps", TInt32.scalarOf(numSteps))
        .with("spacing", TString.scalarOf(spacing));
  }

  /** One more input (eta, labels, guidance_scale), closed with the others. */
  public SignatureCall with(String input, Tensor value) {
    Tensor old = feeds.put(input, value);
    if (old != null) old.close();
    return this;
  }

  public SignatureCall eta(float eta) {
    return with("eta", TFloat32.scalarOf(eta));
  }

  /** Runs the signature in the session, fetching the named outputs in order, and closes the inputs. */
  public Result run(Session session, Signature signature, String... outputs) {
    try {
      Session.Runner runner = session.runner();
      for (var e : feeds.entrySet()) {
        var in = signature.getInputs().get(e.getKey());
        if (in == null) throw new IllegalArgumentException("the signature has no input " + e.getKey());
        runner.feed(in.name, e.getValue());
      }
      for (String o : outputs) runner.fetch(signature.getOutputs().get(o).name);
      return runner.run();
    } finally {
      feeds.values().forEach(Tensor::close);
      feeds.clear();
    }
  }
}
