// Every unexpected error (a bug, masked as "Unexpected error." for the caller) is logged with
// one warn line carrying the request id, the operation and the original error with its stack:
// those yoga masks in its own request handling (no envelop hook sees them) as well as a
// resolver's, on yoga's path, the fast paths and WebSocket.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { startKgqlOn } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";

describe("unexpected errors", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  const { lines, logger, linesOf } = captureLog();

  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1 });
    kgql = await startKgqlOn(sim, { logger });
  });
  after(async () => {
    await kgql?.close();
    await sim?.stop();
  });

  const get = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${kgql.url}?${new URLSearchParams(params)}`, {
      headers: { accept: "application/json", ...headers },
    });

  const wsClient = (): Client =>
    createClient({ url: kgql.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });

  it("every unexpected error is logged once, with the request id and the stack", async () => {
    const gateway = kgql.gateway as unknown as { unsyncedKinds: (...a: unknown[]) => unknown };
    const original = gateway.unsyncedKinds;
    // Thrown by a plugin before execution (useCacheSync): yoga masks it in its request handling,
    // where no envelop hook sees it.
    gateway.unsyncedKinds = () => {
      throw new Error("sync check exploded");
    };
    try {
      for (const [name, send] of [
        ["yoga (GET)", () => get({ query: "query Boom { namespaces { name } }" })],
        [
          "yoga (SSE)",
          () =>
            fetch(kgql.url, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                accept: "text/event-stream",
                origin: "http://x",
              },
              body: JSON.stringify({ query: "subscription Boom { podEvents { type } }" }),
            }),
        ],
        [
          "SSE fast path",
          () =>
            fetch(kgql.url, {
              method: "POST",
              headers: { "content-type": "application/json", accept: "text/event-stream" },
              body: JSON.stringify({ query: "subscription Boom { podEvents { type } }" }),
            }),
        ],
        [
          "fast path (JSON POST)",
          () =>
            fetch(kgql.url, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ query: "query Boom { namespaces { name } }" }),
            }),
        ],
      ] as const) {
        const res = await send();
        const text = await res.text();
        assert.match(text, /Unexpected error/, `${name}: masked for the caller`);
        assert.doesNotMatch(text, /exploded/, name);
        const warned = (await linesOf(res.headers.get("x-request-id"))).filter((l) => l.level === "warn");
        assert.equal(warned.length, 1, `${name}: one warn line: ${JSON.stringify(warned)}`);
        assert.match(String(warned[0]!.err), /sync check exploded/, name);
        assert.match(String(warned[0]!.stack), /unexpected-errors\.test\.ts/, name);
      }
    } finally {
      gateway.unsyncedKinds = original;
    }

    // A resolver's error, on yoga's path, the fast path and WebSocket: one line each.
    const discovery = kgql.gateway.factory.discovery as unknown as { resources: unknown };
    const resources = discovery.resources;
    discovery.resources = async () => {
      throw new Error("discovery exploded");
    };
    try {
      const viaGet = await get({ query: "query Api { apiResources { resource } }" });
      const viaPost = await fetch(kgql.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "query Api { apiResources { resource } }" }),
      });
      for (const res of [viaGet, viaPost]) {
        assert.match(await res.text(), /Unexpected error/);
        const logged = await linesOf(res.headers.get("x-request-id"));
        const warned = logged.filter((l) => l.level === "warn");
        assert.equal(warned.length, 1, JSON.stringify(warned));
        assert.match(String(warned[0]!.err), /discovery exploded/);
        assert.equal(warned[0]!.operation, "Api");
        assert.deepEqual(logged.find((l) => l.msg === "request")?.errors, ["INTERNAL"]);
      }
      const before = lines.length;
      const client = wsClient();
      try {
        const result = await new Promise<unknown>((resolve, reject) => {
          let last: unknown;
          client.subscribe(
            { query: "query WsApi { apiResources { resource } }" },
            { next: (v) => (last = v), error: reject, complete: () => resolve(last) },
          );
        });
        assert.match(JSON.stringify(result), /Unexpected error/);
      } finally {
        await client.dispose();
      }
      const until = Date.now() + 3000;
      while (!lines.slice(before).some((l) => l.method === "WEBSOCKET") && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      const wsLine = lines.slice(before).find((l) => l.method === "WEBSOCKET");
      const warned = lines.slice(before).filter((l) => l.level === "warn");
      assert.equal(warned.length, 1, JSON.stringify(warned));
      assert.equal(warned[0]!.reqId, wsLine?.reqId, "with the WebSocket connection's id");
      assert.equal(warned[0]!.operation, "WsApi");
    } finally {
      discovery.resources = resources;
    }
  });

  it("an error in a WebSocket stream is logged with its own operation, not the one the connection ran last", async () => {
    const client = wsClient();
    const gateway = kgql.gateway as unknown as { get: (...a: unknown[]) => unknown };
    const get = gateway.get;
    const before = lines.length;
    try {
      const results: unknown[] = [];
      client.subscribe(
        { query: "subscription Stream { podEvents { type pod { name node { name } } } }" },
        { next: (v) => results.push(v), error: () => {}, complete: () => {} },
      );
      await new Promise((r) => setTimeout(r, 300));
      // Another operation on the same connection, after the stream started.
      await new Promise<void>((resolve, reject) =>
        client.subscribe(
          { query: "query Other { nodes { totalCount } }" },
          { next: () => {}, error: reject, complete: resolve },
        ),
      );
      gateway.get = (kind: unknown, ...rest: unknown[]) => {
        if (kind === "Node") throw new Error("node lookup exploded");
        return get.call(kgql.gateway, kind, ...rest);
      };
      const pod = sim.list("pods")[0]!;
      sim.update("pods", {
        ...pod,
        metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, poke: "1" } },
      });
      const until = Date.now() + 3000;
      while (!lines.slice(before).some((l) => l.level === "warn") && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      const warned = lines.slice(before).filter((l) => l.level === "warn");
      assert.equal(warned.length, 1, JSON.stringify(warned));
      assert.match(String(warned[0]!.err), /node lookup exploded/);
      assert.equal(warned[0]!.operation, "Stream");
      // The log line is written before the event reaches the client: wait for the event too.
      const delivered = Date.now() + 3000;
      while (results.length === 0 && Date.now() < delivered) await new Promise((r) => setTimeout(r, 10));
      assert.match(JSON.stringify(results.at(-1)), /Unexpected error/);
    } finally {
      gateway.get = get;
      await client.dispose();
    }
  });
});
