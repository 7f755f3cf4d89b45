// Test helpers: a kgql server in-process and GraphQL clients over HTTP, SSE and WebSocket.
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
import type { KubeClient } from "../../src/informers/client.ts";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import { type GatewayServer, type GatewayServerOptions, startGatewayServer } from "../../src/server/index.ts";
import { clientFor } from "./sandbox.ts";

export async function startKgql(
  client: KubeClient,
  opts: Partial<Omit<GatewayServerOptions, "client">> = {},
): Promise<GatewayServer> {
  return startGatewayServer({ client, port: 0, ...opts });
}

/** kgql on a simulated cluster, returned once its caches have synced. */
export async function startKgqlOn(
  sim: SandboxCluster,
  opts: Partial<Omit<GatewayServerOptions, "client">> = {},
): Promise<GatewayServer> {
  const kgql = await startKgql(await clientFor(sim), opts);
  try {
    await kgql.gateway.factory.waitForCacheSync(5000);
  } catch (err) {
    await kgql.close();
    throw err;
  }
  return kgql;
}

/**
 * kgql serving simulated clusters by name (the first is the default), returned once every
 * one of them has synced.
 */
export async function startKgqlOnClusters(
  sims: Record<string, SandboxCluster>,
  opts: Partial<Omit<GatewayServerOptions, "client" | "clusters">> = {},
): Promise<GatewayServer> {
  const clusters = await Promise.all(
    Object.entries(sims).map(async ([name, sim]) => ({ name, client: await clientFor(sim) })),
  );
  const kgql = await startKgql(undefined as never, { ...opts, clusters });
  try {
    for (const g of kgql.clusters.all()) await g.factory.waitForCacheSync(5000);
  } catch (err) {
    await kgql.close();
    throw err;
  }
  return kgql;
}

export interface GqlResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected freely
  data?: any;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
  text: string;
}

/** A GraphQL POST; with a token, as that caller (the Authorization header). */
export async function gql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  opts: { token?: string } = {},
): Promise<GqlResult> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, text, ...JSON.parse(text) };
}

/** kgql_limit_rejections_total for one limit, read from the gateway's /metrics (0 when absent). */
export async function limitRejections(url: string, limit: string): Promise<number> {
  const text = await (await fetch(url.replace(/\/graphql$/, "/metrics"))).text();
  const line = text.split("\n").find((l) => l.startsWith(`kgql_limit_rejections_total{limit="${limit}"} `));
  return line ? Number(line.split(" ")[1]) : 0;
}

export interface Collected {
  // biome-ignore lint/suspicious/noExplicitAny: payloads are inspected freely
  events: any[];
  errors: unknown[];
  done: boolean;
  stop(): void;
}

/**
 * Subscribes over SSE or WebSocket and collects payload data until stopped; with a token, as
 * that caller (the Authorization header, or graphql-ws connectionParams).
 */
export function subscribe(
  transport: "sse" | "ws",
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  opts: { token?: string } = {},
): Collected {
  const authorization = opts.token ? `Bearer ${opts.token}` : undefined;
  const out: Collected = { events: [], errors: [], done: false, stop: () => {} };
  const sink = {
    next: (v: { data?: unknown; errors?: unknown[] }) => {
      if (v.errors) out.errors.push(...v.errors);
      if (v.data) out.events.push(Object.values(v.data as object)[0]);
    },
    error: (e: unknown) => {
      out.errors.push(e);
      out.done = true;
    },
    complete: () => {
      out.done = true;
    },
  };
  if (transport === "sse") {
    const client = createSseClient({
      url,
      retryAttempts: 0,
      ...(authorization ? { headers: { authorization } } : {}),
    });
    const unsubscribe = client.subscribe({ query, variables }, sink as never);
    out.stop = () => {
      unsubscribe();
      client.dispose();
    };
  } else {
    const client = createWsClient({
      url: url.replace(/^http/, "ws"),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      ...(authorization ? { connectionParams: { authorization } } : {}),
    });
    const unsubscribe = client.subscribe({ query, variables }, sink as never);
    out.stop = () => {
      unsubscribe();
      void client.dispose();
    };
  }
  return out;
}
