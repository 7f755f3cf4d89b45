// A shared informer: one reflector (one list+watch) feeding one indexed store, with any
// number of event handlers, each behind its own bounded queue.
import type { KubeClient } from "./client.ts";
import { tagCluster } from "./cluster-tag.ts";
import { type EventHandler, HandlerRegistration, type QueuedEvent } from "./handler-queue.ts";
import { defaultIndexers } from "./indexers.ts";
import { Lister } from "./lister.ts";
import { Reflector, type ReflectorLogger, type ReflectorOptions, type ReflectorStatus } from "./reflector.ts";
import { shareValues } from "./share.ts";
import { type Indexers, Store, type StoreDelta } from "./store.ts";
import { stripBulkyMetadata } from "./transform.ts";
import type { GroupVersionResource, KubeObject } from "./types.ts";
import { objectKey, parsePosition } from "./types.ts";

export interface ResourceInfo extends GroupVersionResource {
  kind: string;
  namespaced: boolean;
}

export interface SharedInformerOptions {
  client: KubeClient;
  resource: ResourceInfo;
  /** Watch one namespace only. */
  namespace?: string;
  /**
   * Scoped mode: watch only these namespaces, one list+watch each, all feeding this one store
   * (like controller-runtime's multi-namespace cache, but merged, so listers, indexes and
   * handlers see one kind). Ignored for cluster-scoped resources, which are watched whole.
   */
  namespaces?: readonly string[];
  /** Extra indexers on top of the defaults for the resource. */
  indexers?: Indexers;
  /** Runs before the store; defaults to stripping managedFields and last-applied. */
  transform?: (obj: KubeObject) => KubeObject;
  /** Default per-handler queue bound. */
  handlerQueueLimit?: number;
  reflector?: Partial<Omit<ReflectorOptions, "client" | "gvr" | "namespace" | "target" | "transform">>;
  logger?: ReflectorLogger;
  /** Tags every cached object with this cluster name (cluster-tag.ts); none for the default cluster. */
  cluster?: string;
}

export interface InformerStatus extends ReflectorStatus {
  kind: string;
  objects: number;
  handlers: number;
  /** Changes applied to the store (adds, updates, deletes), for rates in metrics. */
  eventsApplied: number;
}

export class SharedInformer {
  readonly resource: ResourceInfo;
  readonly store: Store;
  readonly lister: Lister;
  /** One reflector, or in scoped mode one per namespace (see `namespaces`). */
  private readonly reflectors: Reflector[];
  private readonly registrations = new Set<HandlerRegistration>();
  private readonly syncListeners = new Set<(delta: StoreDelta) => void>();
  private readonly handlerQueueLimit: number;
  private readonly logger: ReflectorLogger | undefined;
  private started = false;
  private eventsApplied = 0;

  constructor(opts: SharedInformerOptions) {
    this.resource = opts.resource;
    // Shared strings and sub-objects (shareValues) only for what is stored: not for unchanged
    // or deleted objects.
    this.store = new Store(
      { ...defaultIndexers(opts.resource.resource), ...opts.indexers },
      { admit: shareValues },
    );
    this.lister = new Lister(this.store);
    this.handlerQueueLimit = opts.handlerQueueLimit ?? 10_000;
    this.logger = opts.logger;
    const scoped = opts.resource.namespaced && opts.namespaces !== undefined && !opts.namespace;
    const namespaces: (string | undefined)[] = scoped ? [...new Set(opts.namespaces)] : [opts.namespace];
    // The same transform for every namespace: it is pure, and its cost is per object anyway.
    const transform = prepare(opts.transform ?? stripBulkyMetadata, opts.resource, opts.cluster);
    this.reflectors = namespaces.map(
      (namespace) =>
        new Reflector({
          ...opts.reflector,
          // Watch-list unless told otherwise (client-go's WatchListClient): the initial objects
          // come as watch events, a line each, so no list JSON has to be split byte by byte
          // here, and the apiserver builds no list. It costs ~25% less client CPU for 50k pods
          // (bench/informer.ts). A server that rejects it gets list+watch.
          useWatchList: opts.reflector?.useWatchList ?? true,
          client: opts.client,
          gvr: opts.resource,
          namespace,
          transform,
          // With the default transform managedFields are dropped anyway: cheaper before parsing.
          dropManagedFields: opts.transform === undefined,
          // A namespace's relist decides only about that namespace's objects.
          target: this.target(scoped ? namespace : undefined),
          logger: opts.logger,
        }),
    );
    void this.waitForAllReflectors().then(() => {
      for (const reg of this.registrations) reg.enqueue({ type: "SYNCED" });
    });
  }

