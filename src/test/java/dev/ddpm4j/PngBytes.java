package dev.ddpm4j;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * A PNG codec for tests, written from the PNG specification with nothing but zlib: it reads and writes the stored
 * 8-bit samples and does no colour conversion of any kind, so it is an independent reference for what ddpm4j's files
 * hold. Supports 8-bit greyscale (colour type 0), RGB (2) and RGBA (6), non-interlaced, every filter type.
 */
public final class PngBytes {
  /** Decoded samples: height*width*channels bytes, row-major, channels last. */
  public record Image(int width, int height, int channels, byte[] samples) {}

  private PngBytes() {}

  public static Image read(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
    long sig = b.getLong();
    if (sig != 0x89504E470D0A1A0AL) throw new IOException(file + ": not a PNG");
    int width = 0;
    int height = 0;
    int channels = 0;
    ByteArrayOutputStream idat = new ByteArrayOutputStream();
    while (b.remaining() >= 12) {
      int len = b.getInt();
      byte[] type = new byte[4];
      b.get(type);
      byte[] data = new byte[len];
      b.get(data);
      b.getInt(); // CRC
      String t = new String(type, java.nio.charset.StandardCharsets.US_ASCII);
      if (t.equals("IHDR")) {
        ByteBuffer h = ByteBuffer.wrap(data);
        width = h.getInt();
        height = h.getInt();
        int depth = h.get();
        int colour = h.get();
        h.get();
        h.get();
        int interlace = h.get();
        if (depth != 8 || interlace != 0) throw new IOException("test codec reads 8-bit non-interlaced PNG only");
        channels = switch (colour) {
          case 0 -> 1;
          case 2 -> 3;
          case 6 -> 4;
          default -> throw new IOException("test codec does not read colour type " + colour);
        };
      } else if (t.equals("IDAT")) {
        idat.write(data);
      } else if (t.equals("IEND")) {
        break;
      }
    }
    int stride = width * channels;
    byte[] raw = new byte[height * (stride + 1)];
    Inflater inf = new Inflater();
    inf.setInput(idat.toByteArray());
    try {
      int n = 0;
      while (n < raw.length && !inf.finished()) n += inf.inflate(raw, n, raw.length - n);
      if (n != raw.length) throw new IOException("short image data");
    } catch (DataFormatException e) {
      throw new IOException(e);
    } finally {
      inf.end();
    }
    byte[] out = new byte[height * stride];
    for (int y = 0; y < height; y++) {
      int filter = raw[y * (stride + 1)];
      for (int x = 0; x < stride; x++) {
        int v = raw[y * (stride + 1) + 1 + x] & 0xff;
        int a = x >= channels ? out[y * stride + x - channels] & 0xff : 0;
        int up = y > 0 ? out[(y - 1) * stride + x] & 0xff : 0;
        int c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] & 0xff : 0;
        int pred = switch (filter) {
          case 0 -> 0;
          case 1 -> a;
          case 2 -> up;
          case 3 -> (a + up) / 2;
          case 4 -> paeth(a, up, c);
          default -> throw new IOException("bad filter " + filter);
        };
        out[y * stride + x] = (byte) (v + pred);
      }
    }
    return new Image(width, height, channels, out);
  }

  private static int paeth(int a, int b, int c) {
    int p = a + b - c;
    int pa = Math.abs(p - a);
    int pb = Math.abs(p - b);
    int pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }

  /** Writes 8-bit greyscale (channels 1) or RGB (3) samples as they are, filter type 0, no colour chunks. */
  public static void write(Path file, int width, int height, int channels, byte[] samples) throws IOException {
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    for (int y = 0; y < height; y++) {
      raw.write(0);
      raw.write(samples, y * width * channels, width * channels);
    }
    Deflater d = new Deflater();
    d.setInput(raw.toByteArray());
    d.finish();
    ByteArrayOutputStream z = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    while (!d.finished()) z.write(buf, 0, d.deflate(buf));
    d.end();
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(png);
    o.writeLong(0x89504E470D0A1A0AL);
    ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8)
        .put((byte) (channels == 1 ? 0 : 2)).put((byte) 0).put((byte) 0).put((byte) 0);
    chunk(o, "IHDR", ihdr.array());
    chunk(o, "IDAT", z.toByteArray());
    chunk(o, "IEND", new byte[0]);
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, png.toByteArray());
  }

  private static void chunk(DataOutputStream o, String type, byte[] data) throws IOException {
    byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    o.writeInt(data.length);
    o.write(t);
    o.write(data);
    o.writeInt((int) crc.getValue());
  }
}
