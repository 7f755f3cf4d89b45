// kgql's logger: pino, JSON lines on stderr, written asynchronously through a bounded buffer.
//
// stderr is often a pipe to a supervisor. When nobody reads it, the pipe fills, and then:
// - a destination without a bound buffers every line, and the process grows until it dies;
// - a destination that waits for the pipe stops the process, and pino's own exit hook does
//   that (it flushes synchronously, retrying forever while the pipe is full), so even a
//   graceful shutdown never ends.
// Here lines that find the buffer full are dropped (counted, and the count logged once the pipe
// drains), the graceful shutdown waits a bounded time for the buffer, and any other exit writes
// what it can in a bounded time too.
import pino, { type Logger } from "pino";

/** Bytes of log lines held while stderr is not read; lines beyond are dropped. */
export const LOG_BUFFER_BYTES = 1 << 20;

/** How long close() waits for the buffer by default. */
const CLOSE_FLUSH_MS = 1000;

/** How long an exit without close() (a crash, process.exit) spends writing the buffer. */
const EXIT_FLUSH_MS = 200;

export interface KgqlLogger {
  readonly log: Logger;
  /**
   * Waits until the buffered lines are written, at most `withinMs` (default 1 s); drops what
   * is left and silences the logger (later calls write nothing). For a graceful shutdown.
   */
  close(withinMs?: number): Promise<void>;
}

export function createLogger(level: string, fd = 2): KgqlLogger {
  let giveUpAt = Number.POSITIVE_INFINITY;
  let closed = false;
  // Before the destination: pino registers its exit flush when creating it, and exit listeners
  // run in order, so this one bounds the flush first and leaves pino's nothing to do.
  process.once("exit", () => {
    if (closed) return;
    giveUpAt = Date.now() + EXIT_FLUSH_MS;
    try {
      dest.flushSync();
    } catch {
      // The pipe stayed full until giveUpAt: the rest is lost.
    }
    stop();
  });
  const dest = pino.destination({
    dest: fd,
    sync: false,
    maxLength: LOG_BUFFER_BYTES,
    // A full pipe: the asynchronous writes retry (every 100 ms) as long as the process runs; a
    // synchronous flush at exit gives up at giveUpAt.
    retryEAGAIN: () => Date.now() < giveUpAt,
  });
  const log = pino({ level }, dest);
  reportDrops(log, dest);

  function stop(): void {
    closed = true;
    log.level = "silent";
    dest.destroy(); // discards the buffer, so pino's exit flush has nothing to write
  }

  return {
    log,
    close: async (withinMs = CLOSE_FLUSH_MS) => {
      if (closed) return;
      await drained(dest, withinMs);
      stop();
    },
  };
}

type Destination = ReturnType<typeof pino.destination>;

/** Counts the lines dropped while the buffer was full, and logs the count once it has emptied. */
function reportDrops(log: Logger, dest: Destination): void {
  let dropped = 0;
  dest.on("drop", () => dropped++);
  // The destination emits "drain" each time its buffer empties.
  dest.on("drain", () => {
    if (dropped === 0) return;
    const count = dropped;
    dropped = 0; // before logging: the warning itself may be dropped, and counted
    log.warn({ dropped: count }, "log lines dropped: stderr was not read fast enough");
  });
}

/** Resolves once everything buffered so far is written, or after `withinMs`. */
function drained(dest: Destination, withinMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      dest.off("drain", done);
      resolve();
    };
    const timer = setTimeout(done, withinMs);
    dest.once("drain", done);
    // An empty write makes the destination emit "drain" once everything before it is written,
    // even when nothing is pending (the empty write itself completes).
    dest.write("");
  });
}
