// Wires a running gateway: kube client -> informer factory -> gateway -> yoga -> HTTP server.
import { AccessReviewer } from "../auth/access-reviewer.ts";
import { TokenAuthenticator } from "../auth/authenticator.ts";
import { ClusterRegistry } from "../clusters/registry.ts";
import { KubeClient } from "../informers/client.ts";
import { SharedInformerFactory } from "../informers/factory.ts";
import type { ReflectorLogger } from "../informers/reflector.ts";
import { userError } from "../resolvers/errors.ts";
import { DEFAULT_CLUSTER_NAME, Gateway, type GatewayOptions } from "../resolvers/gateway.ts";
import { schemaNames } from "../schema/index.ts";
import { TypedResources } from "../typed/registry.ts";
import { createApp } from "./app.ts";
import { startServer } from "./http.ts";
import { Metrics } from "./metrics.ts";
import { loadUiAssets } from "./ui.ts";

/** One cluster of several (--cluster NAME=...). */
export interface NamedCluster {
  name: string;
  client: KubeClient;
}

export interface GatewayServerOptions extends GatewayOptions {
  /** The one cluster served (named `cluster`, default "default"); or give `clusters`. */
  client?: KubeClient;
  /** Several clusters, the default one first (then `client` and `cluster` are not used). */
  clusters?: NamedCluster[];
  host?: string;
  port?: number;
  graphiql?: boolean;
  logger?: ReflectorLogger;
  maxSubscriptionsPerConnection?: number;
  auth?: "none" | "kubernetes";
  introspection?: boolean;
  /** Sync through watch-list streams (the default) rather than paged lists then watches. */
  watchList?: boolean;
  /** TTL of cached access decisions (SubjectAccessReview), ms. */
  accessCacheTtlMs?: number;
  /** TTL of cached token decisions (TokenReview), ms. */
  tokenCacheTtlMs?: number;
  /** Browser origins allowed cross-origin (CORS); none by default. */
  corsOrigins?: string[];
  /** Refuse queries whose estimated cost exceeds this (default DEFAULT_MAX_COST). */
  maxCost?: number;
  /** Answer every request within this many ms (default 30 s). */
  requestTimeoutMs?: number;
  /** How long shutdown lets requests in flight finish (ms, default 5 s). */
  shutdownGraceMs?: number;
  /** Execution time (ms) from which a query takes turns with other big ones (see big-query-lane.ts). */
  bigQueryMs?: number;
  /**
   * Scoped mode (--namespaces): watch the namespaced kinds only in these namespaces, in every
   * cluster served; cluster-scoped kinds stay cluster-wide.
   */
  namespaces?: readonly string[];
  /** Serve the topology page at /ui (default true). */
  ui?: boolean;
  /** Where its built files are (default dist/ui, see scripts/build-ui.ts). */
  uiDir?: string;
  /** Serve mutations (--enable-mutations): written as the caller, audited to `logger`. */
  enableMutations?: boolean;
  /**
   * --resources: served resources to type from the default cluster's OpenAPI. Throws
   * ResourceEntryError for an entry that cannot be parsed or is not served.
   */
  resources?: readonly string[];
}

export interface GatewayServer {
  url: string;
  port: number;
  /** The default cluster's. */
  gateway: Gateway;
  clusters: ClusterRegistry;
  /** The typed resources (--resources), when any are enabled. */
  typed?: TypedResources;
  close(): Promise<void>;
}

