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
  /** TTL of cached access decisions (SubjectAccessReview), ms. */
  accessCacheTtlMs?: number;
  /** Browser origins allowed cross-origin (CORS); none by default. */
  corsOrigins?: string[];
}

export interface GatewayServer {
  url: string;
  port: number;
  gateway: Gateway;
  close(): Promise<void>;
}

export async function startGatewayServer(opts: GatewayServerOptions): Promise<GatewayServer> {
  const factory = new SharedInformerFactory(opts.client, { logger: opts.logger });
  const gateway = new Gateway(factory, opts);
  gateway.start();
  const metrics = new Metrics(gateway);
  const auth =
    opts.auth === "kubernetes"
      ? {
          authenticator: new TokenAuthenticator(opts.client),
          reviewer: new AccessReviewer(opts.client, { ttlMs: opts.accessCacheTtlMs }),
        }
      : undefined;
  const yoga = createApp(gateway, {
    graphiql: opts.graphiql,
    introspection: opts.introspection,
    metrics,
    auth,
    corsOrigins: opts.corsOrigins,
  });
  const server = await startServer(yoga, gateway, metrics, {
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 4000,
    maxSubscriptionsPerConnection: opts.maxSubscriptionsPerConnection,
    onError: (err) => opts.logger?.warn({ err: String(err) }, "unexpected error answering a request"),
  });
  return {
    url: server.url,
    port: server.port,
    gateway,
    close: async () => {
      await server.close();
      await gateway.stop();
    },
  };
}

export { KubeClient };
