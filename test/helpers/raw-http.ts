// HTTP/1.1 over a raw TCP socket, for the fuzz tests: malformed requests that fetch() cannot send
// (broken framing, bodies cut short, odd headers), and exactly what the server did in answer:
// its responses byte for byte, and whether it closed the connection cleanly (FIN), reset it, or
// left it open.
import assert from "node:assert/strict";
import net from "node:net";

export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Exchange {
  responses: RawResponse[];
  /**
   * The last response is a stream (text/event-stream or multipart/mixed, 200), still open when
   * the exchange stopped or ended by the server at our half-close: its body is what had arrived.
   */
  streaming?: boolean;
  /** How the connection ended: closed by the server (FIN), reset, or still open when we stopped. */
  ending: "closed" | "reset" | "open";
  /** Bytes after the last complete response (a response cut short). */
  leftover: Buffer;
}

/**
 * One response parsed from the start of `buf`, and how many bytes it took; undefined while
 * incomplete. `eof`: the connection has ended (a body without a length ends there).
 */
export function parseResponse(
  buf: Buffer,
  opts: { head?: boolean; eof?: boolean } = {},
): { response: RawResponse; used: number } | undefined {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  assert.ok(m, `not an HTTP status line: ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    assert.ok(colon > 0, `malformed response header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const start = end + 4;
  if (opts.head || status === 204 || status === 304 || (status >= 100 && status < 200))
    return { response: { status, headers, body: Buffer.alloc(0) }, used: start };
  if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
    const chunks: Buffer[] = [];
    let at = start;
    for (;;) {
      const lineEnd = buf.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(buf.subarray(at, lineEnd).toString("latin1").split(";")[0]!, 16);
      assert.ok(Number.isFinite(size), "malformed chunk size in the response");
      at = lineEnd + 2;
      if (size === 0) {
        // Trailers (none expected), then the final CRLF.
        const trailerEnd = buf.indexOf("\r\n", at);
        if (trailerEnd < 0) return undefined;
        return { response: { status, headers, body: Buffer.concat(chunks) }, used: trailerEnd + 2 };
      }
      if (buf.length < at + size + 2) return undefined;
      chunks.push(buf.subarray(at, at + size));
      at += size + 2;
    }
  }
  if (headers["content-length"] !== undefined) {
    const length = Number(headers["content-length"]);
    assert.ok(Number.isInteger(length) && length >= 0, `bad Content-Length ${headers["content-length"]}`);
    if (buf.length < start + length) return undefined;
    return { response: { status, headers, body: buf.subarray(start, start + length) }, used: start + length };
  }
  // No length: the body runs to the end of the connection.
  if (!opts.eof) return undefined;
  return { response: { status, headers, body: buf.subarray(start) }, used: buf.length };
}

/** A 200 stream whose headers have arrived: its body so far, chunk framing removed. */
function openStream(buf: Buffer): RawResponse | undefined {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const parsed = parseResponse(Buffer.concat([buf.subarray(0, end + 4)]), { head: true });
  if (parsed?.response.status !== 200) return undefined;
  if (!/^(text\/event-stream|multipart\/mixed)/i.test(parsed.response.headers["content-type"] ?? ""))
    return undefined;
  // Chunk framing (sizes on their own lines) dropped: the events' text is what is checked.
  const body = buf
    .subarray(end + 4)
    .toString("utf8")
    .replace(/(^|\r\n)[0-9a-fA-F]+\r\n/g, "$1");
  return { ...parsed.response, body: Buffer.from(body) };
}

export interface SendOptions {
  /** Half-close our side once everything is written (as a client that gave up sending does). */
  halfClose?: boolean;
  /** The request was HEAD: its response has no body. */
  head?: boolean;
  /** Stop after this many complete responses (default 1). */
  responses?: number;
  /** Give up waiting after this long (ms); the exchange then reports what it got. */
  timeoutMs?: number;
}

