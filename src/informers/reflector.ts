// The reflector keeps a store equal to what the apiserver holds for one resource: it lists
// (paged, or as a watch-list stream), then watches from the list's resourceVersion, and
// recovers from every failure without ever giving up. It reports its state instead.
//
// Behaviour follows client-go's tools/cache reflector; see ../shared/informer-semantics.md.

import type { Readable } from "node:stream";
import {
  isExpired,
  isTooLargeResourceVersion,
  isTooManyRequests,
  isWatchListRejected,
} from "./api-errors.ts";
import { Backoff, type BackoffOptions, sleep } from "./backoff.ts";
import {
  ApiError,
  errorFromResponse,
  isNetworkError,
  type KubeClient,
  type KubeResponse,
  resourcePath,
} from "./client.ts";
import {
  EVENT_MANAGED_FIELDS_PATH,
  type JsonDecoder,
  MANAGED_FIELDS_PATH,
  parseWithout,
} from "./json-cut.ts";
import { ListStreamParser } from "./list-parser.ts";
import {
  type GroupVersionResource,
  gvrString,
  INITIAL_EVENTS_END_ANNOTATION,
  type KubeObject,
  type Status,
  type WatchEvent,
} from "./types.ts";
import { WatchLineParser } from "./watch-parser.ts";

/** Where the reflector writes. The informer implements it: store + handler fan-out. */
export interface ReflectorTarget {
  /** Starts a relist: each put is applied at once; finish() deletes whatever was not put. */
  beginReplace(): { put(obj: KubeObject): void; finish(): void };
  upsert(obj: KubeObject): void;
  /** obj is the final state carried by the DELETED event. */
  remove(obj: KubeObject): void;
}

export type ReflectorState = "starting" | "listing" | "watching" | "backoff" | "stopped";

export interface ReflectorStatus {
  resource: string;
  state: ReflectorState;
  synced: boolean;
  lastSyncResourceVersion: string;
  /** ms since epoch of the last event (bookmarks included) or list page applied. */
  lastEventTime: number | undefined;
  /** Whether the current watch is open and has delivered bytes within the stall limit. */
  watchHealthy: boolean;
  /** Since when the watch has been down (ms since epoch), undefined while healthy. */
  unhealthySince: number | undefined;
  lastError: string | undefined;
  lists: number;
  /** Lists after the first one (410s, failed watches). */
  relists: number;
  /** Watches opened after the first one (clean closes, drops, stalls, errors). */
  watchRestarts: number;
  stalls: number;
  /** Watches that ended with 410 (HTTP or ERROR event): the RV was too old, a relist followed. */
  expired: number;
  usingWatchList: boolean;
}

export interface ReflectorLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

export interface ReflectorOptions {
  client: KubeClient;
  gvr: GroupVersionResource;
  /** Restrict to one namespace; all namespaces when absent. */
  namespace?: string;
  target: ReflectorTarget;
  /** Runs once per object before it reaches the target (e.g. strip managedFields). */
  transform?: (obj: KubeObject) => KubeObject;
  /**
   * Cut metadata.managedFields out of each object's JSON text before parsing it: the same
   * result as deleting it after, at about half the parsing cost for typical objects.
   */
  dropManagedFields?: boolean;
  /** Page size of lists; 0 disables paging. */
  pageSize?: number;
  /** Watches ask the server to end them after a random time in [min, 2*min) seconds. */
  minWatchTimeoutSeconds?: number;
  /** A watch that delivers no byte for this long is considered dead and re-opened. */
  stallTimeoutMs?: number;
  /**
   * Try the streaming watch-list (sendInitialEvents) before falling back to list+watch. Off by
   * default here; SharedInformer turns it on (see there).
   */
  useWatchList?: boolean;
  backoff?: BackoffOptions;
  random?: () => number;
  logger?: ReflectorLogger;
}

const silentLogger: ReflectorLogger = { info() {}, warn() {}, debug() {} };

