// Wires a running gateway: kube client -> informer factory -> gateway -> yoga -> HTTP server.
import { AccessReviewer } from "../auth/access-reviewer.ts";
import { TokenAuthenticator } from "../auth/authenticator.ts";
import { KubeClient } from "../informers/client.ts";
import { SharedInformerFactory } from "../informers/factory.ts";
import type { ReflectorLogger } from "../informers/reflector.ts";
import { Gateway, type GatewayOptions } from "../resolvers/gateway.ts";
import { createApp } from "./app.ts";
import { startServer } from "./http.ts";
import { Metrics } from "./metrics.ts";

export interface GatewayServerOptions extends GatewayOptions {
  client: KubeClient;
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
}

export interface GatewayServer {
  url: string;
  port: number;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startGatewayServer(opts: GatewayServerOptions): Promise<GatewayServer> {
  const factory = new SharedInformerFactory(opts.client, {
    logger: opts.logger,
    reflector: { useWatchList: opts.watchList },
  });
  const gateway = new Gateway(factory, opts);
  gateway.start();
  const metrics = new Metrics(gateway);
  const auth =
    opts.auth === "kubernetes"
      ? {
          authenticator: new TokenAuthenticator(opts.client, { ttlMs: opts.tokenCacheTtlMs }),
          reviewer: new AccessReviewer(opts.client, { ttlMs: opts.accessCacheTtlMs }),
        }
      : undefined;
  if (auth) {
    metrics.observeAuthCache("token", { stats: auth.authenticator.cacheStats });
    metrics.observeAuthCache("access", { stats: auth.reviewer.cacheStats });
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
  });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(yoga, gateway, metrics, {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 4000,
      maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection,
      log: opts.logger,
    });
  } catch (err) {
    // e.g. the port is taken: the watches already started would keep the process alive.
    await gateway.stop();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    gateway,
    // Stop accepting; end the subscriptions (each completes) and stop the watches; let
    // requests in flight finish within the grace period; close the rest.
    close: () => {
      closing ??= server.close({ endStreams: () => gateway.stop(), graceMs: opts.shutdownGraceMs });
      return closing;
    },
  };
}

export { KubeClient };
