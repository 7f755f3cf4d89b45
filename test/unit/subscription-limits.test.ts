// Subscription bounds: global and per-connection caps with clear errors, and memory that
// stays flat while many subscribers (some never reading) receive heavy churn.
import assert from "node:assert/strict";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { limitRejections, type startKgql, startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { eventually, pod } from "../helpers/sandbox.ts";

const defer = useCleanups();

async function setup(opts: Parameters<typeof startKgql>[1] = {}, historyLimit = 10_000) {
  const sim = new SandboxCluster({ historyLimit });
  await sim.start();
  defer(() => sim.stop());
  const kgql: GatewayServer = await startKgqlOn(sim, opts);
  defer(() => kgql.close());
  return { sim, kgql };
}

test("the gateway-wide subscription cap rejects the next subscription with LIMIT_EXCEEDED", async () => {
  const { kgql } = await setup({ maxSubscriptions: 2 });
  const q = "subscription { podEvents { type } }";
  const subs = [subscribe("sse", kgql.url, q), subscribe("sse", kgql.url, q)];
  defer(() => {
    for (const s of subs) s.stop();
  });
  await eventually(() => kgql.gateway.subscriberCount() === 2, "two subscriptions");
  const third = subscribe("ws", kgql.url, q);
  defer(() => third.stop());
  await eventually(() => third.errors.length > 0, "the third to be refused");
  assert.match(JSON.stringify(third.errors), /at most 2 at once/);
  assert.match(JSON.stringify(third.errors), /LIMIT_EXCEEDED/);
  assert.equal(await limitRejections(kgql.url, "maxSubscriptions"), 1);
});

test("one WebSocket connection may hold at most maxSubscriptionsPerConnection streams", async () => {
  const { kgql } = await setup({ maxSubscriptionsPerConnection: 3 });
  const client = createClient({
    url: kgql.url.replace("http", "ws"),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
  });
  defer(() => client.dispose());
  const errors: unknown[] = [];
  const stops = [];
  for (let i = 0; i < 4; i++) {
    stops.push(
      client.subscribe(
        { query: "subscription { podEvents { type } }" },
        { next() {}, error: (e) => errors.push(e), complete() {} },
      ),
    );
  }
  await eventually(() => errors.length === 1, "the fourth to be refused");
  assert.match(JSON.stringify(errors), /at most 3/);
  assert.equal(await limitRejections(kgql.url, "maxSubscriptionsPerConnection"), 1);
  for (const stop of stops) stop();
});

test("subscriptions refused as invalid give their place on the connection back", async () => {
  const { kgql } = await setup({ maxSubscriptionsPerConnection: 3 });
  const client = createClient({
    url: kgql.url.replace("http", "ws"),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
  });
  defer(() => client.dispose());
  const subscribeOnce = (query: string) =>
    new Promise<unknown>((resolve) => {
      client.subscribe({ query }, { next() {}, error: resolve, complete: () => resolve("complete") });
    });
  // Five documents that do not validate, one after the other, on the same connection.
  for (let i = 0; i < 5; i++) {
    assert.match(JSON.stringify(await subscribeOnce("subscription { noSuchField }")), /noSuchField/);
  }
  const valid: unknown[] = [];
  const stop = client.subscribe(
    { query: "subscription { podEvents { type } }" },
    { next() {}, error: (e) => valid.push(e), complete() {} },
  );
  defer(stop);
  await eventually(() => kgql.gateway.subscriberCount() === 1, "the valid subscription to start");
  assert.deepEqual(valid, [], "not refused for the invalid ones before it");
});

test("memory stays flat under churn with many subscribers, including ones that never read", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const { sim, kgql } = await setup({ historySize: 1000 }, 1000);
  for (let i = 0; i < 200; i++) sim.create("pods", pod(`p${i}`, "default", { app: i % 2 ? "a" : "b" }));
  await eventually(() => kgql.gateway.informer("Pod").store.size === 200, "cache");
  // 100 subscribers in-process through the hub: half drain, half never read (they overflow).
  const hub = kgql.gateway.hub(kgql.gateway.informer("Pod"));
  const subs = Array.from({ length: 100 }, (_, i) =>
    hub.subscribe({ filter: () => true, bufferLimit: 200, initial: i % 2 === 0 }),
  );
  const draining = subs.filter((_, i) => i % 2 === 0);
  let delivered = 0;
  for (const s of draining) {
    void (async () => {
      for await (const _ of s) delivered++;
    })();
  }
  const churn = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const p = sim.get("pods", "default", `p${i % 200}`)!;
      sim.update("pods", {
        ...p,
        metadata: { ...p.metadata, labels: { ...p.metadata.labels, n: String(i) } },
      });
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await eventually(
      () => kgql.gateway.informer("Pod").lastSyncResourceVersion === sim.currentResourceVersion(),
      "the cache to catch up",
      20_000,
    );
    await new Promise((r) => setTimeout(r, 100));
  };
  await churn(5000);
  gc();
  const after5k = process.memoryUsage().heapUsed;
  await churn(20_000);
  gc();
  const after25k = process.memoryUsage().heapUsed;
  const growthMB = (after25k - after5k) / 2 ** 20;
  assert.ok(delivered > 20_000 * 10, `draining subscribers received events (${delivered})`);
  for (const s of subs) assert.ok(s.depth <= 200 + 200 + 1, `buffer bounded (depth ${s.depth})`);
  assert.ok(growthMB < 15, `heap grew ${growthMB.toFixed(1)} MB over 20k more events`);
  for (const s of subs) s.close();
});
