// Shared-informer scenarios of ../shared/informer-semantics.md (14–19), against the simulator.
import assert from "node:assert/strict";
import { test } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import type { EventHandler } from "../../src/informers/handler-queue.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import {
  clientFor,
  eventually,
  fastReflector,
  informerFor,
  keyRVs,
  pod,
  startSandbox,
} from "../helpers/sandbox.ts";

const defer = useCleanups();
async function setup() {
  const sim = await startSandbox();
  defer(() => sim.stop());
  return sim;
}
async function started(sim: SandboxCluster, opts: Parameters<typeof informerFor>[2] = {}) {
  const informer = await informerFor(sim, "pods", opts);
  defer(() => informer.stop());
  informer.start();
  await informer.waitForSync(5000);
  return informer;
}

/** Records every delivered event as "TYPE name[@rv]" strings. */
function recorder() {
  const log: string[] = [];
  const handler: EventHandler = {
    onAdd: (o, initial) => log.push(`ADDED${initial ? "(initial)" : ""} ${o.metadata.name}`),
    onUpdate: (_old, o) => log.push(`MODIFIED ${o.metadata.name}`),
    onDelete: (o, tombstone) => log.push(`DELETED${tombstone ? "(tombstone)" : ""} ${o.metadata.name}`),
  };
  return { log, handler };
}

test("14. watch disrupted while objects change: handlers see only the changes, and deletes for what vanished", async () => {
  const sim = await setup();
  for (const n of ["keep", "change", "gone"]) sim.create("pods", pod(n));
  const informer = await started(sim);
  const { log, handler } = recorder();
  const reg = informer.addEventHandler(handler);
  await eventually(() => reg.hasSynced(), "the replay");
  log.length = 0;
  sim.faults.stallWatches(true);
  sim.update("pods", { ...sim.get("pods", "default", "change")!, status: { phase: "Succeeded" } });
  sim.delete("pods", "default", "gone");
  sim.create("pods", pod("new"));
  sim.compact(); // the watch cannot resume: a relist is needed
  sim.faults.dropWatches();
  sim.faults.stallWatches(false);
  await eventually(() => log.length === 3, "three events");
  assert.deepEqual(log.sort(), ["ADDED new", "DELETED(tombstone) gone", "MODIFIED change"]);
  assert.deepEqual(keyRVs(informer.store.values()), keyRVs(sim.list("pods")));
});

test("a watch-list's resourceVersion is its closing bookmark's: it does not follow the initial objects, which come in no order", async () => {
  const sim = await setup();
  // Created z first: the replay (by key) brings a newer object before an older one.
  for (const n of ["z", "a"]) sim.create("pods", pod(n));
  const informer = await informerFor(sim, "pods");
  defer(() => informer.stop());
  const seen: string[] = [];
  informer.addSyncListener(() => seen.push(informer.lastSyncResourceVersion));
  informer.start();
  await informer.waitForSync(5000);
  assert.deepEqual(seen, ["", ""], "unchanged while the initial objects arrive");
  assert.equal(informer.lastSyncResourceVersion, sim.currentResourceVersion());
});

test("15. a late handler gets existing objects first; its hasSynced waits for that replay", async () => {
  const sim = await setup();
  for (const n of ["a", "b"]) sim.create("pods", pod(n));
  const informer = await started(sim);
  const { log, handler } = recorder();
  const reg = informer.addEventHandler(handler);
  assert.equal(reg.hasSynced(), false, "not synced before the replay is delivered");
  sim.create("pods", pod("c"));
  await eventually(() => log.length === 3, "replay and live event");
  assert.equal(reg.hasSynced(), true);
  assert.deepEqual(log, ["ADDED(initial) a", "ADDED(initial) b", "ADDED c"]);
});

test("16. addIndexers after start back-fills; byIndex works", async () => {
  const sim = await setup();
  sim.create("pods", pod("a", "default", { tier: "web" }));
  sim.create("pods", pod("b", "default", { tier: "db" }));
  const informer = await started(sim);
  informer.addIndexers({
    tier: (o: KubeObject) => (o.metadata.labels?.tier ? [o.metadata.labels.tier] : []),
  });
  assert.deepEqual(
    informer.store.byIndex("tier", "web").map((o) => o.metadata.name),
    ["a"],
  );
  sim.create("pods", pod("c", "default", { tier: "web" }));
  await eventually(
    () => informer.store.byIndex("tier", "web").length === 2,
    "the index to follow new objects",
  );
});

