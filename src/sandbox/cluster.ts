// SandboxCluster: the simulated cluster as one object. It owns the store, serves it over HTTP
// like kube-apiserver (list/watch protocol, discovery, paging, bookmarks, watch-list), offers an
// in-process API to change objects, and injects faults on demand. kgql connects to it with a
// kubeconfig exactly as to a real cluster.
import { writeFile } from "node:fs/promises";
import type { GroupVersionResource, KubeObject } from "../informers/types.ts";
import { FailRules, type SandboxFaults } from "./faults.ts";
import { ApiServer, mergePatch, type RequestRecord } from "./http.ts";
import { Lister } from "./list.ts";
import { type ResourceDefinition, ResourceTable, type SandboxResource } from "./resources.ts";
import { ObjectStore } from "./store.ts";
import { WatchHub } from "./watch.ts";

export interface SandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** How often watches with allowWatchBookmarks get a BOOKMARK (default 60000, like the apiserver). */
  bookmarkIntervalMs?: number;
  /** Changes kept for watch resumption and consistent paging (default 10000). */
  historyLimit?: number;
  /** Whether watch-list (sendInitialEvents) is served, like the WatchList feature gate (default true). */
  supportsWatchList?: boolean;
  /** When set, API requests need "Authorization: Bearer <token>". */
  token?: string;
  /** Entries kept in `requests` (default 10000). */
  requestLogLimit?: number;
  /** A watch with more unsent output than this is closed, as the cacher drops slow watchers (default 64 MiB). */
  maxWatchBufferBytes?: number;
}

export class SandboxCluster {
  readonly resources = new ResourceTable();
  /** Every request received, oldest first (bounded by requestLogLimit). */
  readonly requests: RequestRecord[] = [];
  readonly faults: SandboxFaults;
  private readonly host: string;
  private readonly token: string | undefined;
  private readonly store: ObjectStore;
  private readonly lister: Lister;
  private readonly watches: WatchHub;
  private readonly failRules = new FailRules();
  private readonly server: ApiServer;
  private port: number;
  private started = false;

  constructor(opts: SandboxOptions = {}) {
    this.host = opts.host ?? "127.0.0.1";
    this.port = opts.port ?? 0;
    this.token = opts.token;
    this.store = new ObjectStore(opts.historyLimit ?? 10_000);
    this.lister = new Lister(this.store);
    this.watches = new WatchHub(this.store, {
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000,
      maxBufferedBytes: opts.maxWatchBufferBytes ?? 64 * 1024 * 1024,
    });
    this.server = new ApiServer({
      table: this.resources,
      store: this.store,
      lister: this.lister,
      watches: this.watches,
      failRules: this.failRules,
      requests: this.requests,
      requestLogLimit: opts.requestLogLimit ?? 10_000,
      token: opts.token,
      supportsWatchList: opts.supportsWatchList ?? true,
    });
    this.faults = {
      dropWatches: () => this.watches.dropAll(),
      stallWatches: (on) => this.watches.stall(on),
      failNext: (rule) => this.failRules.add(rule),
      refuseConnections: async (on) => {
        if (on) {
          this.watches.closeAll();
          await this.server.close();
        } else if (this.started && !this.server.listening) {
          await this.server.listen(this.host, this.port);
        }
      },
      expireContinueTokens: () => this.lister.expireContinueTokens(),
      sendWatchError410: () => {
        this.store.compact();
        this.watches.expireAll();
      },
      reset: () => {
        this.failRules.clear();
        this.watches.stall(false);
      },
    };
  }

  /** http://<host>:<port>, once started. */
  get url(): string {
    if (!this.port) throw new Error("sandbox: not started");
    return `http://${this.host.includes(":") ? `[${this.host}]` : this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.server.listening) return;
    await this.server.listen(this.host, this.port);
    this.port = this.server.port;
    this.started = true;
  }

  /** Open watches per resource (see WatchHub.openWatches). */
  openWatches(): Map<string, number> {
    return this.watches.openWatches();
  }

  /** Ends every watch and connection and stops listening. The state is kept; start() serves it again. */
  async stop(): Promise<void> {
    this.started = false;
    this.watches.closeAll();
    await this.server.close();
  }

  /** A kubeconfig for this cluster (context "sandbox"), with the bearer token if one is set. */
  kubeconfig(): string {
    const user = this.token ? `\n    token: ${JSON.stringify(this.token)}` : " {}";
    return `apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: ${this.url}
    # Plain HTTP on loopback: client-node only accepts http:// with this flag set.
    insecure-skip-tls-verify: true
users:
- name: sandbox
  user:${user}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox
current-context: sandbox
`;
  }

  async writeKubeconfig(path: string): Promise<void> {
    await writeFile(path, this.kubeconfig(), { mode: 0o600 });
  }

  // --- in-process API (throws SandboxError with the apiserver's Status on conflicts) ------------

  /** Serves another resource, as installing a CRD would. */
  registerResource(def: ResourceDefinition): SandboxResource {
    return this.resources.register(def);
  }

  /**
   * Creates an object; resourceVersion, uid (unless given), creationTimestamp (unless given) and
   * generation are set by the server. Objects passed in or returned must not be mutated.
   */
  create(resource: string | GroupVersionResource, obj: KubeObject): KubeObject {
    return this.store.create(this.resources.resolve(resource), obj);
  }

  /** Replaces an object; a stale metadata.resourceVersion gets 409 Conflict, an empty one always wins. */
  update(resource: string | GroupVersionResource, obj: KubeObject): KubeObject {
    return this.store.update(this.resources.resolve(resource), obj);
  }

  /** Applies a JSON merge patch (RFC 7386) to the current object. */
  patch(
    resource: string | GroupVersionResource,
    namespace: string | undefined,
    name: string,
    patch: Record<string, unknown>,
  ): KubeObject {
    const res = this.resources.resolve(resource);
    const current = this.store.get(res, namespace, name);
    const merged = (current ? mergePatch(current, patch) : patch) as KubeObject;
    return this.store.update(res, {
      ...merged,
      metadata: { ...merged.metadata, name, namespace, resourceVersion: "" },
    });
  }

  /** Deletes at once; returns the deleted object (with the deletion's RV), or undefined if absent. */
  delete(
    resource: string | GroupVersionResource,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    return this.store.delete(this.resources.resolve(resource), namespace, name);
  }

  get(
    resource: string | GroupVersionResource,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    return this.store.get(this.resources.resolve(resource), namespace, name);
  }

  /** Current objects sorted by namespace/name; one namespace's when given (ignored for cluster-scoped kinds). */
  list(resource: string | GroupVersionResource, namespace?: string): KubeObject[] {
    const res = this.resources.resolve(resource);
    return this.store.collection(res).inOrder(res.namespaced ? namespace : undefined);
  }

  currentResourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** etcd compaction: every RV before now becomes too old to watch from, page at or list exactly. */
  compact(): void {
    this.store.compact();
  }
}
