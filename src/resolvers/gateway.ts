// The long-lived state behind every request: the informer factory, one informer per core
// kind (started at once), and the subscription hubs. Resolvers reach the caches only through it.
import type { SharedInformerFactory } from "../informers/factory.ts";
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { GroupVersionResource, KubeObject } from "../informers/types.ts";
import { CORE_KINDS, type KindDescription, kindByName } from "../kinds.ts";
import { ResourceEventHub } from "../subscriptions/hub.ts";
import { limitExceeded, userError } from "./errors.ts";
import { addResolverIndexes } from "./indexes.ts";

export interface GatewayOptions {
  /** How long a query waits for a kind's first sync before failing with NOT_SYNCED. */
  syncTimeoutMs?: number;
  /** A watch broken longer than this marks the kind's data as stale in responses. */
  staleAfterMs?: number;
  historySize?: number;
  /** Open subscription streams the whole gateway serves at once. */
  maxSubscriptions?: number;
  /** How often a subscription re-checks the caller's RBAC (with --auth kubernetes). */
  recheckMs?: number;
  /** The name of the cluster this gateway serves (the `cluster` argument and field). */
  cluster?: string;
}

/** The cluster name of a gateway built without one (single-cluster mode). */
export const DEFAULT_CLUSTER_NAME = "default";

export class Gateway {
  readonly factory: SharedInformerFactory;
  readonly syncTimeoutMs: number;
  readonly staleAfterMs: number;
  private readonly byKind = new Map<string, SharedInformer>();
  /**
   * Every informer of the factory (core kinds, then the others in creation order: resources(...)
   * ones, and any created on the factory directly), and the same by group and kind: owners and
   * children look informers up per object, so they must not copy and scan the factory's list
   * each time. Kept up to date by the factory (onInformerAdded).
   */
  private readonly tracked = new Set<SharedInformer>();
  private readonly byGroupKind = new Map<string, SharedInformer[]>();
  private readonly untrack: () => void;
  private readonly hubs = new Map<SharedInformer, ResourceEventHub>();
  private stopped = false;
  private readonly historySize: number;
  readonly maxSubscriptions: number;
  readonly recheckMs: number;
  readonly cluster: string;

  constructor(factory: SharedInformerFactory, opts: GatewayOptions = {}) {
    this.factory = factory;
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 10_000;
    this.staleAfterMs = opts.staleAfterMs ?? 60_000;
    this.historySize = opts.historySize ?? 10_000;
    this.maxSubscriptions = opts.maxSubscriptions ?? 20_000;
    this.recheckMs = opts.recheckMs ?? 30_000;
    this.cluster = opts.cluster ?? DEFAULT_CLUSTER_NAME;
    for (const kind of CORE_KINDS) {
      const informer = factory.informerForResource(kind);
      addResolverIndexes(informer);
      this.byKind.set(kind.kind, informer);
      this.track(informer);
    }
    const untrackAdded = factory.onInformerAdded((informer) => this.track(informer));
    const untrackRemoved = factory.onInformerRemoved((informer) => this.forget(informer));
    this.untrack = () => {
      untrackAdded();
      untrackRemoved();
    };
  }

  /** An informer the factory removed (its resource is no longer served): its hub closes. */
  private forget(informer: SharedInformer): void {
    if (!this.tracked.delete(informer)) return;
    const key = groupKind(informer.resource.group, informer.resource.kind);
    const rest = (this.byGroupKind.get(key) ?? []).filter((i) => i !== informer);
    if (rest.length) this.byGroupKind.set(key, rest);
    else this.byGroupKind.delete(key);
    this.hubs.get(informer)?.close();
    this.hubs.delete(informer);
  }

  private track(informer: SharedInformer): void {
    if (this.tracked.has(informer)) return;
    this.tracked.add(informer);
    const key = groupKind(informer.resource.group, informer.resource.kind);
    const same = this.byGroupKind.get(key);
    if (same) same.push(informer);
    else this.byGroupKind.set(key, [informer]);
    // Change history is recorded from each kind's first sync, not from its first subscriber: a
    // client resuming here with a resourceVersion another replica handed out (behind one
    // Service) is replayed what it missed instead of resynced, though this replica never had a
    // subscriber of that kind. History is bounded (historySize changes per kind).
    void informer.waitForSync().then(() => {
      if (!this.stopped) this.hub(informer).recordHistory();
    });
  }

