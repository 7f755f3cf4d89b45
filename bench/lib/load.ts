// The load generator: a process of its own (forked from this file), so that it never shares an
// event loop with the server it measures. `connections` keep-alive connections each send the
// next request as soon as the last one is answered; every request is timed with a
// high-resolution clock, and every response is checked: status 200 and, when `expected` is given,
// the same answer as the one checked before the load (byte-equal to an answer already verified,
// or verified now by normalising it). A fast wrong answer is counted as wrong, never as a result.
import { fork } from "node:child_process";
import http from "node:http";
import { checkBody } from "./check.ts";

export interface LoadSpec {
  url: string;
  /**
   * Several servers (replicas) instead of `url`: connection i sends to urls[i % urls.length],
   * as a round-robin balancer spreading connections would.
   */
  urls?: string[];
  /** The JSON request body. */
  body: string;
  connections: number;
  /** Run at least this long... */
  seconds: number;
  /** ...and until at least this many requests were answered... */
  minRequests?: number;
  /** ...but never longer than this. */
  maxSeconds?: number;
  /** The canonical `data` every response must carry (see check.ts). */
  expected?: string;
}

export interface LoadResult {
  requests: number;
  /** Failed requests (network errors, timeouts) and responses other than HTTP 200. */
  errors: number;
  /** HTTP 200 responses whose answer was not the expected one (GraphQL errors included). */
  wrong: number;
  /** The first failure or wrong answer, for the report. */
  firstProblem?: string;
  seconds: number;
  /** Latencies in ms, sorted. */
  latencies: number[];
  /** Response bytes received. */
  bytes: number;
}

/** Runs one load in this process (the worker's side). */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const urls = (spec.urls ?? [spec.url]).map((u) => new URL(u));
  const body = Buffer.from(spec.body);
  const latencies: number[] = [];
  /** Bodies already verified: byte equality with one of them is proof enough. */
  const verified: Buffer[] = [];
  let errors = 0;
  let wrong = 0;
  let bytes = 0;
  let firstProblem: string | undefined;
  const start = performance.now();
  const minEnd = start + spec.seconds * 1000;
  const maxEnd = start + (spec.maxSeconds ?? spec.seconds) * 1000;
  const minRequests = spec.minRequests ?? 0;
  const problem = (what: string) => {
    firstProblem ??= what;
  };
  const check = (status: number, buf: Buffer) => {
    if (status !== 200) {
      errors++;
      problem(`HTTP ${status}: ${buf.toString("utf8", 0, 200)}`);
      return;
    }
    if (spec.expected === undefined) return;
    for (const v of verified) if (v.equals(buf)) return;
    const verdict = checkBody(status, buf.toString("utf8"), spec.expected);
    if (verdict.ok) {
      if (verified.length < 4) verified.push(buf);
    } else {
      wrong++;
      problem(verdict.reason!);
    }
  };
  const one = (url: URL) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": body.length },
          timeout: 120_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (d: Buffer) => chunks.push(d));
          res.on("end", () => {
            latencies.push(performance.now() - t0);
            const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            bytes += buf.length;
            check(res.statusCode ?? 0, buf);
            resolve();
          });
          res.on("error", (err) => {
            errors++;
            problem(`response: ${err.message}`);
            resolve();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out after 120 s")));
      req.on("error", (err) => {
        errors++;
        problem(`request: ${err.message}`);
        resolve();
      });
      req.end(body);
    });
  const more = () => {
    const now = performance.now();
    if (now >= maxEnd) return false;
    return now < minEnd || latencies.length + errors < minRequests;
  };
  const loop = async (url: URL) => {
    while (more()) await one(url);
  };
  await Promise.all(Array.from({ length: spec.connections }, (_, i) => loop(urls[i % urls.length]!)));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    wrong,
    ...(firstProblem === undefined ? {} : { firstProblem }),
    seconds: (performance.now() - start) / 1000,
    latencies,
    bytes,
  };
}

/** One load from a separate process. */
export function load(spec: LoadSpec): Promise<LoadResult> {
  const child = fork(new URL(import.meta.url), ["--load-worker"], { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("message", (r: LoadResult) => resolve(r));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code) reject(new Error(`load generator exited with ${code}`));
    });
    child.send(spec);
  });
}

/** The p-th percentile of sorted values (nearest rank). */
export function pct(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

if (process.argv.includes("--load-worker")) {
  process.once("message", async (spec: LoadSpec) => {
    const result = await runLoad(spec);
    // Exit only once the result is handed over: exiting right after send() can lose it.
    process.send!(result, () => process.exit(0));
  });
}