test("17. the transform runs once per object, before store and handlers", async () => {
  const sim = await setup();
  const seen = new Map<string, number>();
  const transform = (o: KubeObject) => {
    seen.set(o.metadata.resourceVersion, (seen.get(o.metadata.resourceVersion) ?? 0) + 1);
    return { ...o, metadata: { ...o.metadata, labels: { ...o.metadata.labels, transformed: "yes" } } };
  };
  sim.create("pods", { ...pod("a"), metadata: { ...pod("a").metadata, managedFields: [{ manager: "x" }] } });
  const informer = await started(sim, { transform });
  const { handler } = recorder();
  const labels: string[] = [];
  informer.addEventHandler({ ...handler, onAdd: (o) => labels.push(o.metadata.labels?.transformed ?? "no") });
  sim.create("pods", pod("b"));
  await eventually(() => labels.length === 2, "two adds");
  assert.deepEqual(labels, ["yes", "yes"]);
  assert.equal(informer.store.get("default/a")?.metadata.labels?.transformed, "yes");
  assert.deepEqual([...seen.values()], [1, 1], "each object version transformed exactly once");
});

test("17b. the default transform strips managedFields and the last-applied annotation", async () => {
  const sim = await setup();
  const p = pod("a");
  p.metadata.managedFields = [{ manager: "kubectl" }];
  p.metadata.annotations = { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "me" };
  sim.create("pods", p);
  const informer = await started(sim);
  const cached = informer.store.get("default/a")!;
  assert.equal(cached.metadata.managedFields, undefined);
  assert.deepEqual(cached.metadata.annotations, { keep: "me" });
});

test("18. the same handler registered twice gets two registrations; add/remove while events flow has no duplicates", async () => {
  const sim = await setup();
  const informer = await started(sim);
  const { log, handler } = recorder();
  const r1 = informer.addEventHandler(handler);
  const r2 = informer.addEventHandler(handler);
  assert.notEqual(r1, r2);
  sim.create("pods", pod("a"));
  await eventually(() => log.length === 2, "both registrations");
  assert.deepEqual(log, ["ADDED a", "ADDED a"]);
  informer.removeEventHandler(r1);
  // Registrations come and go while events flow: each live one sees each event exactly once.
  const per = new Map<number, string[]>();
  const regs = [];
  for (let i = 0; i < 20; i++) {
    const mine: string[] = [];
    per.set(i, mine);
    regs.push(
      informer.addEventHandler({
        onAdd: (o) => mine.push(o.metadata.name),
        onUpdate: (_o, n) => mine.push(`${n.metadata.name}*`),
      }),
    );
    sim.create("pods", pod(`p${i}`));
    if (i % 3 === 0) informer.removeEventHandler(regs[i]!);
  }
  await eventually(() => informer.store.size === 21, "all objects cached");
  await eventually(() => per.get(19)!.length === 21, "the last registration's replay");
  for (const [i, names] of per) {
    if (i % 3 === 0) continue;
    assert.equal(new Set(names).size, names.length, `registration ${i} saw a duplicate: ${names}`);
    assert.equal(names.length, 21, `registration ${i} saw every object once`);
  }
});

test("19. a throwing handler does not stop the others", async () => {
  const sim = await setup();
  const informer = await started(sim);
  informer.addEventHandler({
    onAdd: () => {
      throw new Error("handler bug");
    },
  });
  const { log, handler } = recorder();
  informer.addEventHandler(handler);
  for (const n of ["a", "b", "c"]) sim.create("pods", pod(n));
  await eventually(() => log.length === 3, "the healthy handler's events");
  assert.deepEqual(log, ["ADDED a", "ADDED b", "ADDED c"]);
});

test("factory: one informer per resource for all consumers; discovery resolves resources; unknown ones fail clearly", async () => {
  const sim = await setup();
  sim.create("pods", pod("a"));
  const factory = new SharedInformerFactory(await clientFor(sim), { reflector: fastReflector });
  defer(() => factory.stop());
  const gvr = { group: "", version: "v1", resource: "pods" };
  const [i1, i2] = await Promise.all([factory.informerFor(gvr), factory.informerFor(gvr)]);
  assert.equal(i1, i2);
  assert.equal(i1.resource.kind, "Pod");
  assert.equal(i1.resource.namespaced, true);
  factory.start();
  const synced = await factory.waitForCacheSync(5000);
  assert.deepEqual([...synced.values()], [true]);
  await assert.rejects(
    factory.informerFor({ group: "", version: "v1", resource: "pots" }),
    /does not serve resource "v1\/pots"/,
  );
  const watchCount = () => sim.requests.filter((r) => r.query.watch && r.path === "/api/v1/pods").length;
  await eventually(() => watchCount() === 1, "the watch");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(watchCount(), 1, "one watch however many consumers");
});

test("factory: an unreachable apiserver gives one clear error and the process keeps running", async () => {
  const sim = await setup();
  const client = await clientFor(sim);
  await sim.stop();
  const factory = new SharedInformerFactory(client, { reflector: fastReflector });
  await assert.rejects(
    factory.informerFor({ group: "", version: "v1", resource: "pods" }),
    /ECONNREFUSED|connect/,
  );
  assert.ok(client instanceof KubeClient);
  client.close();
});
