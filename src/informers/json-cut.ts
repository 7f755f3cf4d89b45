// Cuts one member out of a JSON object's text before it is parsed.
//
// metadata.managedFields is often 40% of a pod's JSON and made of dozens of tiny objects:
// parsing it only to throw it away doubled the cost of JSON.parse for every list item and watch
// event. Finding it in the bytes costs a scan of the text that precedes and spans it (the
// metadata comes first on the wire), and the rest is parsed as usual.
//
// The scanner walks the JSON structure from the start, so a key of the same name nested
// elsewhere (a CRD's spec.managedFields) or inside a string is never taken for it. It expects
// well-formed JSON; on anything unexpected it reports "not found" and the text is parsed whole,
// so the result is never worse than JSON.parse of the original.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** A byte range [start, end) to remove. */
export interface Cut {
  start: number;
  end: number;
}

function skipSpace(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else break;
  }
  return i;
}

/** b[i] is an opening quote: the index after the closing one, or -1. */
function skipString(b: Uint8Array, i: number, end: number): number {
  for (i++; i < end; i++) {
    const c = b[i]!;
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return -1;
}

/**
 * Byte classes for the container scan: most bytes are plain text (0), so the hot loop is one
 * table load and one compare per byte.
 */
const PLAIN = 0;
const STRING = 1;
const OPEN = 2;
const CLOSE = 3;
export const CLASS = new Uint8Array(256);
CLASS[QUOTE] = STRING;
CLASS[OPEN_BRACE] = OPEN;
CLASS[OPEN_BRACKET] = OPEN;
CLASS[CLOSE_BRACE] = CLOSE;
CLASS[CLOSE_BRACKET] = CLOSE;

/** Expected closing bytes of the containers skipValue is inside (reused: one scan at a time). */
const closers = new Uint8Array(256);

/** The index after the JSON value starting at b[i], or -1. */
function skipValue(b: Uint8Array, i: number, end: number): number {
  const first = b[i];
  if (first === QUOTE) return skipString(b, i, end);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    // The closer each open container expects: "[1}" must not pass for a value, or a cut would
    // turn text JSON.parse rejects into text it accepts.
    let depth = 0;
    for (; i < end; i++) {
      const c = b[i]!;
      const k = CLASS[c]!;
      if (k === PLAIN) continue;
      if (k === STRING) {
        for (i++; i < end; i++) {
          const s = b[i]!;
          if (s === BACKSLASH) i++;
          else if (s === QUOTE) break;
        }
      } else if (k === OPEN) {
        if (depth === closers.length) return -1; // deeper than any object we cut: parse it whole
        closers[depth++] = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      } else if (closers[--depth] !== c) return -1;
      else if (depth === 0) return i + 1;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || c <= 0x20) return i;
  }
  return i;
}

function keyEquals(b: Uint8Array, start: number, end: number, key: Uint8Array): boolean {
  // start/end enclose the quotes.
  if (end - start - 2 !== key.length) return false;
  for (let j = 0; j < key.length; j++) if (b[start + 1 + j] !== key[j]) return false;
  return true;
}

/**
 * Finds `path` (member names, outermost first) in the JSON object whose "{" is at b[at] and
 * returns the range that removes the last member together with one adjacent comma, leaving
 * valid JSON; undefined when a step is missing (or the text is not what was expected).
 */
export function findMemberCut(
  b: Uint8Array,
  path: readonly Uint8Array[],
  at = 0,
  end = b.length,
): Cut | undefined {
  let obj = skipSpace(b, at, end);
  for (let step = 0; step < path.length; step++) {
    if (b[obj] !== OPEN_BRACE) return undefined;
    const key = path[step]!;
    let i = skipSpace(b, obj + 1, end);
    if (b[i] === CLOSE_BRACE) return undefined;
    let prevComma = -1;
    for (;;) {
      if (b[i] !== QUOTE) return undefined;
      const keyStart = i;
      const keyEnd = skipString(b, i, end);
      if (keyEnd < 0) return undefined;
      i = skipSpace(b, keyEnd, end);
      if (b[i] !== COLON) return undefined;
      const valueStart = skipSpace(b, i + 1, end);
      const matches = keyEquals(b, keyStart, keyEnd, key);
      if (matches && step < path.length - 1) {
        // Descend without scanning past the value: only what precedes the target is read.
        obj = valueStart;
        break;
      }
      const valueEnd = skipValue(b, valueStart, end);
      if (valueEnd < 0) return undefined;
      if (matches) {
        if (prevComma >= 0) return { start: prevComma, end: valueEnd };
        const after = skipSpace(b, valueEnd, end);
        return b[after] === COMMA ? { start: keyStart, end: after + 1 } : { start: keyStart, end: valueEnd };
      }
      i = skipSpace(b, valueEnd, end);
      if (b[i] !== COMMA) return undefined;
      prevComma = i;
      i = skipSpace(b, i + 1, end);
    }
  }
  return undefined; // an empty path
}

/** Member paths, as bytes, for the managedFields of an object and of a watch event's object. */
export const MANAGED_FIELDS_PATH: readonly Uint8Array[] = ["metadata", "managedFields"].map((s) =>
  Buffer.from(s),
);
export const EVENT_MANAGED_FIELDS_PATH: readonly Uint8Array[] = ["object", "metadata", "managedFields"].map(
  (s) => Buffer.from(s),
);

/** Parses the JSON of one list item or watch line (e.g. dropping parts of the text first). */
export type JsonDecoder = (bytes: Buffer) => unknown;

/** The plain decoder: JSON.parse of the UTF-8 text. */
export const parseJson: JsonDecoder = (bytes) => JSON.parse(bytes.toString("utf8"));

/** JSON.parse of the text without the member at `path` (parsed whole when it is absent). */
export function parseWithout(text: Buffer, path: readonly Uint8Array[]): unknown {
  const cut = findMemberCut(text, path);
  if (!cut) return parseJson(text);
  // Cuts fall on ASCII delimiters, so both halves are whole UTF-8.
  return JSON.parse(text.toString("utf8", 0, cut.start) + text.toString("utf8", cut.end));
}