export async function startGatewayServer(opts: GatewayServerOptions): Promise<GatewayServer> {
  const named: NamedCluster[] =
    opts.clusters ??
    (opts.client ? [{ name: opts.cluster ?? DEFAULT_CLUSTER_NAME, client: opts.client }] : []);
  if (named.length === 0) throw new Error("startGatewayServer needs a client or clusters");
  const gateways = named.map(({ name, client }, i) => {
    const factory = new SharedInformerFactory(client, {
      logger: named.length > 1 ? clusterLogger(opts.logger, name) : opts.logger,
      reflector: { useWatchList: opts.watchList },
      namespaces: opts.namespaces?.length ? opts.namespaces : undefined,
      // The default cluster's objects are untagged (cluster-tag.ts).
      cluster: i === 0 ? undefined : name,
    });
    return new Gateway(factory, { ...opts, cluster: name });
  });
  const clusters = new ClusterRegistry(gateways);
  const gateway = clusters.default;
  clusters.start();
  const client = gateway.factory.client;
  let typed: TypedResources | undefined;
  if (opts.resources?.length) {
    try {
      typed = new TypedResources({
        client,
        discovery: gateway.factory.discovery,
        entries: opts.resources,
        names: schemaNames(),
        logger: opts.logger,
      });
      await typed.load();
      await typed.watch();
      // Streams of a resource no longer served end with why (others, and other fields, go on),
      // and its informer stops: it would retry a resource that is gone, and show as unhealthy.
      typed.onChange((_schema, removed) => {
        for (const { kind, why } of removed) {
          const gvr = { group: kind.group, version: kind.version, resource: kind.resource };
          const informer = gateway.factory.get(gvr);
          if (!informer) continue;
          gateway.hub(informer).endSubscribers(userError(why, "RESOURCE_REMOVED"));
          void gateway.factory.remove(gvr);
        }
      });
    } catch (err) {
      await Promise.all([clusters.stop(), typed?.stop()]);
      throw err;
    }
  }
  const metrics = new Metrics(clusters.all());
  // A token is valid only in the cluster that issued it: each cluster has its own reviewers
  // (and caches), and decides for itself.
  const clusterAuth =
    opts.auth === "kubernetes"
      ? new Map(
          clusters.all().map((g) => [
            g.cluster,
            {
              authenticator: new TokenAuthenticator(g.factory.client, { ttlMs: opts.tokenCacheTtlMs }),
              reviewer: new AccessReviewer(g.factory.client, { ttlMs: opts.accessCacheTtlMs }),
            },
          ]),
        )
      : undefined;
  const auth = clusterAuth ? { ...clusterAuth.get(gateway.cluster)!, clusters: clusterAuth } : undefined;
  if (clusterAuth) {
    for (const [cluster, a] of clusterAuth) {
      metrics.observeAuthCache("token", { stats: a.authenticator.cacheStats }, cluster);
      metrics.observeAuthCache("access", { stats: a.reviewer.cacheStats }, cluster);
    }
  }
  const yoga = createApp(gateway, {
    graphiql: opts.graphiql,
    introspection: opts.introspection,
    metrics,
    auth,
    corsOrigins: opts.corsOrigins,
    maxCost: opts.maxCost,
    requestTimeoutMs: opts.requestTimeoutMs,
    log: opts.logger,
    bigQueryMs: opts.bigQueryMs,
    clusters,
    mutations: opts.enableMutations,
    typed,
  });
  const ui = opts.ui === false ? undefined : loadUiAssets(opts.uiDir);
  if (ui && "missing" in ui) opts.logger?.warn({ path: "/ui" }, `${ui.missing}; /ui answers 503 until then`);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(yoga, gateway, metrics, {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 4000,
      maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection,
      otherClusters: clusters.all().slice(1),
      log: opts.logger,
      ui,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
  } catch (err) {
    // e.g. the port is taken: the watches already started would keep the process alive.
    await Promise.all([clusters.stop(), typed?.stop()]);
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    gateway,
    clusters,
    typed,
    // Stop accepting; end the subscriptions (each completes) and stop the watches; let
    // requests in flight finish within the grace period; close the rest.
    close: () => {
      closing ??= server.close({
        endStreams: async () => {
          await Promise.all([clusters.stop(), typed?.stop()]);
        },
        graceMs: opts.shutdownGraceMs,
      });
      return closing;
    },
  };
}

/** Log lines of one cluster's informers say which cluster. */
function clusterLogger(logger: ReflectorLogger | undefined, cluster: string): ReflectorLogger | undefined {
  if (!logger) return undefined;
  return {
    info: (fields, msg) => logger.info({ cluster, ...fields }, msg),
    warn: (fields, msg) => logger.warn({ cluster, ...fields }, msg),
    debug: (fields, msg) => logger.debug?.({ cluster, ...fields }, msg),
  };
}

export { KubeClient };
