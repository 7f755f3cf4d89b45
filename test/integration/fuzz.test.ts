// The fuzz families (test/helpers/fuzz-{http,wire,sse,ws}.ts) against a gateway on the real
// control plane, where the issue was seen, in a shorter pass (0.15 of the simulator's runs,
// about 270 requests and connections in all). Each family gets its own gateway and namespace
// of kwok pods; the checks between families compare kgql's answers with the apiserver's pods.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import WebSocket from "ws";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  type Json,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { assertRawAcceptable, type FuzzTarget, fuzzParams } from "../helpers/fuzz.ts";
import { fuzzHttp } from "../helpers/fuzz-http.ts";
import { fuzzSse } from "../helpers/fuzz-sse.ts";
import { fuzzWire } from "../helpers/fuzz-wire.ts";
import { fuzzWs } from "../helpers/fuzz-ws.ts";
import { startKgql } from "../helpers/kgql.ts";
import { RawConnection, rawRequest } from "../helpers/raw-http.ts";

const cluster = await getCluster();

/** A namespace with three kwok pods, and a gateway on the cluster that has them cached. */
async function clusterTarget(): Promise<FuzzTarget> {
  const c = cluster as ClusterInfo;
  const ns = await withNamespace("fuzz");
  const spec = await kwokPodSpec(c);
  const podsPath = `/api/v1/namespaces/${ns.name}/pods`;
  for (const name of ["fuzz-a", "fuzz-b", "fuzz-c"])
    await c.api.post(podsPath, { apiVersion: "v1", kind: "Pod", metadata: { name }, spec });
  const kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig));
  const countQuery = `{ pods(namespace: "${ns.name}") { totalCount } }`;
  const pods = async () => ((await c.api.get(podsPath)).body.items as Json[]).length;
  try {
    await kgql.gateway.factory.waitForCacheSync(20_000);
    // The checks compare with the apiserver: start once kgql has caught up with it.
    await waitFor(
      async () => {
        const res = await fetch(kgql.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: countQuery }),
        });
        return ((await res.json()) as { data?: { pods: { totalCount: number } } }).data?.pods.totalCount;
      },
      { message: "kgql to see the namespace's 3 pods", until: (n) => n === 3, timeoutMs: 30_000 },
    );
  } catch (err) {
    await kgql.close();
    await ns.delete();
    throw err;
  }
  return {
    kgql,
    port: Number(new URL(kgql.url).port),
    countQuery,
    pods,
    deletePod: async () => {
      await c.api.delete(`${podsPath}/fuzz-a`, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
      });
      return "fuzz-a";
    },
    close: async () => {
      await kgql.close();
      await ns.delete();
    },
  };
}

describe("fuzz on the real control plane", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  fuzzHttp(clusterTarget, 0.15);
  fuzzWire(clusterTarget, 0.15);
  fuzzSse(clusterTarget, 0.15);
  fuzzWs(clusterTarget, 0.15);
});

// --auth kubernetes: malformed and wrong credentials, over each transport, get 401
// UNAUTHENTICATED (a GraphQL error with that code, or over WebSocket an error or a 4401/4403
// close), never a 5xx; the admin's token still gets the right answer afterwards.
describe("fuzz: credentials with --auth kubernetes", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  let kgql: GatewayServer;
  let port: number;
  let c: ClusterInfo;
  before(async () => {
    c = cluster as ClusterInfo;
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), { auth: "kubernetes" });
    await kgql.gateway.factory.waitForCacheSync(20_000);
    port = Number(new URL(kgql.url).port);
  });
  after(async () => {
    await kgql?.close();
  });

  const credential = fc.oneof(
    fc.constantFrom(
      "",
      "Bearer",
      "Bearer ",
      "bearer x",
      "Basic YWRtaW46YWRtaW4=",
      "Bearer a b",
      "Negotiate x",
    ),
    fc.string({ maxLength: 60 }).map((s) => `Bearer ${s.replace(/[\r\n]/g, "")}`),
    fc.integer({ min: 1000, max: 12_000 }).map((n) => `Bearer ${"t".repeat(n)}`),
    fc
      .uint8Array({ minLength: 1, maxLength: 20 })
      .map((a) => `Bearer ${Buffer.from(a.map((x) => 0x80 | x)).toString("latin1")}`),
  );
  const transport = fc.constantFrom("fast", "yoga-get", "sse", "ws");

  it("bad Authorization headers on every transport (60 runs)", { timeout: 120_000 }, async () => {
    const query = "{ pods { totalCount } }";
    await fc.assert(
      fc.asyncProperty(credential, transport, async (authorization, via) => {
        const what = `${via} Authorization: ${JSON.stringify(authorization.slice(0, 80))}`;
        if (via === "ws") {
          const socket = new WebSocket(kgql.url.replace(/^http/, "ws"), "graphql-transport-ws");
          const received: { type: string; payload?: unknown }[] = [];
          const closed = new Promise<number>((resolve) => {
            socket.on("close", (code) => resolve(code));
            socket.on("error", () => {});
            socket.on("message", (d) => received.push(JSON.parse(d.toString())));
          });
          socket.on("open", () => {
            socket.send(JSON.stringify({ type: "connection_init", payload: { authorization } }));
            socket.send(JSON.stringify({ type: "subscribe", id: "1", payload: { query } }));
          });
          const code = await Promise.race([
            closed,
            new Promise<number>((r) => setTimeout(() => r(-1), 5000)),
          ]);
          socket.terminate();
          const refused =
            code === 4401 ||
            code === 4403 ||
            received.some((m) => m.type === "error" && JSON.stringify(m.payload).includes("UNAUTHENTICATED"));
          assert.ok(refused, `${what}: refused (close ${code}, ${JSON.stringify(received).slice(0, 300)})`);
          return;
        }
        const headers: [string, string][] = [["Authorization", authorization]];
        const bytes =
          via === "yoga-get"
            ? rawRequest("GET", `/graphql?query=${encodeURIComponent(query)}`, [
                ...headers,
                ["Accept", "application/json"],
              ])
            : rawRequest(
                "POST",
                "/graphql",
                [
                  ...headers,
                  ["Content-Type", "application/json"],
                  ["Accept", via === "sse" ? "text/event-stream" : "application/json"],
                ],
                JSON.stringify({ query: via === "sse" ? "subscription { podEvents { type } }" : query }),
              );
        const conn = await RawConnection.open(port);
        try {
          const ex = await conn.exchange([bytes], { timeoutMs: 10_000 });
          const res = ex.responses[0];
          assert.ok(res, `${what}: no response (${ex.ending})`);
          assertRawAcceptable(res, what);
          // Node refuses a header line too large itself (431) before kgql sees it.
          if (res.status !== 431) {
            assert.equal(res.status, 401, `${what}: 401 (${res.body.toString().slice(0, 200)})`);
            assert.match(res.body.toString(), /UNAUTHENTICATED/, what);
          }
        } finally {
          conn.close();
        }
      }),
      fuzzParams(60),
    );
    // The admin's token still gets the right answer.
    const res = await fetch(kgql.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${c.adminToken}` },
      body: JSON.stringify({ query: "{ namespaces { name } }" }),
    });
    const json = (await res.json()) as { data?: { namespaces: { name: string }[] } };
    const names = ((await c.api.get("/api/v1/namespaces")).body.items as Json[]).map((n) => n.metadata.name);
    assert.deepEqual(
      json.data?.namespaces.map((n) => n.name).sort(),
      names.sort(),
      "the admin sees every namespace",
    );
  });
});
