import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/** 16 images from an exported model with TensorFlow Java alone: no ddpm4j class on the classpath. */
public class TensorFlowOnly {
  public static void main(String[] args) {
    String model = args.length > 0 ? args[0] : "savedmodels/default";
    try (SavedModelBundle b = SavedModelBundle.load(model, "serve");
        TInt64 seed = TInt64.scalarOf(42);
        TInt32 n = TInt32.scalarOf(16);
        TInt64 first = TInt64.scalarOf(0);
        TInt32 steps = TInt32.scalarOf(10);
        TString spacing = TString.scalarOf("trailing");
        Result r = b.function("sample_dpmpp_2m_sde").call(Map.of("seed", seed, "num_images", n, "first_index", first,
            "num_steps", steps, "spacing", spacing))) {
      TUint8 images = (TUint8) r.get("images").orElseThrow(); // [16, 32, 32, 1]: pixel bytes, NHWC
      System.out.println("images " + images.shape() + ", first pixel " + images.getByte(0, 0, 0, 0));
    }
  }
}