/** A watch that ends this quickly with no event is treated as a failure (avoids hot loops). */
const SHORT_WATCH_MS = 1000;

/** Why a watch ended; decides what the reflector does next. */
type WatchEnd = "closed" | "stalled" | "short";

class ExpiredWatchError extends Error {
  constructor(status: Status) {
    super(`watch expired: ${status.message ?? "too old resource version"}`);
  }
}

export class Reflector {
  private readonly opts: Required<
    Pick<ReflectorOptions, "pageSize" | "minWatchTimeoutSeconds" | "stallTimeoutMs" | "random">
  > &
    ReflectorOptions;
  private readonly path: string;
  private readonly backoff: Backoff;
  private readonly log: ReflectorLogger;
  private readonly name: string;
  private abort = new AbortController();
  private stopped = false;
  private running: Promise<void> | undefined;
  private needsList = true;
  private lastSyncRVUnavailable = false;
  private watchListEnabled: boolean;
  private readonly syncWaiters: (() => void)[] = [];
  private readonly st: ReflectorStatus;
  private readonly decodeItem: JsonDecoder | undefined;
  private readonly decodeLine: JsonDecoder | undefined;

  constructor(options: ReflectorOptions) {
    this.opts = {
      pageSize: 500,
      minWatchTimeoutSeconds: 300,
      stallTimeoutMs: 90_000,
      random: Math.random,
      ...options,
    };
    this.path = resourcePath(options.gvr, options.namespace);
    this.backoff = new Backoff({ random: this.opts.random, ...options.backoff });
    this.log = options.logger ?? silentLogger;
    this.name = gvrString(options.gvr) + (options.namespace ? ` in ${options.namespace}` : "");
    this.watchListEnabled = options.useWatchList ?? false;
    if (options.dropManagedFields) {
      this.decodeItem = (bytes) => parseWithout(bytes, MANAGED_FIELDS_PATH);
      this.decodeLine = (line) => parseWithout(line, EVENT_MANAGED_FIELDS_PATH);
    }
    this.st = {
      resource: gvrString(options.gvr),
      state: "starting",
      synced: false,
      lastSyncResourceVersion: "",
      lastEventTime: undefined,
      watchHealthy: false,
      unhealthySince: Date.now(),
      lastError: undefined,
      lists: 0,
      relists: 0,
      watchRestarts: 0,
      stalls: 0,
      expired: 0,
      usingWatchList: this.watchListEnabled,
    };
  }

  status(): Readonly<ReflectorStatus> {
    return { ...this.st };
  }

  get lastSyncResourceVersion(): string {
    return this.st.lastSyncResourceVersion;
  }

  /** When the watch broke, while it is broken (status() without the copy). */
  get unhealthySince(): number | undefined {
    return this.st.unhealthySince;
  }

  hasSynced(): boolean {
    return this.st.synced;
  }