/** A connection that sends requests and reads responses one at a time. */
export class RawConnection {
  private buf = Buffer.alloc(0);
  private ended: "closed" | "reset" | undefined;
  private wake: (() => void) | undefined;
  private readonly socket: net.Socket;
  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.wake?.();
    });
    socket.on("end", () => {
      this.ended ??= "closed";
      this.wake?.();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.ended = err.code === "ECONNRESET" || err.code === "EPIPE" ? "reset" : "reset";
      this.wake?.();
    });
    socket.on("close", () => {
      this.ended ??= "closed";
      this.wake?.();
    });
  }

  static open(port: number, host = "127.0.0.1"): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, allowHalfOpen: true });
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Waits up to `ms` or until something arrives (data, end, error); leaves no timer behind. */
  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, Math.max(1, ms));
    });
    clearTimeout(timer);
    this.wake = undefined;
  }

  /** Writes `parts` (one write each, so that a server sees them arrive separately). */
  async write(parts: (string | Buffer)[], halfClose = false): Promise<void> {
    for (const part of parts) {
      if (this.ended || this.socket.destroyed) return;
      await new Promise<void>((resolve) => this.socket.write(part, () => resolve()));
    }
    if (halfClose && !this.ended) this.socket.end();
  }

  /**
   * Sends `parts` and waits for `responses` responses, the end of the connection, or the
   * timeout (a stream still open then is returned as it is, `streaming`).
   */
  async exchange(parts: (string | Buffer)[], opts: SendOptions = {}): Promise<Exchange> {
    const want = opts.responses ?? 1;
    const responses: RawResponse[] = [];
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    // Writes may fail midway (the server answered and closed early): that is what is checked.
    const writing = this.write(parts, opts.halfClose);
    for (;;) {
      let parsed = parseResponse(this.buf, { head: opts.head, eof: this.ended !== undefined });
      while (parsed && responses.length < want) {
        // An interim answer (100 Continue) comes before the request's own.
        const interim =
          parsed.response.status >= 100 && parsed.response.status < 200 && parsed.response.status !== 101;
        if (!interim) responses.push(parsed.response);
        this.buf = this.buf.subarray(parsed.used);
        parsed = parseResponse(this.buf, { head: opts.head, eof: this.ended !== undefined });
      }
      if (responses.length >= want || this.ended || Date.now() >= deadline) break;
      // A stream never completes: once its headers are in, what arrives within a moment is enough.
      const until = openStream(this.buf) ? Math.min(deadline, Date.now() + 150) : deadline;
      await this.sleep(until - Date.now());
      if (openStream(this.buf) && Date.now() >= until) break;
      this.wake = undefined;
    }
    await Promise.race([writing, new Promise((r) => setTimeout(r, 100).unref())]);
    // A stream is never complete: still open, or (after our half-close) ended by the server.
    if (responses.length < want) {
      const stream = openStream(this.buf);
      if (stream) {
        responses.push(stream);
        this.buf = Buffer.alloc(0);
        return { responses, streaming: true, ending: this.ended ?? "open", leftover: this.buf };
      }
    }
    return { responses, ending: this.ended ?? "open", leftover: this.buf };
  }

  /** Waits (up to `ms`) for the server to close the connection; how it ended. */
  async waitForEnd(ms: number): Promise<"closed" | "reset" | "open"> {
    const until = Date.now() + ms;
    while (!this.ended && Date.now() < until) {
      await this.sleep(until - Date.now());
    }
    this.wake = undefined;
    return this.ended ?? "open";
  }

  get isEnded(): boolean {
    return this.ended !== undefined;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A complete request: request line, headers (Host added when missing), body. */
export function rawRequest(
  method: string,
  target: string,
  headers: [string, string][] = [],
  body?: string | Buffer,
): Buffer {
  const all = [...headers];
  if (!all.some(([n]) => n.toLowerCase() === "host")) all.unshift(["Host", "127.0.0.1"]);
  if (body !== undefined && !all.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n)))
    all.push(["Content-Length", String(Buffer.byteLength(body))]);
  const head = `${method} ${target} HTTP/1.1\r\n${all.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
  return Buffer.concat([
    Buffer.from(head, "latin1"),
    body === undefined ? Buffer.alloc(0) : Buffer.from(body),
  ]);
}
