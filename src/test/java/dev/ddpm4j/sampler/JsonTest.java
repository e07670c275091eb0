package dev.ddpm4j.sampler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  void parsesTheShapesTheMetadataUses() {
    Object o = Json.parse("""
        {"image_size": 32, "scale": [0.00784313725490196, -1e-3], "nested": {"ok": true, "none": null},
         "text": "a \\"quoted\\" \\u00e9\\n"}""");
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) o;
    assertEquals(32.0, m.get("image_size"));
    assertEquals(List.of(0.00784313725490196, -0.001), m.get("scale"));
    assertEquals(Boolean.TRUE, ((Map<?, ?>) m.get("nested")).get("ok"));
    assertNull(((Map<?, ?>) m.get("nested")).get("none"));
    assertEquals("a \"quoted\" \u00e9\n", m.get("text"));
    assertEquals(List.of(), Json.parse(" [ ] "));
  }

  @Test
  void malformedInputNamesTheOffset() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": 1,}"));
    assertTrue(e.getMessage().startsWith("invalid JSON at offset"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Json.parse("[1, 2"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("{} extra"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("\"open"));
  }
}
