package dev.ddpm4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.DoublePredicate;
import java.util.function.IntPredicate;

/**
 * Reads typed values out of a {@link ConfigTree}, falling back to defaults, and collects every problem instead of
 * stopping at the first. The keys it is asked for are, by construction, the known keys: whatever else the tree holds
 * is reported as unknown with a did-you-mean.
 */
final class Binder {
  private final ConfigTree tree;
  private final String file;
  private final List<ConfigProblem> problems = new ArrayList<>();
  private final Set<String> known = new HashSet<>();
  private final Set<String> sections = new HashSet<>();

  Binder(ConfigTree tree, String file) {
    this.tree = tree;
    this.file = file;
    sections.add("");
  }

  List<ConfigProblem> problems() {
    return problems;
  }

  void problem(String path, Object value, String message) {
    problems.add(new ConfigProblem(where(path), path, value == null ? null : String.valueOf(value), message));
  }

  private String where(String path) {
    String loc = tree.locations.get(path);
    return loc != null ? loc : file;
  }

  private JsonNode get(String path) {
    known.add(path);
    JsonNode n = tree.root;
    for (String part : path.split("\\.")) {
      if (n == null || !n.isObject()) return null;
      n = n.get(part);
    }
    return (n == null || n.isNull()) ? null : n;
  }

  /** Declares a section (a mapping); reports it when something else stands there. */
  void section(String path) {
    sections.add(path);
    JsonNode n = get(path);
    if (n != null && !n.isObject()) problem(path, n, "must be a mapping (a section), found " + kind(n));
  }

  int integer(String path, int def, IntPredicate ok, String rule) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isIntegralNumber() || !n.canConvertToInt()) {
      problem(path, n, "must be an integer, found " + kind(n));
      return def;
    }
    int v = n.intValue();
    if (!ok.test(v)) problem(path, v, rule);
    return v;
  }

  long longValue(String path, long def) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isIntegralNumber() || !n.canConvertToLong()) {
      problem(path, n, "must be an integer, found " + kind(n));
      return def;
    }
    return n.longValue();
  }

  double number(String path, double def, DoublePredicate ok, String rule) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isNumber()) {
      problem(path, n, "must be a number, found " + kind(n));
      return def;
    }
    double v = n.doubleValue();
    if (!Double.isFinite(v) || !ok.test(v)) problem(path, n.asText(), rule);
    return v;
  }

  boolean bool(String path, boolean def) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isBoolean()) {
      problem(path, n, "must be true or false, found " + kind(n));
      return def;
    }
    return n.booleanValue();
  }

  String string(String path, String def) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isTextual()) {
      problem(path, n, "must be a string, found " + kind(n));
      return def;
    }
    return n.textValue();
  }

  /** A string that must be one of {@code allowed}. */
  String choice(String path, String def, List<String> allowed) {
    String v = string(path, def);
    if (!allowed.contains(v)) {
      String hint = suggest(v, allowed);
      problem(path, v, "must be one of " + allowed + (hint != null ? " (did you mean '" + hint + "'?)" : ""));
      return def;
    }
    return v;
  }

  List<Integer> intList(String path, List<Integer> def, IntPredicate ok, String rule) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isArray()) {
      problem(path, n, "must be a list of integers, found " + kind(n));
      return def;
    }
    List<Integer> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (!e.isIntegralNumber() || !e.canConvertToInt()) {
        problem(path, n, "must be a list of integers, found element " + e);
        return def;
      }
      if (!ok.test(e.intValue())) problem(path, n, rule);
      out.add(e.intValue());
    }
    return List.copyOf(out);
  }

  List<Double> doubleList(String path, List<Double> def, DoublePredicate ok, String rule) {
    JsonNode n = get(path);
    if (n == null) return def;
    if (!n.isArray()) {
      problem(path, n, "must be a list of numbers, found " + kind(n));
      return def;
    }
    List<Double> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (!e.isNumber()) {
        problem(path, n, "must be a list of numbers, found element " + e);
        return def;
      }
      if (!ok.test(e.doubleValue())) problem(path, n, rule);
      out.add(e.doubleValue());
    }
    return List.copyOf(out);
  }

  /**
   * A colour: one of {@code named} (black, white), or an RGB triple {@code [r, g, b]} of integers in [0, 255];
   * returned as the three values.
   */
  List<Integer> rgb(String path, List<Integer> def, Map<String, List<Integer>> named) {
    JsonNode n = get(path);
    if (n == null) return def;
    List<String> names = named.keySet().stream().sorted().toList();
    String rule = "must be " + String.join(", ", names) + " or an RGB triple [r, g, b] of integers in [0, 255]";
    if (n.isTextual()) {
      List<Integer> v = named.get(n.textValue());
      if (v != null) return v;
      String hint = suggest(n.textValue(), names);
      problem(path, n.textValue(), rule + (hint != null ? " (did you mean '" + hint + "'?)" : ""));
      return def;
    }
    if (!n.isArray() || n.size() != 3) {
      problem(path, n, rule);
      return def;
    }
    List<Integer> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (!e.isIntegralNumber() || !e.canConvertToInt() || e.intValue() < 0 || e.intValue() > 255) {
        problem(path, n, rule);
        return def;
      }
      out.add(e.intValue());
    }
    return List.copyOf(out);
  }

  /** Reports every key in the tree that no binding asked for, with the closest known key as a hint. */
  void reportUnknownKeys() {
    walk(tree.root, "");
  }

  private void walk(JsonNode node, String path) {
    Iterator<Map.Entry<String, JsonNode>> it = node.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String child = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
      if (!known.contains(child)) {
        List<String> siblings = new ArrayList<>();
        for (String k : known) {
          int dot = k.lastIndexOf('.');
          String parent = dot < 0 ? "" : k.substring(0, dot);
          if (parent.equals(path)) siblings.add(k.substring(dot + 1));
        }
        String hint = suggest(e.getKey(), siblings);
        problem(child, null, "unknown key" + (hint != null ? " (did you mean '" + hint + "'?)" : "")
            + (siblings.isEmpty() ? "" : "; known keys here: " + siblings.stream().sorted().toList()));
      } else if (sections.contains(child) && e.getValue().isObject()) {
        walk(e.getValue(), child);
      }
    }
  }

  private static String kind(JsonNode n) {
    if (n.isTextual()) return "string '" + n.textValue() + "'";
    if (n.isArray()) return "list " + n;
    if (n.isObject()) return "mapping";
    if (n.isBoolean()) return "boolean " + n;
    if (n.isNumber()) return "number " + n;
    return n.getNodeType().toString().toLowerCase();
  }

  /** The closest candidate by edit distance, if it is close enough to be a plausible typo. */
  static String suggest(String word, List<String> candidates) {
    String best = null;
    int bestD = Integer.MAX_VALUE;
    for (String c : candidates) {
      int d = editDistance(word.toLowerCase(), c.toLowerCase());
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    if (best != null && bestD <= Math.max(2, word.length() / 3)) return best;
    if (word.length() >= 3) {
      for (String c : candidates) {
        if (c.toLowerCase().startsWith(word.toLowerCase())) return c;
      }
    }
    return null;
  }

  static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
