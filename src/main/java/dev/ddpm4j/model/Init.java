package dev.ddpm4j.model;

/**
 * How a weight starts. {@code fanAvgUniform(scale)} is the DDPM reference's {@code variance_scaling(scale, 'fan_avg',
 * 'uniform')}: uniform in [-l, l] with l = sqrt(3 * scale / ((fan_in + fan_out) / 2)).
 */
public record Init(Kind kind, double scale, long fanIn, long fanOut) {
  public enum Kind { ZEROS, ONES, FAN_AVG_UNIFORM }

  public static final Init ZEROS = new Init(Kind.ZEROS, 0, 0, 0);
  public static final Init ONES = new Init(Kind.ONES, 0, 0, 0);

  public static Init fanAvgUniform(double scale, long fanIn, long fanOut) {
    return new Init(Kind.FAN_AVG_UNIFORM, scale, fanIn, fanOut);
  }

  /** Half-width of the uniform distribution. */
  public double limit() {
    return Math.sqrt(3.0 * scale / ((fanIn + fanOut) / 2.0));
  }
}
