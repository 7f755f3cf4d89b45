// WATCH streams: one JSON event per line over a chunked HTTP 200, as kube-apiserver's watch
// cache serves them. Where a watch starts:
//   resourceVersion unset, "" or "0"   synthetic ADDED for every current object, then live
//   N                                   every kept change after N, then live; if history no
//                                       longer reaches N, one ERROR (410 Expired) and the end
//   sendInitialEvents=true (watch-list) ADDED for every current object, a BOOKMARK annotated
//                                       k8s.io/initial-events-end, then live
//   sendInitialEvents=false             as for N, or from now when the RV is unset
// With a selector, an object that stops matching arrives as DELETED and one that starts matching
// as ADDED, as the cacher does. Bookmarks (allowWatchBookmarks) come every bookmarkIntervalMs and
// shortly before the timeoutSeconds deadline, at which the stream ends cleanly.
//
// Each live event is serialised once however many watchers receive it.
import type { ServerResponse } from "node:http";
import { INITIAL_EVENTS_END_ANNOTATION, type KubeObject } from "../informers/types.ts";
import { SandboxError, type StatusBody, tooLargeResourceVersion, tooOldResourceVersion } from "./errors.ts";
import { drained } from "./list.ts";
import { parseResourceVersion } from "./options.ts";
import { apiVersionOf, type SandboxResource } from "./resources.ts";
import type { Predicate } from "./selectors.ts";
import type { Change, ChangeType, ObjectStore } from "./store.ts";

export interface WatchRequest {
  res: SandboxResource;
  namespace: string | undefined;
  predicate: Predicate | undefined;
  resourceVersion: string;
  sendInitialEvents: boolean | undefined;
  allowWatchBookmarks: boolean;
  timeoutSeconds: number;
}

export interface WatchHubOptions {
  bookmarkIntervalMs: number;
  /** A watcher whose unsent output exceeds this is closed (the cacher drops slow watchers too). */
  maxBufferedBytes: number;
}

class Watcher {
  readonly out: ServerResponse;
  readonly req: WatchRequest;
  /** Events at or below this RV were already covered by the start of the stream. */
  readonly fromRV: number;
  /** The RV of the last event written: what a client would resume from. */
  lastRV: number;
  /** Half-open: nothing is ever written again, not even the end of the stream. */
  stalled: boolean;
  closed = false;
  /** Live events held back while the initial events are still being written. */
  queue: string[] | undefined;
  readonly timers: NodeJS.Timeout[] = [];

  constructor(out: ServerResponse, req: WatchRequest, fromRV: number, stalled: boolean) {
    this.out = out;
    this.req = req;
    this.fromRV = fromRV;
    this.lastRV = fromRV;
    this.stalled = stalled;
  }

  inScope(obj: KubeObject): boolean {
    const { namespace, predicate } = this.req;
    if (namespace && this.req.res.namespaced && obj.metadata.namespace !== namespace) return false;
    return !predicate || predicate(obj);
  }
}

/** The event a watcher gets for a change, after its selector (cacheWatcher.convertToWatchEvent). */
function eventFor(w: Watcher, c: Change): { type: ChangeType; object: "new" | "prev" } | undefined {
  const now = c.type !== "DELETED" && w.inScope(c.object);
  const before = c.prev !== undefined && w.inScope(c.prev);
  if (now && before) return { type: "MODIFIED", object: "new" };
  if (now) return { type: "ADDED", object: "new" };
  if (before) return { type: "DELETED", object: c.type === "DELETED" ? "new" : "prev" };
  return undefined;
}

function* addedLines(objects: KubeObject[], end: string): Generator<string> {
  for (const obj of objects) yield eventLine("ADDED", obj);
  if (end) yield end;
}

function* replayLines(w: Watcher, changes: readonly Change[]): Generator<string> {
  for (const c of changes) {
    if (c.res !== w.req.res) continue;
    const ev = eventFor(w, c);
    if (ev) yield eventLine(ev.type, ev.object === "new" ? c.object : withRV(c.prev!, c.rv));
  }
}