  /** Every informer the gateway caches, core and on-demand (no copy: do not modify). */
  cachedInformers(): ReadonlySet<SharedInformer> {
    return this.tracked;
  }

  start(): void {
    this.factory.start();
  }

  /** The informer of a core kind (throws for other kinds, unless `required` is false). */
  informer(kind: string): SharedInformer;
  informer(kind: string, required: false): SharedInformer | undefined;
  informer(kind: string, required = true): SharedInformer | undefined {
    const informer = this.byKind.get(kind);
    if (!informer && required) throw new Error(`no informer for kind ${kind}`);
    return informer;
  }

  /**
   * The synced informer caching a kind of an API group (from an apiVersion such as "apps/v1",
   * any version): a core kind's, or one started on demand by resources(...). Undefined when no
   * such kind is cached.
   */
  informerForKind(apiVersion: string, kind: string): SharedInformer | undefined {
    const slash = apiVersion.indexOf("/");
    const group = slash < 0 ? "" : apiVersion.slice(0, slash);
    for (const informer of this.byGroupKind.get(groupKind(group, kind)) ?? []) {
      if (informer.hasSynced()) return informer;
    }
    return undefined;
  }

  /** The cached object of a core kind, or undefined. */
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.byKind.get(kind)?.lister.get(namespace, name);
  }

  coreInformers(): [KindDescription, SharedInformer][] {
    return CORE_KINDS.map((k) => [k, this.byKind.get(k.kind)!]);
  }

  kindOf(obj: KubeObject): KindDescription | undefined {
    return obj.kind ? kindByName(obj.kind) : undefined;
  }

  /** The core kinds among `kinds` whose informer has not synced yet (other names are ignored). */
  unsyncedKinds(kinds: Iterable<string>): string[] {
    const out: string[] = [];
    for (const kind of kinds) {
      const informer = this.byKind.get(kind);
      if (informer && !informer.hasSynced()) out.push(kind);
    }
    return out;
  }

  /** Waits (bounded) for these kinds' first sync; throws NOT_SYNCED naming those still syncing. */
  async waitForKinds(kinds: Iterable<string>): Promise<void> {
    const informers = [...new Set(kinds)].map((k) => this.informer(k)).filter((i) => !i.hasSynced());
    if (informers.length === 0) return;
    const results = await Promise.all(informers.map((i) => i.waitForSync(this.syncTimeoutMs)));
    const missing = informers.filter((_, n) => !results[n]).map((i) => i.resource.kind);
    if (missing.length) {
      throw userError(
        `not synced: the cache of ${missing.join(", ")} has not finished its first list after ${this.syncTimeoutMs / 1000} s; ` +
          "retry shortly (see cacheStatus for details)",
        "NOT_SYNCED",
        { kinds: missing },
      );
    }
  }

  /** An informer for any served resource (discovery), synced within the timeout. */
  async genericInformer(gvr: GroupVersionResource): Promise<SharedInformer> {
    const informer = await this.factory.informerFor(gvr);
    if (!(await informer.waitForSync(this.syncTimeoutMs))) {
      throw userError(
        `not synced: ${gvr.resource} has not finished its first list after ${this.syncTimeoutMs / 1000} s; retry shortly`,
        "NOT_SYNCED",
      );
    }
    return informer;
  }

  hub(informer: SharedInformer): ResourceEventHub {
    let hub = this.hubs.get(informer);
    if (!hub) {
      hub = new ResourceEventHub(informer, { historySize: this.historySize });
      this.hubs.set(informer, hub);
    }
    return hub;
  }

  /** Throws LIMIT_EXCEEDED when the gateway already serves its maximum of subscriptions. */
  checkSubscriptionCapacity(): void {
    if (this.subscriberCount() >= this.maxSubscriptions) {
      throw limitExceeded(
        `too many subscriptions: this gateway serves at most ${this.maxSubscriptions} at once; retry later`,
        "maxSubscriptions",
        this.maxSubscriptions,
      );
    }
  }

  subscriberCount(): number {
    let n = 0;
    for (const hub of this.hubs.values()) n += hub.subscriberCount;
    return n;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.untrack();
    for (const hub of this.hubs.values()) hub.close();
    await this.factory.stop();
  }
}

/** A map key for a kind of an API group (any version). */
function groupKind(group: string, kind: string): string {
  return `${group}/${kind}`;
}
