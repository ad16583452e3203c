/**
 * JSON as Go's encoding/json writes a map[string]any: keys sorted byte-wise at every level and
 * `<`, `>`, `&`, U+2028, U+2029 escaped. The upstream spindle's /events frames look like this;
 * matching it byte for byte keeps tack a drop-in for any consumer that compares frames. For
 * lexicon objects the sorted order is also the order of Go's generated structs (alphabetical,
 * `$type` first), and an undefined field is left out as Go's `omitempty` leaves it out.
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** JsonValue whose object fields may be undefined (left out when written). */
export type JsonLike =
  | string
  | number
  | boolean
  | null
  | undefined
  | JsonLike[]
  | { [key: string]: JsonLike };

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;
const ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

export function canonicalJson(value: JsonLike): string {
  return JSON.stringify(sortKeys(value)).replace(HTML_UNSAFE, (char) => ESCAPES[char] ?? char);
}

function sortKeys(value: JsonLike): JsonValue | undefined {
  if (Array.isArray(value)) return value.map((item) => sortKeys(item) ?? null);
  if (value === null || typeof value !== "object") return value;
  // Byte-wise order as Go sorts map keys; plain sort() compares UTF-16 code units, which
  // agrees for the ASCII keys lexicons use. fromEntries (not assignment) keeps a "__proto__"
  // key as data instead of changing the object's prototype.
  const entries: [string, JsonValue][] = [];
  for (const key of Object.keys(value).sort()) {
    const item = sortKeys(value[key]);
    if (item !== undefined) entries.push([key, item]);
  }
  return Object.fromEntries(entries);
}

/** JSON.stringify in the value's own key order, with Go's HTML escaping (for LogLine frames). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(HTML_UNSAFE, (char) => ESCAPES[char] ?? char);
}
