package dev.ddpm4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Reader for the IDX format of (Fashion-)MNIST, raw or gzip-compressed; only the unsigned-byte type (0x08). */
public final class Idx {
  private Idx() {}

  /** An IDX array: its dimensions and its unsigned bytes in row-major order. */
  public record Array(int[] dims, byte[] data) {
    public int count() {
      return dims[0];
    }
  }

  public static Array read(Path file) {
    try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
      raw.mark(2);
      int b0 = raw.read();
      int b1 = raw.read();
      raw.reset();
      InputStream in = (b0 == 0x1f && b1 == 0x8b) ? new GZIPInputStream(raw, 1 << 16) : raw;
      DataInputStream data = new DataInputStream(in);
      int magic = data.readInt();
      if ((magic >>> 16) != 0) throw new DataException(file, String.format("not an IDX file (magic 0x%08x)", magic));
      int type = (magic >>> 8) & 0xff;
      int rank = magic & 0xff;
      if (type != 0x08) throw new DataException(file, String.format("unsupported IDX element type 0x%02x (only unsigned byte 0x08)", type));
      if (rank < 1 || rank > 4) throw new DataException(file, "unsupported IDX rank " + rank);
      int[] dims = new int[rank];
      long total = 1;
      for (int i = 0; i < rank; i++) {
        dims[i] = data.readInt();
        if (dims[i] < 0) throw new DataException(file, "negative IDX dimension " + dims[i]);
        total *= dims[i];
      }
      if (total > Integer.MAX_VALUE - 16) throw new DataException(file, "IDX array too large: " + total + " bytes");
      byte[] bytes = new byte[(int) total];
      try {
        data.readFully(bytes);
      } catch (EOFException e) {
        throw new DataException(file, "truncated: header promises " + total + " bytes of data");
      }
      return new Array(dims, bytes);
    } catch (NoSuchFileException e) {
      throw new DataException(file, "file not found");
    } catch (EOFException e) {
      throw new DataException(file, "truncated IDX header");
    } catch (java.util.zip.ZipException e) {
      throw new DataException(file, "corrupt gzip data: " + e.getMessage());
    } catch (IOException e) {
      throw new DataException(file, "cannot read: " + e.getMessage(), e);
    }
  }
}
