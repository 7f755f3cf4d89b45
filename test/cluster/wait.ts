// Polling with a deadline, failing with what was awaited and what was last seen.
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";

export interface WaitOptions<T> {
  /** What is awaited, for the failure message ("deployment web to have 3 ready replicas"). */
  message: string;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Delay between polls, default 100 ms. */
  intervalMs?: number;
  /** Done when this returns true for the observed value; default: the value is truthy. */
  until?: (value: T) => boolean;
}

/** Thrown by a poll function to stop waiting at once (e.g. the awaited process has exited). */
export class WaitAbort extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WaitAbort";
  }
}

/** The wait timed out; `lastValue` / `lastError` hold the last observation. */
export class WaitTimeout extends Error {
  readonly lastValue: unknown;
  readonly lastError: unknown;
  constructor(message: string, lastValue: unknown, lastError: unknown) {
    super(message);
    this.name = "WaitTimeout";
    this.lastValue = lastValue;
    this.lastError = lastError;
  }
}

/**
 * Calls `fn` until its value satisfies `until` (default: truthy) and returns that value. Errors
 * thrown by `fn` count as "not yet" (the last one is reported on timeout), except WaitAbort,
 * which is rethrown at once.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions<T>): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const until = opts.until ?? ((v: T) => Boolean(v));
  const start = performance.now();
  let observed = false;
  let lastValue: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      observed = true;
      lastValue = value;
      lastError = undefined;
      if (until(value)) return value;
    } catch (err) {
      if (err instanceof WaitAbort) throw err;
      lastError = err;
    }
    const elapsed = performance.now() - start;
    if (elapsed >= timeoutMs) {
      let msg = `timed out after ${timeoutMs} ms waiting for ${opts.message}`;
      msg += observed ? `; last observed value: ${describe(lastValue)}` : "; no value was observed";
      if (lastError !== undefined)
        msg += `; last error: ${(lastError as Error)?.message ?? String(lastError)}`;
      throw new WaitTimeout(msg, lastValue, lastError);
    }
    await sleep(Math.min(intervalMs, Math.max(0, timeoutMs - elapsed)));
  }
}

export function describe(value: unknown, max = 1500): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? inspect(value));
  } catch {
    s = inspect(value, { depth: 4 });
  }
  return s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s;
}
