package dev.ddpm4j.data;

/**
 * Geometry on 8-bit interleaved images (row-major, channels last): padding, bilinear resizing, center cropping and
 * channel conversion. Plain array code, used once per image at load time.
 */
public final class Pixels {
  private Pixels() {}

  /** Centers a w x h image on a black size x size canvas; the image must fit. */
  public static byte[] pad(byte[] src, int w, int h, int c, int size) {
    byte[] out = new byte[size * size * c];
    int ox = (size - w) / 2;
    int oy = (size - h) / 2;
    for (int y = 0; y < h; y++) {
      System.arraycopy(src, y * w * c, out, ((y + oy) * size + ox) * c, w * c);
    }
    return out;
  }

  /**
   * Bilinear resize with pixel-center alignment; when shrinking by 2x or more, first averages integer blocks so no
   * source pixel is skipped.
   */
  public static byte[] resize(byte[] src, int w, int h, int c, int nw, int nh) {
    if (w == nw && h == nh) return src.clone();
    int fx = w / nw;
    int fy = h / nh;
    if (fx >= 2 || fy >= 2) {
      fx = Math.max(fx, 1);
      fy = Math.max(fy, 1);
      int bw = w / fx;
      int bh = h / fy;
      byte[] box = new byte[bw * bh * c];
      for (int y = 0; y < bh; y++) {
        for (int x = 0; x < bw; x++) {
          for (int k = 0; k < c; k++) {
            int sum = 0;
            for (int dy = 0; dy < fy; dy++) {
              for (int dx = 0; dx < fx; dx++) sum += src[((y * fy + dy) * w + x * fx + dx) * c + k] & 0xff;
            }
            box[(y * bw + x) * c + k] = (byte) Math.round(sum / (float) (fx * fy));
          }
        }
      }
      return resize(box, bw, bh, c, nw, nh);
    }
    byte[] out = new byte[nw * nh * c];
    double sx = (double) w / nw;
    double sy = (double) h / nh;
    for (int y = 0; y < nh; y++) {
      double fyPos = Math.max(0, Math.min(h - 1, (y + 0.5) * sy - 0.5));
      int y0 = (int) Math.floor(fyPos);
      int y1 = Math.min(h - 1, y0 + 1);
      double ty = fyPos - y0;
      for (int x = 0; x < nw; x++) {
        double fxPos = Math.max(0, Math.min(w - 1, (x + 0.5) * sx - 0.5));
        int x0 = (int) Math.floor(fxPos);
        int x1 = Math.min(w - 1, x0 + 1);
        double tx = fxPos - x0;
        for (int k = 0; k < c; k++) {
          double a = src[(y0 * w + x0) * c + k] & 0xff;
          double b = src[(y0 * w + x1) * c + k] & 0xff;
          double d = src[(y1 * w + x0) * c + k] & 0xff;
          double e = src[(y1 * w + x1) * c + k] & 0xff;
          double v = (a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty;
          out[(y * nw + x) * c + k] = (byte) Math.round(v);
        }
      }
    }
    return out;
  }

  /** Crops the centered cw x ch window. */
  public static byte[] centerCrop(byte[] src, int w, int h, int c, int cw, int ch) {
    byte[] out = new byte[cw * ch * c];
    int ox = (w - cw) / 2;
    int oy = (h - ch) / 2;
    for (int y = 0; y < ch; y++) {
      System.arraycopy(src, ((y + oy) * w + ox) * c, out, y * cw * c, cw * c);
    }
    return out;
  }

  /** RGB (3 channels) to luma with the ITU-R BT.601 weights 0.299, 0.587, 0.114, rounded. */
  public static byte[] rgbToGray(byte[] rgb) {
    byte[] out = new byte[rgb.length / 3];
    for (int i = 0; i < out.length; i++) {
      int r = rgb[3 * i] & 0xff;
      int g = rgb[3 * i + 1] & 0xff;
      int b = rgb[3 * i + 2] & 0xff;
      out[i] = (byte) Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
    return out;
  }

  /** Gray to RGB by repeating the value. */
  public static byte[] grayToRgb(byte[] gray) {
    byte[] out = new byte[gray.length * 3];
    for (int i = 0; i < gray.length; i++) {
      out[3 * i] = gray[i];
      out[3 * i + 1] = gray[i];
      out[3 * i + 2] = gray[i];
    }
    return out;
  }
}