export function eventLine(type: string, object: unknown): string {
  return `{"type":"${type}","object":${JSON.stringify(object)}}\n`;
}

function withRV(obj: KubeObject, rv: number): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } };
}

export class WatchHub {
  private readonly store: ObjectStore;
  private readonly opts: WatchHubOptions;
  private readonly byResource = new Map<SandboxResource, Set<Watcher>>();
  private stalled = false;

  constructor(store: ObjectStore, opts: WatchHubOptions) {
    this.store = store;
    this.opts = opts;
    store.onChange((c) => this.dispatch(c));
  }

  /**
   * Starts a watch on `out`. Errors the apiserver reports before the stream (a too large RV for
   * a watch-list) are thrown as SandboxError; an expired RV is an ERROR event inside the stream.
   */
  open(out: ServerResponse, req: WatchRequest): void {
    const current = this.store.resourceVersion;
    const rv = req.resourceVersion;
    const specific = rv !== "" && rv !== "0";
    let fromRV = current;
    let initial: Iterable<string> = [];
    let expiredStatus: StatusBody | undefined;
    if (req.sendInitialEvents && specific) {
      const n = parseResourceVersion(rv);
      if (n > current) throw new SandboxError(tooLargeResourceVersion(n, current));
    }
    if (req.sendInitialEvents ?? !specific) {
      // The state now as ADDED events (taken now, serialised while streaming).
      const end =
        req.sendInitialEvents && req.allowWatchBookmarks ? this.bookmarkLine(req.res, current, true) : "";
      initial = addedLines(this.snapshot(req), end);
    } else if (specific) {
      const n = parseResourceVersion(rv);
      const changes = this.store.changesSince(n);
      if (!changes) expiredStatus = tooOldResourceVersion(rv, this.store.floor);
      else {
        // A watch from an RV not reached yet waits for it (the cacher filters older events).
        fromRV = Math.max(n, current);
        initial = replayLines(new Watcher(out, req, n, false), changes);
      }
    }
    const w = new Watcher(out, req, fromRV, this.stalled);
    if (w.stalled) {
      // Half-open from the start: the client never even gets the headers.
      this.add(w);
      return;
    }
    out.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    out.flushHeaders();
    if (expiredStatus) {
      out.end(eventLine("ERROR", expiredStatus));
      return;
    }
    this.add(w);
    this.schedule(w);
    void this.replay(w, initial);
  }

  /**
   * Writes the initial events with backpressure (a watch-list of 50k pods is hundreds of MB);
   * live events meanwhile wait in the watcher's queue so that order is kept.
   */
  private async replay(w: Watcher, lines: Iterable<string>): Promise<void> {
    w.queue = [];
    let chunk = "";
    for (const line of lines) {
      chunk += line;
      if (chunk.length < 1 << 16) continue;
      const ok = w.out.write(chunk);
      chunk = "";
      if (!ok) await drained(w.out);
      if (w.closed || w.stalled) return;
    }
    const queued = w.queue;
    w.queue = undefined;
    if (!w.closed && !w.stalled) w.out.write(chunk + queued.join(""));
  }

  /** Destroys every watch connection abruptly, without ending the stream. */
  dropAll(): void {
    for (const w of this.all()) this.close(w, true);
  }

  /** Stops all output to open watches (and to new ones while on): half-open connections. */
  stall(on: boolean): void {
    this.stalled = on;
    if (on) for (const w of this.all()) w.stalled = true;
  }

  /** An ERROR 410 into every open watch, then the end of it; stalled ones can only be cut. */
  expireAll(): void {
    for (const w of this.all()) {
      if (w.stalled) {
        this.close(w, true);
        continue;
      }
      w.out.write(eventLine("ERROR", tooOldResourceVersion(w.lastRV, this.store.floor)));
      this.close(w, false);
    }
  }

