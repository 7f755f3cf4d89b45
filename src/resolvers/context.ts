// Per-request state. Execution is synchronous, so the whole request reads one consistent
// snapshot of the caches; within it, each distinct index lookup is done once (DataLoader's
// per-request caching, without wrapping synchronous map reads in promises).
import DataLoader from "dataloader";
import type { UserInfo } from "../auth/authenticator.ts";
import { type ClusterRegistry, unknownCluster } from "../clusters/registry.ts";
import { clusterTagOf } from "../informers/cluster-tag.ts";
import type { ResourceInfo, SharedInformer } from "../informers/shared-informer.ts";
import { type GroupVersionResource, gvrString, type KubeObject } from "../informers/types.ts";
import { accessKey } from "../kinds.ts";
import { beforeDeadline, type Deadline } from "../server/deadline.ts";
import type { Gateway } from "./gateway.ts";

/** What the caller may see (filled by the auth layer; everything without auth). */
export interface Visibility {
  /** May the caller see objects of `kind` in `namespace` (undefined: cluster-scoped)? */
  allows(kind: string, namespace: string | undefined): boolean;
  /** May the caller see every object of `kind`? (fast path: no per-object filtering) */
  allowsAll(kind: string): boolean;
  /** True when the caller may see no object of `kind` at all (top-level lists say so). */
  allowsNothing?(kind: string): boolean;
  /**
   * Whether the caller's access to `kind` (an access key) has been decided yet: a resource
   * only resources(...) reads is decided while the operation runs, after the cost estimate.
   */
  decides?(kind: string): boolean;
  /** Who the caller is, for error messages. */
  readonly user?: { username: string };
  /**
   * A key equal for two visibilities only when they allow exactly the same things: subscribers
   * with equal keys share executed subscription results (subscriptions/shared-results.ts). It
   * is read once per delivery, so implementations cache it (and drop the cache when their
   * decisions change). Without it, a visibility shares results with nobody but itself.
   */
  sharingKey?(): string;
}

export const SEE_EVERYTHING: Visibility = {
  allows: () => true,
  allowsAll: () => true,
  sharingKey: () => "*",
};

/**
 * With --auth, what a request may see until the authorization plugin has decided: nothing. A
 * path that skipped the plugin would then fail closed (empty answers), never show everything.
 */
export const SEE_NOTHING: Visibility = {
  allows: () => false,
  allowsAll: () => false,
  allowsNothing: () => true,
  sharingKey: () => "nothing",
};

// Methods are own arrow-function properties: graphql-yoga merges the context object into its
// own, which keeps own properties but not prototype methods.
export class RequestContext {
  readonly gateway: Gateway;
  /**
   * What the caller may see, in a holder object: yoga copies the context's own properties into
   * its own context object, so the authorization plugin replaces `access.visibility` on this
   * shared holder and every resolver sees it.
   */
  readonly access: {
    visibility: Visibility;
    /**
     * With --auth, who the caller is in this cluster (its TokenReview's answer), set with the
     * visibility. Mutations write as this user; a token is only valid in the cluster that
     * issued it, so each cluster has its own.
     */
    user?: UserInfo;
    /** Re-decides the visibility (RBAC may have changed); set by the authorization plugin. */
    refresh?: () => Promise<Visibility>;
    /** Checks the caller's token again (with --auth); rejects with UNAUTHENTICATED when no longer valid. */
    reauthenticate?: () => Promise<unknown>;
    /**
     * Decides what the caller may see of a resource outside the operation's core kinds (a
     * resources(...) or resourceEvents argument), adding it to `visibility`; set by the
     * authorization plugin. Without it (no --auth) everything is visible.
     */
    authorizeResource?: (resource: ResourceInfo) => Promise<void>;
    /**
     * A subscription's cost limit, checked again for what the caller may see now: set by the
     * cost limit when the visibility can be re-decided (with --auth). Undefined when within it.
     */
    recheckCost?: () => Error | undefined;
    /**
     * With --auth and several clusters: why this cluster answers this caller nothing (its token
     * is not valid there, or the cluster could not review it). Fields about the cluster fail
     * with it; fleet fields leave the cluster out and name it.
     */
    refusal?: Error;
  };
  /**
   * With --auth and several clusters, the access of each cluster other than the default one
   * (the default cluster's is `access`): each cluster reviews the caller's token and RBAC for
   * itself. Filled by the authorization plugin; a cluster missing here shares `access`.
   */
  readonly clusterAccess = new Map<string, RequestContext["access"]>();
  /** When the request must be answered by (--request-timeout); set by the app. */
  deadline: Deadline | undefined;
  private readonly memo = new Map<string, unknown>();
  /** Distinct lookups done (a holder, shared with yoga's copy of the context: see `access`). */
  readonly stats = { lookups: 0 };

  /** Every cluster served (several with --cluster); undefined: only this context's. */
  readonly clusters: ClusterRegistry | undefined;
  /**
   * The request's context for another cluster: the same caller, access holder, deadline and
   * counters, its own gateway and memo. Made on first use, once per cluster and request.
   */
  private readonly perCluster = new Map<string, RequestContext>();
  /** The context the request started with (the default cluster's); this one for it. */
  private readonly root: RequestContext;

