import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint8;

/**
 * A client that knows nothing of ddpm4j: TensorFlow Java only. Calls the exported signatures by name and writes their
 * outputs as raw little-endian files. Args: modelDir outDir seed numImages size channels [labels guidance], labels as
 * a comma list (a class-conditional model).
 */
public class TfOnlyClient {
  public static void main(String[] args) throws Exception {
    Path out = Path.of(args[1]);
    long seed = Long.parseLong(args[2]);
    int n = Integer.parseInt(args[3]);
    int[] labels = null;
    float guidance = 1f;
    if (args.length > 6) {
      String[] parts = args[6].split(",");
      labels = new int[parts.length];
      for (int i = 0; i < parts.length; i++) labels[i] = Integer.parseInt(parts[i]);
      guidance = Float.parseFloat(args[7]);
    }
    try (SavedModelBundle b = SavedModelBundle.load(args[0], "serve")) {
      Map<String, Tensor> in = new HashMap<>();
      in.put("seed", TInt64.scalarOf(seed));
      in.put("num_images", TInt32.scalarOf(n));
      in.put("first_index", TInt64.scalarOf(0));
      if (labels != null) {
        in.put("labels", TInt32.vectorOf(labels));
        in.put("guidance_scale", TFloat32.scalarOf(guidance));
      }
      try (Result r = b.function("sample").call(in)) {
        TUint8 images = writeImages(r, out.resolve("images.bin"));
        Files.writeString(out.resolve("images.shape"), images.shape().toString());
      }
      in.values().forEach(Tensor::close);
      in.clear();
      in.put("seed", TInt64.scalarOf(seed));
      in.put("num_images", TInt32.scalarOf(n));
      in.put("first_index", TInt64.scalarOf(4));
      in.put("num_steps", TInt32.scalarOf(6));
      in.put("spacing", TString.scalarOf("karras"));
      if (labels != null) {
        in.put("labels", TInt32.vectorOf(labels));
        in.put("guidance_scale", TFloat32.scalarOf(guidance));
      }
      try (Result r = b.function("sample_dpmpp_2m").call(in)) {
        writeImages(r, out.resolve("dpm.bin"));
      }
      in.values().forEach(Tensor::close);
      Shape shape = Shape.of(2, Long.parseLong(args[4]), Long.parseLong(args[4]), Long.parseLong(args[5]));
      float[] x = new float[(int) shape.size()];
      for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i * 0.37);
      try (TFloat32 xt = TFloat32.tensorOf(shape); TInt32 t = TInt32.vectorOf(1, 7); TInt32 l = TInt32.vectorOf(1, -1)) {
        xt.asRawTensor().data().asFloats().write(x);
        Map<String, Tensor> d = labels == null ? Map.of("x_t", xt, "t", t) : Map.of("x_t", xt, "t", t, "labels", l);
        try (Result r = b.function("denoise").call(d)) {
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

  /** Writes a result's "images" bytes to a file and returns the tensor (owned by the result). */
  static TUint8 writeImages(Result r, Path file) throws java.io.IOException {
    TUint8 images = (TUint8) r.get("images").orElseThrow();
    byte[] px = new byte[(int) images.size()];
    images.asRawTensor().data().read(px);
    Files.write(file, px);
    return images;
  }
}
