package dev.ddpm4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ddpm4j.PngBytes;
import dev.ddpm4j.config.ExperimentConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An image folder's held-out tenth: fixed by file name, never read by training, stable when files are added. */
class FolderSplitTest {
  @TempDir Path tmp;

  ExperimentConfig.Data cfg(Path root, String split) {
    return ExperimentConfig.defaults(List.of("data.kind=image_folder", "data.path=" + root, "data.image_size=4",
        "data.channels=1", "data.resize=pad", "data.split=" + split, "model.channel_mults=[1]",
        "model.attention_resolutions=[]")).data();
  }

  /** Image i is 4x4 grey with pixel (0,0) = i and (0,1) = i >> 8: every image is told apart by its pixels. */
  static void image(Path file, int i) throws Exception {
    byte[] px = new byte[16];
    px[0] = (byte) i;
    px[1] = (byte) (i >> 8);
    Files.createDirectories(file.getParent());
    PngBytes.write(file, 4, 4, 1, px);
  }

  static Set<Integer> ids(Dataset d) {
    Set<Integer> s = new HashSet<>();
    for (int i = 0; i < d.size(); i++) s.add(d.pixel(i, 0, 0, 0) + 256 * d.pixel(i, 0, 1, 0));
    return s;
  }

  @Test
  void trainingNeverReadsTheHeldOutImages() throws Exception {
    Path root = tmp.resolve("f");
    for (int i = 0; i < 300; i++) image(root.resolve((i % 3 == 0 ? "cats" : "dogs") + "/img" + i + ".png"), i);
    Dataset train = ImageFolder.load(cfg(root, "train"));
    Dataset test = ImageFolder.load(cfg(root, "test"));
    Set<Integer> tr = ids(train);
    Set<Integer> te = ids(test);
    assertEquals(300, tr.size() + te.size());
    assertTrue(java.util.Collections.disjoint(tr, te), "no image in both");
    assertTrue(te.size() >= 15 && te.size() <= 50, "about a tenth held out: " + te.size());
    assertEquals(List.of("cats", "dogs"), test.classNames(), "both splits share the class names");
    for (int i = 0; i < test.size(); i++) {
      int id = test.pixel(i, 0, 0, 0) + 256 * test.pixel(i, 0, 1, 0);
      assertEquals(id % 3 == 0 ? 0 : 1, test.labels()[i], "labels follow the folders in the held-out split too");
      assertTrue(ImageFolder.heldOut((id % 3 == 0 ? "cats" : "dogs") + "/img" + id + ".png"));
    }
    Splits s = Splits.of(cfg(root, "train"), 0);
    assertEquals(tr, ids(s.train()));
    assertEquals(te, ids(s.test()));
    ImageFolder.Split names = ImageFolder.split(cfg(root, "train"));
    assertEquals(te.size(), names.heldOut().size());
    assertEquals(tr.size(), names.train().size());
    assertEquals(300, ids(ImageFolder.load(cfg(root, "all"))).size());
    assertEquals(tr.size() > 100 ? 100 : tr.size(),
        ImageFolder.load(withLimit(cfg(root, "train"), 100)).size(),
        "data.limit counts training images");

    // adding files moves no existing file between the splits
    for (int i = 300; i < 400; i++) image(root.resolve("dogs/img" + i + ".png"), i);
    Set<Integer> te2 = ids(ImageFolder.load(cfg(root, "test")));
    for (int id : te) assertTrue(te2.contains(id));
    for (int id : te2) assertTrue(id >= 300 || te.contains(id), "an old training image was moved out: " + id);
  }