  constructor(
    gateway: Gateway,
    visibility: Visibility = SEE_EVERYTHING,
    deadline?: Deadline,
    clusters?: ClusterRegistry,
  ) {
    this.gateway = gateway;
    this.access = { visibility };
    this.deadline = deadline;
    this.clusters = clusters;
    this.root = this;
  }

  /** This request's context in the named cluster; BAD_USER_INPUT for a name not served. */
  readonly inCluster = (name: string): RequestContext => {
    if (name === this.gateway.cluster) return this;
    const root = this.root;
    if (root !== this) return root.inCluster(name);
    let ctx = this.perCluster.get(name);
    if (!ctx) {
      if (!this.clusters) throw unknownCluster(name, [this.gateway.cluster]);
      ctx = new RequestContext(this.clusters.require(name), undefined, this.deadline, this.clusters);
      const shared = ctx as unknown as Record<string, unknown>;
      // Looked up at each use: the authorization plugin may decide after this context exists.
      Object.defineProperty(ctx, "access", {
        get: () => this.clusterAccess.get(name) ?? this.access,
        enumerable: true,
      });
      shared.stats = this.stats;
      shared.root = this;
      const user = (this as { user?: unknown }).user;
      if (user !== undefined) shared.user = user;
      this.perCluster.set(name, ctx);
    }
    return ctx;
  };

  /** The context an object is resolved in: its cluster's (untagged objects: this one's). */
  readonly contextOf = (obj: KubeObject): RequestContext => {
    const tag = clusterTagOf(obj);
    return tag === undefined ? this : this.inCluster(tag);
  };

  readonly visible = (kind: string, namespace: string | undefined): boolean =>
    this.access.visibility.allows(kind, namespace);

  readonly visibleAll = (kind: string): boolean => this.access.visibility.allowsAll(kind);

  /** Memoizes one lookup per request by key. */
  readonly once = <T>(key: string, load: () => T): T => {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    this.stats.lookups++;
    const value = load();
    this.memo.set(key, value);
    return value;
  };

  /** Objects of a core `kind` in an index bucket, filtered by what the caller may see. */
  readonly byIndex = (kind: string, index: string, value: string): KubeObject[] =>
    this.once(`${kind}\u0000${index}\u0000${value}`, () =>
      this.visibleOnly(kind, this.gateway.informer(kind).lister.byIndex(index, value)),
    );

  /**
   * The same for any informer (core or on-demand). children() calls it for every informer and
   * every object, so its memo is nested maps (informer, index, value) rather than a string key
   * built per call; it is its own, not byIndex's.
   */
  readonly byIndexIn = (informer: SharedInformer, index: string, value: string): KubeObject[] => {
    let perInformer = this.memoIn.get(informer);
    if (!perInformer) {
      perInformer = { accessKey: accessKey(informer.resource), byIndex: new Map() };
      this.memoIn.set(informer, perInformer);
    }
    let byValue = perInformer.byIndex.get(index);
    if (!byValue) {
      byValue = new Map();
      perInformer.byIndex.set(index, byValue);
    }
    let found = byValue.get(value);
    if (!found) {
      this.stats.lookups++;
      found = this.visibleOnly(perInformer.accessKey, informer.lister.byIndex(index, value));
      byValue.set(value, found);
    }
    return found;
  };
  private readonly memoIn = new Map<
    SharedInformer,
    { accessKey: string; byIndex: Map<string, Map<string, KubeObject[]>> }
  >();

  private readonly visibleOnly = (kind: string, found: KubeObject[]): KubeObject[] =>
    this.visibleAll(kind) ? found : found.filter((o) => this.visible(kind, o.metadata.namespace));

  /**
   * The informer of any served resource, started on first use and synced (bounded wait), with
   * the caller's access to it decided (with --auth): the one asynchronous lookup a query makes,
   * so it goes through a per-request DataLoader; however many resources(...) fields name a
   * resource, it is resolved once. Bounded by the request's deadline too.
   */
  readonly genericInformer = (gvr: GroupVersionResource): Promise<SharedInformer> => {
    this.informerLoader ??= new DataLoader(
      (keys: readonly GroupVersionResource[]) =>
        Promise.all(keys.map((k) => this.loadInformer(k).catch((err: Error) => err))),
      { cacheKeyFn: gvrString },
    );
    return this.informerLoader.load(gvr);
  };
  private readonly loadInformer = async (gvr: GroupVersionResource): Promise<SharedInformer> => {
    const informer = await beforeDeadline(
      this.gateway.genericInformer(gvr),
      this.deadline,
      `waiting for the first sync of ${gvr.resource}`,
    );
    await this.access.authorizeResource?.(informer.resource);
    return informer;
  };
  private informerLoader: DataLoader<GroupVersionResource, SharedInformer, string> | undefined;

  readonly get = (kind: string, namespace: string | undefined, name: string): KubeObject | undefined =>
    this.visible(kind, namespace) ? this.gateway.get(kind, namespace, name) : undefined;
}
