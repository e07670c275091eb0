import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * A client that knows nothing of ddpm4j: TensorFlow Java only. Calls the exported signatures by name and writes their
 * outputs as raw little-endian files. Args: modelDir outDir seed numImages.
 */
public class TfOnlyClient {
  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[1]);
    long seed = Long.parseLong(args[2]);
    int n = Integer.parseInt(args[3]);
    try (SavedModelBundle b = SavedModelBundle.load(args[0], "serve")) {
      try (TInt64 s = TInt64.scalarOf(seed); TInt32 num = TInt32.scalarOf(n); TInt64 first = TInt64.scalarOf(0);
          Result r = b.function("sample").call(Map.of("seed", s, "num_images", num, "first_index", first))) {
        TUint8 images = (TUint8) r.get("images").orElseThrow();
        byte[] px = new byte[(int) images.size()];
        images.asRawTensor().data().read(px);
        Files.write(out.resolve("images.bin"), px);
        Files.writeString(out.resolve("images.shape"), images.shape().toString());
      }
      try (TInt64 s = TInt64.scalarOf(seed); TInt32 num = TInt32.scalarOf(n); TInt64 first = TInt64.scalarOf(4);
          TInt32 steps = TInt32.scalarOf(6); TString spacing = TString.scalarOf("karras");
          Result r = b.function("sample_dpmpp_2m").call(Map.of("seed", s, "num_images", num, "first_index", first,
              "num_steps", steps, "spacing", spacing))) {
        TUint8 images = (TUint8) r.get("images").orElseThrow();
        byte[] px = new byte[(int) images.size()];
        images.asRawTensor().data().read(px);
        Files.write(out.resolve("dpm.bin"), px);
      }
      Shape shape = Shape.of(2, Long.parseLong(args[4]), Long.parseLong(args[4]), Long.parseLong(args[5]));
      float[] x = new float[(int) shape.size()];
      for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i * 0.37);
      try (TFloat32 xt = TFloat32.tensorOf(shape); TInt32 t = TInt32.vectorOf(1, 7)) {
        xt.asRawTensor().data().asFloats().write(x);
        try (Result r = b.function("denoise").call(Map.of("x_t", xt, "t", t))) {
          TFloat32 eps = (TFloat32) r.get("eps").orElseThrow();
          float[] e = new float[(int) eps.size()];
          eps.asRawTensor().data().asFloats().read(e);
          ByteBuffer buf = ByteBuffer.allocate(4 * e.length).order(ByteOrder.LITTLE_ENDIAN);
          for (float v : e) buf.putFloat(v);
          Files.write(out.resolve("eps.bin"), buf.array());
        }
      }
    }
  }
}
