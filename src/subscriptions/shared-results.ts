// Executes each subscription event once per distinct (event, operation, variables, visibility)
// instead of once per subscriber, and serializes it once too.
//
// The hub hands every subscriber that sees a change the same way the same event object
// (hub.ts), so a dashboard's thousand identical subscriptions each ask for the execution of
// one event with one document, the same variables and the same permissions: the first one
// executes it, the others get the same result object. Only events the hub handed to more than
// one subscriber are cached (hub.ts isSharedEvent): no other subscriber could hit the rest.
// Over SSE a shared result's whole frame is encoded once, on first use, and kept with the
// result (sse-frames.ts): per subscriber only the write remains. graphql-ws stringifies each
// message itself: there the payload is still serialized per subscriber. No JSON string is kept.
//
// RBAC: the visibility is part of the key (Visibility.sharingKey). Two callers share a result
// only when their visibilities are provably identical: both see everything, or both are RBAC
// visibilities with equal allowed namespaces per kind. A visibility without a sharing key shares
// only with itself. Results with errors are never shared (messages may name the caller).
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  type GraphQLSchema,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { RequestContext, type Visibility } from "../resolvers/context.ts";
import { isSharedEvent } from "./hub.ts";
import { markShared, useSharedSseFrames } from "./sse-frames.ts";
import { isAsyncIterable } from "./types.ts";

export interface SharedResultsOptions {
  /** Results kept (across all events); the oldest events' results go first. */
  maxResults?: number;
}

/** Executions actually run vs. served from the cache (exposed for tests and benchmarks). */
export interface SharedResultsStats {
  executed: number;
  shared: number;
}

/** Totals over every cache in this process (for tests and diagnostics). */
export const sharedResultTotals: SharedResultsStats = { executed: 0, shared: 0 };

/** A bounded cache: event object -> (operation/visibility key -> result), oldest events evicted first. */
export class SharedResults {
  private readonly byEvent = new Map<object, Map<string, ExecutionResult>>();
  private count = 0;
  readonly maxResults: number;
  readonly stats: SharedResultsStats = { executed: 0, shared: 0 };

  constructor(opts: SharedResultsOptions = {}) {
    this.maxResults = opts.maxResults ?? 4096;
  }

  get(event: object, key: string): ExecutionResult | undefined {
    return this.byEvent.get(event)?.get(key);
  }

  set(event: object, key: string, result: ExecutionResult): void {
    let forEvent = this.byEvent.get(event);
    if (!forEvent) {
      forEvent = new Map();
      this.byEvent.set(event, forEvent);
    }
    forEvent.set(key, result);
    this.count++;
    // Evict whole events, oldest first (Map iteration order is insertion order); a subscriber
    // that lags further behind than the cache executes its events itself.
    while (this.count > this.maxResults) {
      const [oldest, results] = this.byEvent.entries().next().value!;
      this.byEvent.delete(oldest);
      this.count -= results.size;
    }
  }

  /** Results kept. */
  get size(): number {
    return this.count;
  }

  clear(): void {
    this.byEvent.clear();
    this.count = 0;
  }
}

// ---- keys ----

let nextId = 0;
const objectIds = new WeakMap<DocumentNode | GraphQLSchema, number>();
/**
 * Parsed documents are cached by yoga (same text, same object): identity names the operation,
 * with the schema's (it changes with the typed resources, --resources, and a result executed
 * against one schema is not another's).
 */
function idOf(o: DocumentNode | GraphQLSchema): number {
  let id = objectIds.get(o);
  if (id === undefined) {
    id = ++nextId;
    objectIds.set(o, id);
  }
  return id;
}

/** Keys of visibilities without sharingKey(): each shares with nobody but itself. */
const ownKeys = new WeakMap<Visibility, string>();

/**
 * The visibility's part of a result's key: its sharingKey() (equal only for visibilities that
 * allow exactly the same things, cached by the visibility), or a key of its own.
 */
export function visibilityKey(v: Visibility): string {
  if (v.sharingKey) return v.sharingKey();
  let key = ownKeys.get(v);
  if (key === undefined) {
    key = `own:${++nextId}`;
    ownKeys.set(v, key);
  }
  return key;
}

// ---- execution ----

/**
 * Each event is executed with a context of its own (fresh per-request memo: lookups must see
 * the cache as it is now, not as it was for an earlier event), sharing the subscription's
 * access holder so that a re-decided visibility applies at once.
 */
function eventContext(ctx: RequestContext): RequestContext {
  const fresh = new RequestContext(ctx.gateway, undefined, undefined, ctx.clusters);
  Object.defineProperty(fresh, "access", { value: ctx.access, enumerable: true });
  return { ...ctx, ...fresh } as RequestContext;
}

/**
 * graphql-js's subscribe (source stream, then one execution per event), with the executions
 * shared through `cache`.
 */
export async function sharedSubscribe(
  cache: SharedResults,
  args: ExecutionArgs,
): Promise<AsyncGenerator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!isAsyncIterable(source)) return source;
  return new SharedResultStream(cache, args, source[Symbol.asyncIterator]());
}