  @Test
  void aRunTrainedOnTheHeldOutImagesSaysSoInItsRecordAndItsScores() throws Exception {
    Path root = tmp.resolve("g");
    for (int i = 0; i < 40; i++) image(root.resolve("c/img" + i + ".png"), i);
    ImageFolder.Split names = ImageFolder.split(cfg(root, "train"));
    assertTrue(Splits.trainedOnHeldOut(cfg(root, "train")).isEmpty());
    assertTrue(Splits.trainedOnHeldOut(cfg(root, "all")).orElseThrow().contains("data.split = all"));
    assertTrue(Splits.trainedOnHeldOut(cfg(root, "test")).orElseThrow().contains("not held-out scores"));
    var om = new com.fasterxml.jackson.databind.ObjectMapper();
    for (String split : List.of("all", "test")) { // data.split train: the record it always had
      ExperimentConfig c = dev.ddpm4j.TinyConfigs.config(tmp.resolve("runs"), "data.kind=image_folder",
          "data.path=" + root, "data.image_size=8", "data.resize=pad", "data.split=" + split, "run.name=" + split,
          "train.steps=1", "train.checkpoint_every=1", "model.attention_resolutions=[]");
      new dev.ddpm4j.train.Trainer(c, false, new dev.ddpm4j.train.Progress(
          new java.io.PrintStream(new java.io.ByteArrayOutputStream()), false, 1), null).run();
      var j = om.readTree(c.runDir().resolve("split.json").toFile());
      assertEquals(split, j.get("data_split").asText());
      int read = split.equals("train") ? names.train().size() : split.equals("test") ? names.heldOut().size() : 40;
      assertEquals(read, j.get("training_files").asInt(), split);
      assertEquals(names.heldOut().size(), j.get("held_out_files").asInt(), split);
      assertEquals(!split.equals("train"), j.get("held_out_trained_on").asBoolean(), split);
      assertEquals(!split.equals("train"), j.has("warning"), split);
    }
    // files removed before a resume: refused naming the checkpoint and the folder, the run's records kept
    ExperimentConfig all = dev.ddpm4j.TinyConfigs.config(tmp.resolve("runs"), "data.kind=image_folder",
        "data.path=" + root, "data.image_size=8", "data.resize=pad", "data.split=all", "run.name=all",
        "train.steps=2", "train.checkpoint_every=1", "model.attention_resolutions=[]");
    String before = Files.readString(all.runDir().resolve("split.json"));
    for (int i = 5; i < 40; i++) Files.delete(root.resolve("c/img" + i + ".png"));
    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> new dev.ddpm4j.train.Trainer(all, true, new dev.ddpm4j.train.Progress(
            new java.io.PrintStream(new java.io.ByteArrayOutputStream()), false, 1), null).run());
    assertTrue(e.getMessage().contains("files were removed") && e.getMessage().contains("step-00000001")
        && e.getMessage().contains(root.toString()), e.getMessage());
    assertEquals(before, Files.readString(all.runDir().resolve("split.json")));
  }

  @Test
  void theRuleIsPinnedAndASmallFolderStillHoldsOneOut() throws Exception {
    // sha256("ddpm4j-holdout-v1:" + name), first 8 bytes as an unsigned number, mod 1000 < 100
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 40; i++) names.add("a/" + i + ".png");
    List<String> held = names.stream().filter(ImageFolder::heldOut).toList();
    assertEquals(held, names.stream().filter(n -> bucket(n) < 100).toList());
    Path root = tmp.resolve("two");
    image(root.resolve("x.png"), 1);
    image(root.resolve("y.png"), 2);
    assertEquals(1, ImageFolder.load(cfg(root, "test")).size());
    assertEquals(1, ImageFolder.load(cfg(root, "train")).size());
  }

  private static ExperimentConfig.Data withLimit(ExperimentConfig.Data d, int limit) {
    return Splits.withLimit(d, limit);
  }

  /** The rule written out independently of ImageFolder. */
  private static long bucket(String name) {
    try {
      byte[] h = java.security.MessageDigest.getInstance("SHA-256")
          .digest(("ddpm4j-holdout-v1:" + name).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return new java.math.BigInteger(1, java.util.Arrays.copyOf(h, 8)).mod(java.math.BigInteger.valueOf(1000))
          .longValue();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
