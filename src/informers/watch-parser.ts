// Splits a watch response (one JSON event per line) into parsed events.
import { type JsonDecoder, parseJson } from "./json-cut.ts";
import type { WatchEvent } from "./types.ts";

const NEWLINE = 0x0a;

export class WatchLineParser {
  private pending: Buffer[] = [];
  private readonly onEvent: (event: WatchEvent) => void;
  private readonly decode: JsonDecoder;

  constructor(onEvent: (event: WatchEvent) => void, decode: JsonDecoder = parseJson) {
    this.onEvent = onEvent;
    this.decode = decode;
  }

  write(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      let line: Buffer;
      if (this.pending.length) {
        this.pending.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.pending);
        this.pending = [];
      } else line = chunk.subarray(start, nl);
      this.emit(line);
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  /** A stream may end without a trailing newline. */
  end(): void {
    if (this.pending.length) {
      const line = Buffer.concat(this.pending);
      this.pending = [];
      this.emit(line);
    }
  }

  private emit(line: Buffer): void {
    if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
    this.onEvent(this.decode(line) as WatchEvent);
  }
}