  /** Resolves once the first list (or watch-list) has been applied. */
  waitForSync(): Promise<void> {
    if (this.st.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.setState("stopped");
    await this.running;
  }

  private async run(): Promise<void> {
    let watches = 0;
    while (!this.stopped) {
      try {
        if (this.needsList) {
          if (this.st.lists++ > 0) this.st.relists++;
          await this.listOrWatchList();
          this.needsList = false;
          if (this.st.usingWatchList) {
            // The watch-list stream went on as the watch, so the next watch is a restart.
            watches++;
            continue;
          }
        }
        if (watches++ > 0) this.st.watchRestarts++;
        const end = await this.watch(false);
        if (end === "short") await this.backoffSleep(new Error("watch closed immediately without events"));
      } catch (err) {
        if (this.stopped) break;
        await this.handleFailure(err);
      }
    }
  }

  /** Decides, like client-go, whether a failure needs a relist and how long to wait. */
  private async handleFailure(err: unknown): Promise<void> {
    this.st.lastError = err instanceof Error ? err.message : String(err);
    this.markUnhealthy();
    if (err instanceof ExpiredWatchError || (isExpired(err) && !this.needsList)) {
      // The watch's RV is gone from the server's history: relist, starting from the last
      // synced RV (a list at an RV means "at least as fresh"), at once.
      this.log.info({ resource: this.name, err: this.st.lastError }, "watch expired; relisting");
      this.st.expired++;
      this.needsList = true;
      return;
    }
    if (!this.needsList && (isTooManyRequests(err) || isNetworkError(err))) {
      // Transient (429, refused, reset): back off and watch again from the same RV, no relist.
      await this.backoffSleep(err);
      return;
    }
    this.log.warn(
      { resource: this.name, err: this.st.lastError },
      "list/watch failed; retrying after backoff",
    );
    this.needsList = true;
    await this.backoffSleep(err);
  }

  private async backoffSleep(err: unknown): Promise<void> {
    let delay = this.backoff.nextDelayMs();
    if (err instanceof ApiError && err.retryAfterSeconds)
      delay = Math.max(delay, err.retryAfterSeconds * 1000);
    this.log.debug({ resource: this.name, delayMs: delay }, "backing off");
    this.setState("backoff");
    await sleep(delay, this.abort.signal);
  }

  /** The RV for a relist: "0" the first time, the last synced RV after, "" when that is gone. */
  private relistResourceVersion(): string {
    if (this.lastSyncRVUnavailable) return "";
    return this.st.lastSyncResourceVersion || "0";
  }

  private async listOrWatchList(): Promise<void> {
    if (this.watchListEnabled) {
      try {
        await this.watch(true);
        return;
      } catch (err) {
        // Once the initial events were applied the stream is an ordinary watch, and so are its failures.
        if (this.stopped || !this.needsList) throw err;
        if (isWatchListRejected(err)) {
          this.log.info(
            { resource: this.name, err: String(err) },
            "server rejected watch-list; using list+watch",
          );
          this.watchListEnabled = false;
        } else {
          this.log.warn(
            { resource: this.name, err: String(err) },
            "watch-list failed; falling back to a list",
          );
        }
        this.st.usingWatchList = false;
      }
    }
    await this.list();
  }

  /** A (paged) list applied to the store as it streams in. */
  private async list(): Promise<void> {
    this.setState("listing");
    const replace = this.opts.target.beginReplace();
    for (;;) {
      const rv = this.relistResourceVersion();
      // The watch cache ignores limit for a list at a specific RV, so don't page those.
      let limit = rv === "" || rv === "0" ? this.opts.pageSize || undefined : undefined;
      let cont: string | undefined;
      let listRV = "";
      try {
        for (;;) {
          const query = cont ? { limit, continue: cont } : { resourceVersion: rv, limit };
          let page: { resourceVersion: string; continue: string | undefined };
          try {
            page = await this.listPage(query, (obj) => replace.put(obj));
          } catch (err) {
            if (!cont || !isExpired(err)) throw err;
            // The continue token expired between pages: list again in full, unpaged.
            this.log.info({ resource: this.name }, "continue token expired; listing in full");
            limit = undefined;
            cont = undefined;
            continue;
          }
          listRV = page.resourceVersion;
          cont = page.continue;
          if (!cont) break;
        }
      } catch (err) {
        if (rv !== "" && (isExpired(err) || isTooLargeResourceVersion(err))) {
          // The RV we asked for is gone or not reached yet: ask for a consistent read at once.
          this.log.info({ resource: this.name, rv }, "list RV unavailable; listing at the latest RV");
          this.lastSyncRVUnavailable = true;
          continue;
        }
        throw err;
      }
      // The list's resourceVersion first: the deletions finish() reports happened by then, and
      // handlers reading lastSyncResourceVersion (the subscription hub) record them there.
      this.st.lastSyncResourceVersion = listRV;
      replace.finish();
      this.lastSyncRVUnavailable = false;
      this.markSynced(listRV);
      return;
    }
  }

  private async listPage(
    query: Record<string, string | number | undefined>,
    onItem: (obj: KubeObject) => void,
  ): Promise<{ resourceVersion: string; continue: string | undefined }> {
    const res = await this.opts.client.request("list", this.path, query, this.abort.signal);
    if (res.status !== 200) throw await errorFromResponse(res, `list ${this.name}`);
    let meta: { resourceVersion?: string; continue?: string } = {};
    const transform = this.opts.transform;
    const parser = new ListStreamParser(
      {
        item: (value) => {
          const obj = value as KubeObject;
          onItem(transform ? transform(obj) : obj);
        },
        field: (name, value) => {
          if (name === "metadata") meta = value as typeof meta;
        },
      },
      this.decodeItem,
    );
    for await (const chunk of res.body) parser.write(chunk as Buffer);
    parser.end();
    this.st.lastEventTime = Date.now();
    return { resourceVersion: meta.resourceVersion ?? "", continue: meta.continue || undefined };
  }

  /**
   * Opens a watch and applies its events until it ends. As a watch-list (initial = true) the
   * stream first replays every object, ends that with an annotated bookmark, and then goes on
   * as a plain watch.
   */
  private async watch(initial: boolean): Promise<WatchEnd> {
    const timeoutSeconds = Math.floor(this.opts.minWatchTimeoutSeconds * (1 + this.opts.random()));
    const query: Record<string, string | number> = {
      watch: 1,
      allowWatchBookmarks: "true",
      timeoutSeconds,
    };
    if (initial) {
      this.setState("listing");
      query.sendInitialEvents = "true";
      query.resourceVersionMatch = "NotOlderThan";
      query.resourceVersion = this.lastSyncRVUnavailable ? "" : this.st.lastSyncResourceVersion;
    } else {
      query.resourceVersion = this.st.lastSyncResourceVersion;
    }
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.abort.signal.addEventListener("abort", onStop, { once: true });
    let stalled = false;
    // Stall detection without a timer per chunk (a watch delivers one chunk per event): each
    // chunk only records the time; the timer, when it fires, re-arms itself for what is left
    // of the limit since the last byte, or aborts.
    const limit = this.opts.stallTimeoutMs;
    let lastByteAt = performance.now();
    let stallTimer: NodeJS.Timeout | undefined;
    const checkStall = () => {
      const quiet = performance.now() - lastByteAt;
      if (quiet >= limit) {
        stalled = true;
        controller.abort();
      } else stallTimer = setTimeout(checkStall, limit - quiet);
    };
    const opened = Date.now();
    let streaming = false;
    let events = 0;
    let replace = initial ? this.opts.target.beginReplace() : undefined;
    try {
      stallTimer = setTimeout(checkStall, limit);
      const res: KubeResponse = await this.opts.client.request("watch", this.path, query, controller.signal);
      if (res.status !== 200) throw await errorFromResponse(res, `watch ${this.name}`);
      streaming = true;
      if (!initial) this.setState("watching");
      this.markHealthy();
      const parser = new WatchLineParser((event) => {
        events++;
        if (this.applyEvent(event, replace)) {
          // The initial events are complete: what was not replayed is gone.
          replace!.finish();
          replace = undefined;
          this.st.usingWatchList = true;
          this.needsList = false;
          this.markSynced(this.st.lastSyncResourceVersion);
          this.setState("watching");
        }
      }, this.decodeLine);
      await consume(res.body, (chunk) => {
        lastByteAt = performance.now();
        this.markHealthy();
        parser.write(chunk);
      });
      parser.end();
    } catch (err) {
      if (this.stopped) return "closed";
      if (stalled) {
        this.st.stalls++;
        // Info, not warn: on a real apiserver a kind nobody changes gets neither events nor
        // bookmarks for minutes, which looks the same as a dead connection. Re-watching from the
        // last resourceVersion costs one request; stalls are counted in the status and metrics.
        this.log.info(
          { resource: this.name, ms: this.opts.stallTimeoutMs },
          "watch quiet past the stall limit; reopening it",
        );
        if (replace) throw new Error("watch-list stalled before its initial events ended");
        return "stalled";
      }
      // A stream cut after it opened is a closed watch (client-go treats a reset connection
      // as EOF): re-watch from the last RV. Errors before the stream opened are real failures.
      const brokenStream =
        streaming &&
        !(err instanceof ExpiredWatchError) &&
        !(err instanceof ApiError) &&
        !(err instanceof SyntaxError);
      if (brokenStream && !replace)
        return events === 0 && Date.now() - opened < SHORT_WATCH_MS ? "short" : "closed";
      throw err;
    } finally {
      clearTimeout(stallTimer);
      this.abort.signal.removeEventListener("abort", onStop);
      controller.abort();
    }
    if (replace) throw new Error("watch-list ended before its initial events were complete");
    return events === 0 && Date.now() - opened < SHORT_WATCH_MS ? "short" : "closed";
  }

  /** Applies one watch event; returns true when it ends a watch-list's initial events. */
  private applyEvent(event: WatchEvent, replace: { put(obj: KubeObject): void } | undefined): boolean {
    this.st.lastEventTime = Date.now();
    switch (event.type) {
      case "ADDED":
      case "MODIFIED": {
        const raw = event.object as KubeObject;
        const obj = this.opts.transform ? this.opts.transform(raw) : raw;
        // A watch-list's initial objects come in no resourceVersion order: its position is the
        // bookmark that ends them (as client-go), not whichever object came last.
        if (replace) replace.put(obj);
        else {
          this.opts.target.upsert(obj);
          this.st.lastSyncResourceVersion = obj.metadata.resourceVersion;
        }
        return false;
      }
      case "DELETED": {
        const raw = event.object as KubeObject;
        const obj = this.opts.transform ? this.opts.transform(raw) : raw;
        this.opts.target.remove(obj);
        if (!replace) this.st.lastSyncResourceVersion = obj.metadata.resourceVersion;
        return false;
      }
      case "BOOKMARK": {
        const meta = (event.object as KubeObject).metadata;
        if (meta?.resourceVersion) this.st.lastSyncResourceVersion = meta.resourceVersion;
        return replace !== undefined && meta?.annotations?.[INITIAL_EVENTS_END_ANNOTATION] === "true";
      }
      case "ERROR": {
        const status = event.object as Status;
        if (status.code === 410) throw new ExpiredWatchError(status);
        throw new ApiError(status.code ?? 500, status, `watch ${this.name} sent an error event`);
      }
      default:
        throw new Error(
          `watch ${this.name}: unknown event type ${JSON.stringify((event as WatchEvent).type)}`,
        );
    }
  }

  private markSynced(rv: string): void {
    this.st.lastSyncResourceVersion = rv;
    if (!this.st.synced) {
      this.st.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  private markHealthy(): void {
    if (!this.st.watchHealthy) {
      this.st.watchHealthy = true;
      this.st.unhealthySince = undefined;
    }
  }

  private markUnhealthy(): void {
    if (this.st.watchHealthy || this.st.unhealthySince === undefined) {
      this.st.watchHealthy = false;
      this.st.unhealthySince = Date.now();
    }
  }

  private setState(state: ReflectorState): void {
    if (this.st.state === "stopped") return;
    this.st.state = state;
    if (state !== "watching") this.markUnhealthy();
  }
}

/**
 * Feeds every chunk of a response body to onChunk, synchronously as it arrives ('data' events
 * cost less per chunk than an async iterator, and a watch sends one chunk per event). Resolves
 * at the end of the body; rejects with what onChunk threw (and stops reading), the stream's
 * error, or a premature close.
 */
function consume(body: Readable, onChunk: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      body.off("data", onData);
      body.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      try {
        onChunk(chunk);
      } catch (err) {
        fail(err);
      }
    };
    body.on("data", onData);
    body.once("error", fail);
    body.once("end", () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    body.once("close", () => {
      const err = new Error("the response ended prematurely") as NodeJS.ErrnoException;
      err.code = "ERR_STREAM_PREMATURE_CLOSE";
      fail(err);
    });
  });
}
