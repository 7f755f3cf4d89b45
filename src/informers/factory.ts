// The shared informer factory: one informer (one list+watch) per resource, however many
// consumers ask for it. Resources are resolved through discovery, so any served resource,
// CRDs included, can be cached on demand.
import type { KubeClient } from "./client.ts";
import { Discovery } from "./discovery.ts";
import type { ReflectorLogger } from "./reflector.ts";
import {
  type InformerStatus,
  type ResourceInfo,
  SharedInformer,
  type SharedInformerOptions,
} from "./shared-informer.ts";
import { type GroupVersionResource, gvrString } from "./types.ts";

export type FactoryOptions = Pick<
  SharedInformerOptions,
  "namespace" | "namespaces" | "transform" | "handlerQueueLimit" | "reflector" | "logger" | "cluster"
> & { discovery?: Discovery; logger?: ReflectorLogger };

export class SharedInformerFactory {
  readonly client: KubeClient;
  readonly discovery: Discovery;
  private readonly opts: FactoryOptions;
  private readonly byResource = new Map<string, SharedInformer>();
  private readonly addedListeners = new Set<(informer: SharedInformer) => void>();
  private readonly removedListeners = new Set<(informer: SharedInformer) => void>();
  private started = false;

  /** Scoped mode: the only namespaces whose objects are watched (namespaced resources). */
  get namespaces(): readonly string[] | undefined {
    return this.opts.namespaces;
  }

  constructor(client: KubeClient, opts: FactoryOptions = {}) {
    this.client = client;
    this.opts = opts;
    this.discovery = opts.discovery ?? new Discovery(client);
  }

  /** The informer for a resource, created on first use; throws UnknownResourceError. */
  async informerFor(gvr: GroupVersionResource): Promise<SharedInformer> {
    const existing = this.byResource.get(gvrString(gvr));
    if (existing) return existing;
    const info = await this.discovery.resolve(gvr);
    return this.informerForResource(info);
  }

  /** The informer for a resource whose kind and scope are already known (no discovery). */
  informerForResource(info: ResourceInfo): SharedInformer {
    const key = gvrString(info);
    let informer = this.byResource.get(key);
    if (!informer) {
      informer = new SharedInformer({ ...this.opts, client: this.client, resource: info });
      this.byResource.set(key, informer);
      try {
        for (const listener of this.addedListeners) listener(informer);
      } finally {
        // Informers created after start() begin at once, so on-demand resources just work.
        if (this.started) informer.start();
      }
    }
    return informer;
  }

  /**
   * Calls `fn` for each informer the factory holds, at once (in creation order), then for each
   * one it creates, as it is created (before it starts). Returns the unsubscribe.
   */
  onInformerAdded(fn: (informer: SharedInformer) => void): () => void {
    // Before subscribing: an informer `fn` creates here is still reached by this loop, once.
    for (const informer of this.byResource.values()) fn(informer);
    // A wrapper of its own: the same function subscribed twice is unsubscribed once each.
    const listener = (informer: SharedInformer) => fn(informer);
    this.addedListeners.add(listener);
    return () => {
      this.addedListeners.delete(listener);
    };
  }

  /**
   * Stops and forgets the informer of a resource the apiserver no longer serves (a CRD
   * removed), telling the onInformerRemoved listeners first; a later informerFor starts afresh.
   */
  async remove(gvr: GroupVersionResource): Promise<void> {
    const key = gvrString(gvr);
    const informer = this.byResource.get(key);
    if (!informer) return;
    this.byResource.delete(key);
    for (const listener of this.removedListeners) listener(informer);
    await informer.stop();
  }

  /** Calls `fn` for each informer removed (remove()). Returns the unsubscribe. */
  onInformerRemoved(fn: (informer: SharedInformer) => void): () => void {
    const listener = (informer: SharedInformer) => fn(informer);
    this.removedListeners.add(listener);
    return () => {
      this.removedListeners.delete(listener);
    };
  }

  /** Looks up an informer without creating one. */
  get(gvr: GroupVersionResource): SharedInformer | undefined {
    return this.byResource.get(gvrString(gvr));
  }

  informers(): SharedInformer[] {
    return [...this.byResource.values()];
  }

  start(): void {
    this.started = true;
    for (const informer of this.byResource.values()) informer.start();
  }

  /**
   * Waits until every started informer has synced, or the timeout passes. Resolves with each
   * informer's synced state.
   */
  async waitForCacheSync(timeoutMs?: number): Promise<Map<string, boolean>> {
    const started = this.informers().filter((i) => i.isStarted);
    const results = await Promise.all(started.map((i) => i.waitForSync(timeoutMs)));
    return new Map(started.map((i, n) => [gvrString(i.resource), results[n]!]));
  }

  status(): InformerStatus[] {
    return this.informers().map((i) => i.status());
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.stop()));
    this.client.close();
  }
}