  private waitForAllReflectors(): Promise<unknown> {
    return Promise.all(this.reflectors.map((r) => r.waitForSync()));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    for (const reg of this.registrations) reg.remove();
    this.registrations.clear();
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Synced once every namespace's first list (scoped mode), or the one list, is applied. */
  hasSynced(): boolean {
    return this.reflectors.every((r) => r.hasSynced());
  }

  /** Resolves true when synced, false when the timeout passes first. */
  async waitForSync(timeoutMs?: number): Promise<boolean> {
    if (this.hasSynced()) return true;
    if (timeoutMs === undefined) {
      await this.waitForAllReflectors();
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.waitForAllReflectors().then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The last synced resourceVersion; in scoped mode the highest of the namespaces' (etcd
   * revisions of one cluster, so the newest state of the cluster any of them has seen).
   */
  get lastSyncResourceVersion(): string {
    if (this.reflectors.length === 1) return this.reflectors[0]!.lastSyncResourceVersion;
    return newestResourceVersion(this.reflectors.map((r) => r.lastSyncResourceVersion));
  }

  /** When the watch broke, while it is broken (in scoped mode, the first namespace's to break). */
  get unhealthySince(): number | undefined {
    let since: number | undefined;
    for (const r of this.reflectors) {
      const t = r.unhealthySince;
      if (t !== undefined && (since === undefined || t < since)) since = t;
    }
    return since;
  }

  status(): InformerStatus {
    return {
      ...mergedStatus(this.reflectors.map((r) => r.status())),
      kind: this.resource.kind,
      objects: this.store.size,
      handlers: this.registrations.size,
      eventsApplied: this.eventsApplied,
    };
  }

  addIndexers(indexers: Indexers): void {
    this.store.addIndexers(indexers);
  }

  /**
   * Registers a handler. Objects already cached are delivered first as ADDED with
   * isInitial = true; the registration's hasSynced() turns true once that replay (and the
   * informer's first sync) has been delivered. Registering the same handler twice gives two
   * independent registrations.
   */
  addEventHandler(handler: EventHandler, opts: { queueLimit?: number } = {}): HandlerRegistration {
    const reg = new HandlerRegistration(handler, opts.queueLimit ?? this.handlerQueueLimit, (err) =>
      this.logger?.warn({ resource: this.resource.resource, err: String(err) }, "event handler failed"),
    );
    // The replay is a snapshot of references taken in the same turn as the registration, so
    // every later change reaches the queue after it: nothing is missed or doubled.
    if (this.store.size) reg.enqueueReplay(Array.from(this.store.values()));
    if (this.hasSynced()) reg.enqueue({ type: "SYNCED" });
    this.registrations.add(reg);
    return reg;
  }

  /**
   * A listener called synchronously, in the same turn the store changes. Unlike handlers it has
   * no queue: it is for fan-out layers (subscriptions) that keep their own bounded buffers and
   * need a snapshot of the store that lines up exactly with the events that follow it. It must
   * be cheap and must not throw (exceptions are caught and logged). Returns an unsubscribe.
   */
  addSyncListener(listener: (delta: StoreDelta) => void): () => void {
    this.syncListeners.add(listener);
    return () => this.syncListeners.delete(listener);
  }

  removeEventHandler(reg: HandlerRegistration): void {
    reg.remove();
    this.registrations.delete(reg);
  }

  private dispatch(delta: StoreDelta | undefined): void {
    if (!delta) return;
    this.eventsApplied++;
    for (const listener of this.syncListeners) {
      try {
        listener(delta);
      } catch (err) {
        this.logger?.warn({ resource: this.resource.resource, err: String(err) }, "sync listener failed");
      }
    }
    if (this.registrations.size === 0) return;
    const event: QueuedEvent =
      delta.type === "ADDED" ? { type: "ADDED", object: delta.object, initial: false } : delta;
    for (const reg of this.registrations) reg.enqueue(event);
  }

  private target(namespace: string | undefined) {
    return {
      beginReplace: () => {
        const session = this.store.beginReplace(namespace);
        return {
          put: (obj: KubeObject) => this.dispatch(session.put(obj)),
          finish: () => {
            for (const delta of session.finish()) this.dispatch(delta);
          },
        };
      },
      upsert: (obj: KubeObject) => this.dispatch(this.store.upsert(obj)),
      remove: (obj: KubeObject) => {
        const delta = this.store.remove(objectKey(obj));
        // Report the final state the watch sent, which is newer than what was cached.
        if (delta) this.dispatch({ type: "DELETED", object: obj, tombstone: false });
      },
    };
  }
}

/**
 * The transform, then what every object gets: kind/apiVersion, which items of a list response
 * lack (watch events carry them), so every cached object says what it is.
 */
function prepare(transform: (obj: KubeObject) => KubeObject, res: ResourceInfo, cluster?: string) {
  const apiVersion = res.group ? `${res.group}/${res.version}` : res.version;
  return (obj: KubeObject): KubeObject => {
    const out = transform(obj);
    if (!out.kind) out.kind = res.kind;
    if (!out.apiVersion) out.apiVersion = apiVersion;
    if (cluster !== undefined) tagCluster(out, cluster);
    return out;
  };
}

/** The highest of several resourceVersions of one cluster (etcd revisions), "" when none is set. */
function newestResourceVersion(versions: string[]): string {
  let best = "";
  let bestN = -1n;
  for (const v of versions) {
    const n = parsePosition(v);
    if (n !== undefined && n > bestN) {
      bestN = n;
      best = v;
    }
  }
  return best;
}

/**
 * One status for the namespaces' reflectors of a scoped kind: synced and healthy only when all
 * are, the least advanced state, counters summed, the newest event and resourceVersion, the
 * first error; one reflector's status as it is.
 */
function mergedStatus(all: ReflectorStatus[]): ReflectorStatus {
  if (all.length === 1) return all[0]!;
  const order: ReflectorStatus["state"][] = ["stopped", "backoff", "starting", "listing", "watching"];
  const sum = (pick: (s: ReflectorStatus) => number) => all.reduce((n, s) => n + pick(s), 0);
  const times = (pick: (s: ReflectorStatus) => number | undefined) =>
    all.map(pick).filter((t): t is number => t !== undefined);
  const events = times((s) => s.lastEventTime);
  const unhealthy = times((s) => s.unhealthySince);
  return {
    resource: all[0]!.resource,
    state: all.map((s) => s.state).sort((a, b) => order.indexOf(a) - order.indexOf(b))[0]!,
    synced: all.every((s) => s.synced),
    lastSyncResourceVersion: newestResourceVersion(all.map((s) => s.lastSyncResourceVersion)),
    lastEventTime: events.length ? Math.max(...events) : undefined,
    watchHealthy: all.every((s) => s.watchHealthy),
    unhealthySince: unhealthy.length ? Math.min(...unhealthy) : undefined,
    lastError: all.find((s) => s.lastError)?.lastError,
    lists: sum((s) => s.lists),
    relists: sum((s) => s.relists),
    watchRestarts: sum((s) => s.watchRestarts),
    stalls: sum((s) => s.stalls),
    expired: sum((s) => s.expired),
    usingWatchList: all.every((s) => s.usingWatchList),
  };
}