  closeAll(): void {
    for (const w of this.all()) this.close(w, true);
  }

  /**
   * Open watches per resource (`pods`, `deployments.apps`), what the apiserver's
   * apiserver_longrunning_requests{verb="WATCH"} gauge counts: the load a client puts on it.
   */
  openWatches(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [res, set] of this.byResource) {
      if (set.size === 0) continue;
      const name = res.group ? `${res.resource}.${res.group}` : res.resource;
      out.set(name, (out.get(name) ?? 0) + set.size);
    }
    return out;
  }

  private *all(): Generator<Watcher> {
    for (const set of this.byResource.values()) yield* [...set];
  }

  private snapshot(req: WatchRequest): KubeObject[] {
    const objects = this.store.collection(req.res).inOrder(req.res.namespaced ? req.namespace : undefined);
    return req.predicate ? objects.filter(req.predicate) : objects;
  }

  private add(w: Watcher): void {
    let set = this.byResource.get(w.req.res);
    if (!set) {
      set = new Set();
      this.byResource.set(w.req.res, set);
    }
    set.add(w);
    w.out.on("close", () => this.close(w, false));
  }

  private close(w: Watcher, abrupt: boolean): void {
    const set = this.byResource.get(w.req.res);
    if (!set?.delete(w)) return;
    w.closed = true;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.out.socket?.destroy();
    else if (!w.out.writableEnded) w.out.end();
  }

  private schedule(w: Watcher): void {
    const { allowWatchBookmarks, timeoutSeconds } = w.req;
    if (allowWatchBookmarks && this.opts.bookmarkIntervalMs > 0) {
      w.timers.push(setInterval(() => this.bookmark(w), this.opts.bookmarkIntervalMs));
    }
    if (timeoutSeconds > 0) {
      const timeoutMs = timeoutSeconds * 1000;
      // The apiserver sends a bookmark 2 s before the deadline; short test timeouts get it halfway.
      if (allowWatchBookmarks) {
        w.timers.push(setTimeout(() => this.bookmark(w), timeoutMs - Math.min(2000, timeoutMs / 2)));
      }
      // A half-open connection cannot even be ended: it stays until the client gives up.
      w.timers.push(setTimeout(() => w.stalled || this.close(w, false), timeoutMs));
    }
  }

  private bookmark(w: Watcher): void {
    const rv = this.store.resourceVersion;
    // Never announce an RV below what the watch started from or already delivered.
    if (w.stalled || rv < w.lastRV) return;
    w.lastRV = rv;
    this.write(w, this.bookmarkLine(w.req.res, rv, false));
  }

  private bookmarkLine(res: SandboxResource, rv: number, initialEventsEnd: boolean): string {
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (initialEventsEnd) metadata.annotations = { [INITIAL_EVENTS_END_ANNOTATION]: "true" };
    return eventLine("BOOKMARK", { kind: res.kind, apiVersion: apiVersionOf(res), metadata });
  }

  private dispatch(c: Change): void {
    const set = this.byResource.get(c.res);
    if (!set || set.size === 0) return;
    // Serialise each variant once for every watcher.
    let asIs: string | undefined;
    let deletedPrev: string | undefined;
    for (const w of set) {
      if (w.stalled || c.rv <= w.fromRV) continue;
      const ev = eventFor(w, c);
      if (!ev) continue;
      let line: string;
      if (ev.object === "prev") line = deletedPrev ??= eventLine("DELETED", withRV(c.prev!, c.rv));
      else if (ev.type === c.type) line = asIs ??= eventLine(c.type, c.object);
      else line = eventLine(ev.type, c.object);
      w.lastRV = c.rv;
      this.write(w, line);
    }
  }

  private write(w: Watcher, text: string): void {
    if (w.queue) {
      w.queue.push(text);
      return;
    }
    w.out.write(text);
    if (w.out.writableLength > this.opts.maxBufferedBytes) this.close(w, false);
  }
}
