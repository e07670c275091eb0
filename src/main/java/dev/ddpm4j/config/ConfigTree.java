package dev.ddpm4j.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A raw YAML tree before binding: resolves {@code extends:}, applies {@code --set} overrides, and remembers for every
 * key path where it was written (file:line:column or the override), so binding errors can point at it.
 */
final class ConfigTree {
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  final ObjectNode root;
  /** key path -> "file:line:col" (or "--set") of the place that last set it. */
  final Map<String, String> locations;

  private ConfigTree(ObjectNode root, Map<String, String> locations) {
    this.root = root;
    this.locations = locations;
  }

  static ConfigTree empty() {
    return new ConfigTree(JsonNodeFactory.instance.objectNode(), new HashMap<>());
  }

  /** Reads a file and, recursively, the files it {@code extends}. */
  static ConfigTree load(Path file) {
    return load(file.toAbsolutePath().normalize(), new LinkedHashSet<>());
  }

  private static ConfigTree load(Path file, Set<Path> chain) {
    String src = file.toString();
    if (!chain.add(file)) {
      throw new ConfigException(src, "extends", null, "circular extends: " + chain);
    }
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(src, "", null, "config file not found");
    } catch (IOException e) {
      throw new ConfigException(src, "", null, "cannot read config file: " + e.getMessage());
    }
    ConfigTree own = parse(text, src);
    JsonNode ext = own.root.remove("extends");
    own.locations.remove("extends");
    if (ext == null) return own;
    if (!ext.isTextual()) {
      throw new ConfigException(src, "extends", ext.toString(), "must be a file path (string)");
    }
    Path basePath = file.getParent().resolve(ext.asText()).normalize();
    ConfigTree base = load(basePath, chain);
    base.mergeFrom(own);
    return base;
  }

  /** Parses YAML text; {@code source} names it in locations and errors. */
  static ConfigTree parse(String text, String source) {
    JsonNode node;
    try {
      node = YAML.readTree(text);
    } catch (JsonProcessingException e) {
      JsonLocation l = e.getLocation();
      String where = l == null ? source : source + ":" + l.getLineNr() + ":" + l.getColumnNr();
      throw new ConfigException(where, "", null, "not valid YAML: " + e.getOriginalMessage());
    }
    if (node == null || node.isMissingNode() || node.isNull()) {
      node = JsonNodeFactory.instance.objectNode();
    }
    if (!node.isObject()) {
      throw new ConfigException(source, "", null, "top level must be a mapping of sections, found " + node.getNodeType());
    }
    Map<String, String> locs = new HashMap<>();
    try (JsonParser p = YAML.getFactory().createParser(text)) {
      p.nextToken();
      recordLocations(p, "", source, locs);
    } catch (IOException e) {
      // locations are a convenience; the tree itself parsed fine
    }
    return new ConfigTree((ObjectNode) node, locs);
  }

  private static void recordLocations(JsonParser p, String path, String source, Map<String, String> out)
      throws IOException {
    JsonToken t = p.currentToken();
    if (t == JsonToken.START_OBJECT) {
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String child = path.isEmpty() ? p.currentName() : path + "." + p.currentName();
        JsonLocation l = p.currentTokenLocation();
        out.put(child, source + ":" + l.getLineNr() + ":" + l.getColumnNr());
        p.nextToken();
        recordLocations(p, child, source, out);
      }
    } else if (t == JsonToken.START_ARRAY) {
      p.skipChildren();
    }
  }

  /** Deep-merges {@code other} into this tree: mappings merge key by key, everything else is replaced. */
  void mergeFrom(ConfigTree other) {
    merge(root, other.root);
    locations.putAll(other.locations);
  }

  private static void merge(ObjectNode into, ObjectNode from) {
    Iterator<Map.Entry<String, JsonNode>> it = from.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode existing = into.get(e.getKey());
      if (existing instanceof ObjectNode eo && e.getValue() instanceof ObjectNode fo) {
        merge(eo, fo);
      } else {
        into.set(e.getKey(), e.getValue().deepCopy());
      }
    }
  }

  /** Applies one {@code key.path=value} override; the value is read as YAML ({@code [1,2,2]}, {@code 0.5}, {@code true}). */
  void override(String assignment) {
    int eq = assignment.indexOf('=');
    if (eq <= 0) {
      throw new ConfigException("--set", assignment, null, "expected key.path=value");
    }
    String path = assignment.substring(0, eq).trim();
    String raw = assignment.substring(eq + 1).trim();
    JsonNode value;
    try {
      value = raw.isEmpty() ? JsonNodeFactory.instance.textNode("") : YAML.readTree(raw);
    } catch (JsonProcessingException e) {
      throw new ConfigException("--set", path, raw, "value is not valid YAML: " + e.getOriginalMessage());
    }
    if (value == null || value.isMissingNode()) value = JsonNodeFactory.instance.nullNode();
    String[] parts = path.split("\\.");
    ObjectNode node = root;
    StringBuilder prefix = new StringBuilder();
    for (int i = 0; i < parts.length - 1; i++) {
      if (prefix.length() > 0) prefix.append('.');
      prefix.append(parts[i]);
      JsonNode child = node.get(parts[i]);
      if (child == null || child.isNull()) {
        child = node.putObject(parts[i]);
      } else if (!child.isObject()) {
        throw new ConfigException("--set", prefix.toString(), child.toString(), "is not a section, cannot set " + path);
      }
      node = (ObjectNode) child;
    }
    node.set(parts[parts.length - 1], value);
    locations.put(path, "--set " + path);
    List<String> stale = new ArrayList<>();
    for (String k : locations.keySet()) if (k.startsWith(path + ".")) stale.add(k);
    stale.forEach(k -> locations.put(k, "--set " + path));
  }
}
