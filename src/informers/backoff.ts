// Exponential backoff with full jitter, as client-go's reflector uses between failed
// list/watch attempts: 800 ms initial, factor 2, capped at 30 s, reset after ~2 minutes of
// healthy operation.

export interface BackoffOptions {
  initialMs?: number;
  factor?: number;
  capMs?: number;
  /** After this long without a failure, the next failure starts from initialMs again. */
  resetAfterMs?: number;
  /** Injectable for deterministic tests; returns [0, 1). */
  random?: () => number;
  now?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly factor: number;
  private readonly capMs: number;
  private readonly resetAfterMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private attempt = 0;
  private lastFailureAt: number | undefined;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 800;
    this.factor = opts.factor ?? 2;
    this.capMs = opts.capMs ?? 30_000;
    this.resetAfterMs = opts.resetAfterMs ?? 120_000;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
  }

  /** The ceiling of the next delay (before jitter), exposed for tests and status. */
  currentCeilingMs(): number {
    return Math.min(this.capMs, this.initialMs * this.factor ** this.attempt);
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  nextDelayMs(): number {
    const now = this.now();
    if (this.lastFailureAt !== undefined && now - this.lastFailureAt > this.resetAfterMs) this.attempt = 0;
    this.lastFailureAt = now;
    const ceiling = this.currentCeilingMs();
    this.attempt++;
    // Full jitter: uniformly in [ceiling/2, ceiling) keeps growth visible while spreading
    // reconnects of many clients after an apiserver restart.
    return Math.floor(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
    this.lastFailureAt = undefined;
  }
}

/** Resolves after ms, or early (without rejecting) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
