// Big queries take turns, so they cannot starve small ones.
//
// Execution is synchronous (JIT-compiled resolvers over in-memory caches): a full-topology
// query holds the event loop for its whole execution and serialization, ~10 ms at 10k pods.
// Four of them arriving together would run back to back, and a one-pod query arriving just
// after waits for all four. Here a document whose last execution took longer than `bigMs` waits
// for a single lane first; the lane is handed to the next big query with setImmediate, which
// runs after the event loop's I/O phase, so requests that arrived meanwhile (small ones run at
// once, no lane) are read and answered between two big queries. A small query then waits for
// at most one big query, not all of them. Throughput is unchanged: the work is the same and was
// serial anyway.
//
// Which documents are big is learned from their last execution (parsed documents are cached
// and shared, so the DocumentNode identifies the query text): a document's first execution
// runs at once, and one that later gets small again leaves the lane on its next run.
import { type DocumentNode, GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import type { RequestContext } from "../resolvers/context.ts";
import { beforeDeadline } from "./deadline.ts";
import { operationOf } from "./operation.ts";

/** A FIFO lane: one holder at a time; the next is let in after the event loop's I/O phase. */
export class Lane {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  /** Resolves when the caller holds the lane; it must call release() exactly once. */
  acquire(): Promise<void> {
    if (!this.busy) {
      this.busy = true;
      // Even a free lane is entered after the I/O phase: requests read in the same batch as
      // this one (small ones among them) are answered first.
      return new Promise((resolve) => setImmediate(resolve));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    // setImmediate, not a microtask: pending I/O (small requests) is handled before the next.
    setImmediate(() => {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    });
  }

  /** Queries waiting for the lane (for tests and metrics). */
  get queued(): number {
    return this.waiting.length;
  }
}

/** Default --big-query-ms: a full topology of 10k pods takes ~10 ms, a scoped query < 1 ms. */
export const DEFAULT_BIG_QUERY_MS = 3;

export interface BigQueryLaneOptions {
  /** Execution time (ms) from which a document counts as big. */
  bigMs?: number;
}

/**
 * Install last among the plugins: it wraps the execute function the others settled on, and a
 * hook that rejects the request (authorization) then does so before the lane is taken.
 */
export function useBigQueryLane(opts: BigQueryLaneOptions = {}): Plugin {
  const bigMs = opts.bigMs ?? DEFAULT_BIG_QUERY_MS;
  const lane = new Lane();
  const lastMs = new WeakMap<DocumentNode, number>();
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const document = args.document;
      // A mutation's time is mostly spent waiting (the apiserver, the cache catching up), not
      // holding the event loop: in the lane it would hold up every big query for that long.
      if (operationOf(document, args.operationName)?.operation === "mutation") return;
      const last = lastMs.get(document);
      const big = last !== undefined && last >= bigMs;
      const record = (start: number) => lastMs.set(document, performance.now() - start);
      if (!big) {
        // Small (or new) documents run at once; only their time is taken.
        setExecuteFn((execArgs) => {
          const start = performance.now();
          const result = executeFn(execArgs);
          if (result instanceof Promise) return result.finally(() => record(start));
          record(start);
          return result;
        });
        return;
      }
      setExecuteFn(async (execArgs) => {
        const turn = lane.acquire();
        try {
          // Waiting for a turn counts against the request timeout like any other wait.
          const deadline = (execArgs.contextValue as Partial<RequestContext>).deadline;
          await beforeDeadline(turn, deadline, "waiting for its turn among big queries");
        } catch (err) {
          // Its turn still comes: hand it straight on.
          void turn.then(() => lane.release());
          if (err instanceof GraphQLError) return { errors: [err] };
          throw err;
        }
        const start = performance.now();
        try {
          const result = await executeFn(execArgs);
          record(start);
          // Serializing a big result takes about half as long as executing it: let requests
          // that arrived meanwhile in first, so that a small one never waits for both at once.
          await new Promise((resolve) => setImmediate(resolve));
          return result;
        } finally {
          // The response is serialized right after this, before the next holder is let in.
          lane.release();
        }
      });
    },
  };
}