/**
 * The results of one subscription: each event of `source` executed, or taken from the cache.
 * The same contract as graphql-js's mapAsyncIterator: errors from the source reject next(), an
 * execution that throws closes the source, return() closes it. A class with plain promise
 * callbacks rather than closures and async functions: thousands of these wait idle, each
 * holding its fields and one bound callback, and a delivery takes one promise hop.
 */
class SharedResultStream implements AsyncGenerator<ExecutionResult> {
  private readonly cache: SharedResults;
  private readonly args: ExecutionArgs;
  private readonly source: AsyncIterator<unknown>;
  private readonly ctx: RequestContext;
  private readonly shareable: boolean;
  private readonly operationKey: string;
  /** The full key, rebuilt only when the visibility's key changes (not per delivery). */
  private resultKey = "";
  private lastVisibilityKey: string | undefined;

  constructor(cache: SharedResults, args: ExecutionArgs, source: AsyncIterator<unknown>) {
    this.cache = cache;
    this.args = args;
    this.source = source;
    this.ctx = args.contextValue as RequestContext;
    this.shareable = this.ctx?.access !== undefined && this.ctx.gateway !== undefined;
    this.operationKey = `${idOf(args.schema)}\u0000${idOf(args.document)}\u0000${args.operationName ?? ""}\u0000${JSON.stringify(args.variableValues ?? {})}`;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.source.next().then(this.step);
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    return { value: undefined, done: true };
  }

  async throw(err: unknown): Promise<IteratorResult<ExecutionResult>> {
    if (this.source.throw) return this.step(await this.source.throw(err));
    return this.closeAndThrow(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.source.return?.();
  }

  /** One event's result (an arrow: next() hands it to then() as it is, no closure per call). */
  private readonly step = (
    r: IteratorResult<unknown>,
  ): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
    if (r.done) return r;
    let value: ExecutionResult | Promise<ExecutionResult>;
    try {
      value = this.map(r.value);
    } catch (err) {
      return this.closeAndThrow(err);
    }
    if (typeof (value as { then?: unknown }).then === "function")
      return (value as Promise<ExecutionResult>).then(
        (v) => ({ value: v, done: false }),
        (err) => this.closeAndThrow(err),
      );
    return { value: value as ExecutionResult, done: false };
  };

  private async closeAndThrow(err: unknown): Promise<never> {
    await this.source.return?.()?.catch(() => {});
    throw err;
  }

  private map(event: unknown): ExecutionResult | Promise<ExecutionResult> {
    // Only hub events (objects) are shared; execution is synchronous for them (no async
    // resolvers below a subscription payload), anything else runs as graphql-js would.
    if (!this.shareable || typeof event !== "object" || event === null) return this.run(event);
    const { cache } = this;
    // An event only this subscriber was handed (SYNCED, RESYNC, a lone initial state, a history
    // replay) can never be hit by another one: caching its result would only push out results
    // that can be.
    if (!isSharedEvent(event)) {
      cache.stats.executed++;
      sharedResultTotals.executed++;
      return this.run(event);
    }
    const key = this.key();
    const hit = cache.get(event, key);
    if (hit) {
      cache.stats.shared++;
      sharedResultTotals.shared++;
      return hit;
    }
    const result = this.run(event);
    cache.stats.executed++;
    sharedResultTotals.executed++;
    if (
      typeof (result as { then?: unknown }).then !== "function" &&
      !(result as ExecutionResult).errors?.length
    ) {
      // What the transports need, and nothing more: graphql-ws serializes the result object
      // itself, per subscriber; SSE sends a frame built on first use (sse-frames.ts).
      markShared(result as ExecutionResult);
      cache.set(event, key, result as ExecutionResult);
    }
    return result;
  }

  private run(event: unknown): ExecutionResult | Promise<ExecutionResult> {
    return execute({
      ...this.args,
      rootValue: event,
      contextValue: this.shareable ? eventContext(this.ctx) : this.args.contextValue,
    }) as ExecutionResult | Promise<ExecutionResult>;
  }

  /** The cache key: operation and visibility (the same string while the visibility's key is). */
  private key(): string {
    const vk = visibilityKey(this.ctx.access.visibility);
    if (vk !== this.lastVisibilityKey) {
      this.lastVisibilityKey = vk;
      this.resultKey = `${this.operationKey}\u0000${vk}`;
    }
    return this.resultKey;
  }
}

/**
 * The plugin: subscriptions run through sharedSubscribe with one cache per server, and their SSE
 * responses send shared results' frames encoded once (sse-frames.ts).
 */
export function useSharedSubscriptionResults(cache = new SharedResults()): Plugin {
  const sse = useSharedSseFrames();
  return {
    onSubscribe(payload) {
      payload.setSubscribeFn(((args: ExecutionArgs) => sharedSubscribe(cache, args)) as never);
      return sse.onSubscribe?.(payload);
    },
    onResultProcess: sse.onResultProcess,
  };
}
