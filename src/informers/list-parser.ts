// Streams a Kubernetes list response item by item.
//
// A list of 50k pods is ~150 MB of JSON. Parsing it with one JSON.parse would hold the whole
// body and the whole array at once. Instead this splitter scans the bytes as they arrive,
// finds the boundaries of each element of the top-level "items" array and parses one item at
// a time; everything else at the top level ("metadata", "kind"...) is parsed on its own.
// Only the bytes of the item being assembled are kept.

import { CLASS, type JsonDecoder, parseJson } from "./json-cut.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const SPACE = 0x20;
// Byte classes of json-cut's CLASS table, as local constants: imported bindings cost a load
// and a check on every use, which shows in a loop over every byte of a list.
const PLAIN = 0;
const STRING = 1;
const OPEN = 2;

export interface ListHandler {
  /** Called for every element of "items", in order. */
  item(value: unknown): void;
  /** Called for every other top-level field once it is complete (e.g. "metadata"). */
  field(name: string, value: unknown): void;
}

export class ListStreamParser {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Bytes of the value being captured (an item, or a top-level field value). */
  private pieces: Buffer[] = [];
  private captureStart = -1;
  private capturing: "item" | "field" | null = null;
  private captureDepth = 0;
  /** The captured value is a top-level string or scalar rather than an object or array. */
  private scalar = false;
  /** The last string seen at depth 1: the top-level key being read. */
  private keyStart = -1;
  private keyPieces: Buffer[] = [];
  private lastKey = "";
  private awaitingValue = false;
  private inItems = false;
  private readonly handler: ListHandler;
  private readonly decodeItem: JsonDecoder;

  constructor(handler: ListHandler, decodeItem: JsonDecoder = parseJson) {
    this.handler = handler;
    this.decodeItem = decodeItem;
  }

  write(chunk: Buffer): void {
    if (this.capturing) this.captureStart = 0;
    if (this.keyStart >= 0) this.keyStart = 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      if (this.capturing !== null && !this.scalar) {
        // Inside an item (or a top-level object value) only its end matters.
        i = this.scanCapture(chunk, i);
        continue;
      }
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.keyStart >= 0) this.endKey(chunk, i);
          else if (this.scalar) this.endCapture(chunk, i + 1);
        }
        continue;
      }
      if (this.scalar) {
        // A number, true, false or null at the top level ends at the first delimiter.
        if (c === COMMA || c === CLOSE_BRACE || c <= SPACE) this.endCapture(chunk, i);
        else continue;
      }
      // From here nothing is being captured: objects and arrays are scanCapture's, and a
      // scalar capture either continued above or has just ended.
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1) {
          if (this.awaitingValue) this.startCapture("field", i, true);
          else this.keyStart = i + 1;
        }
      } else if (c === COLON) {
        if (this.depth === 1) this.awaitingValue = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (this.depth === 1 && this.awaitingValue) {
          if (c === OPEN_BRACKET && this.lastKey === "items") {
            this.inItems = true;
            this.awaitingValue = false;
          } else this.startCapture("field", i, false);
        } else if (this.depth === 2 && this.inItems) {
          this.startCapture("item", i, false);
        }
        this.depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        this.depth--;
        if (this.inItems && this.depth === 1) this.inItems = false;
      } else if (c > SPACE && c !== COMMA && this.depth === 1 && this.awaitingValue) {
        this.startCapture("field", i, true);
      }
    }
    if (this.capturing) this.pieces.push(chunk.subarray(this.captureStart));
    if (this.keyStart >= 0) this.keyPieces.push(chunk.subarray(this.keyStart));
  }

  /**
   * The hot loop: scans a captured object or array from `from` with the state in locals, until
   * it closes (then ends the capture) or the chunk ends. Returns the index of the last byte
   * consumed. Most bytes are plain text or inside strings, which take one compare or two.
   */
  private scanCapture(chunk: Buffer, from: number): number {
    const n = chunk.length;
    const stop = this.captureDepth;
    const classes = CLASS;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    for (let i = from; i < n; i++) {
      if (inString) {
        if (escaped) {
          escaped = false;
          continue;
        }
        for (; i < n; i++) {
          const c = chunk[i]!;
          if (c === BACKSLASH) {
            // The escaped byte may be in the next chunk.
            if (i + 1 < n) i++;
            else escaped = true;
          } else if (c === QUOTE) {
            inString = false;
            break;
          }
        }
        continue;
      }
      const k = classes[chunk[i]!]!;
      if (k === PLAIN) continue;
      if (k === STRING) inString = true;
      else if (k === OPEN) depth++;
      else if (--depth === stop) {
        this.depth = depth;
        this.inString = false;
        this.escaped = false;
        this.endCapture(chunk, i + 1);
        return i;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return n - 1;
  }

  /** Call after the last chunk; throws when the body was not a complete JSON object. */
  end(): void {
    if (this.depth !== 0 || this.inString || this.capturing) {
      throw new Error("the list response ended before the JSON document was complete");
    }
  }

  private endKey(chunk: Buffer, end: number): void {
    this.keyPieces.push(chunk.subarray(this.keyStart, end));
    this.lastKey = Buffer.concat(this.keyPieces).toString("utf8");
    this.keyPieces = [];
    this.keyStart = -1;
  }

  private startCapture(kind: "item" | "field", at: number, scalar: boolean): void {
    this.capturing = kind;
    this.scalar = scalar;
    this.captureStart = at;
    this.captureDepth = this.depth;
    this.pieces = [];
  }

  private endCapture(chunk: Buffer, end: number): void {
    this.pieces.push(chunk.subarray(this.captureStart, end));
    const bytes = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
    const kind = this.capturing;
    this.scalar = false;
    this.pieces = [];
    this.capturing = null;
    this.captureStart = -1;
    if (kind === "item") this.handler.item(this.decodeItem(bytes));
    else {
      this.awaitingValue = false;
      this.handler.field(this.lastKey, parseJson(bytes));
    }
  }
}
