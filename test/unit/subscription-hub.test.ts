// The subscription hub: initial state without a gap, resume from history, RESYNC when history
// or the buffer is exceeded, relist changes reaching subscribers, filtered views.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SharedInformer } from "../../src/informers/shared-informer.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { ResourceEventHub, type Subscription } from "../../src/subscriptions/hub.ts";
import type { StreamEvent } from "../../src/subscriptions/types.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { eventually, informerFor, pod, startSandbox } from "../helpers/sandbox.ts";

const defer = useCleanups();

async function setup(historySize = 100, useWatchList = true) {
  const sim = await startSandbox();
  defer(() => sim.stop());
  const informer = await informerFor(sim, "pods", { reflector: { useWatchList } });
  defer(() => informer.stop());
  informer.start();
  await informer.waitForSync(5000);
  const hub = new ResourceEventHub(informer, { historySize });
  defer(() => hub.close());
  return { sim, informer, hub };
}

/** Collects a subscription's events as "TYPE name" strings, in the background. */
function collect(sub: Subscription) {
  const events: StreamEvent[] = [];
  void (async () => {
    for await (const e of sub) events.push(e);
  })();
  const names = () => events.map((e) => ("object" in e ? `${e.type} ${e.object.metadata.name}` : e.type));
  return { events, names };
}
const all = () => true;
const app = (value: string) => (o: KubeObject) => o.metadata.labels?.app === value;

test("initial: current objects as ADDED, then SYNCED, then live events, nothing lost or doubled", async () => {
  const { sim, hub } = await setup();
  for (const n of ["a", "b"]) sim.create("pods", pod(n));
  await eventually(() => hub.informer.store.size === 2, "cache");
  const sub = hub.subscribe({ filter: all, initial: true });
  // A change in the same turn as the subscription must come after the snapshot, once.
  sim.create("pods", pod("c"));
  const { names, events } = collect(sub);
  await eventually(() => names().includes("ADDED c"), "the live event");
  assert.deepEqual(names(), ["ADDED a", "ADDED b", "SYNCED", "ADDED c"]);
  assert.equal((events[0] as { initial: boolean }).initial, true);
  assert.equal((events[3] as { initial: boolean }).initial, false);
  sub.close();
});

test("filters: objects entering or leaving the selection are ADDED/DELETED for that view", async () => {
  const { sim, hub } = await setup();
  sim.create("pods", pod("a", "default", { app: "web" }));
  await eventually(() => hub.informer.store.size === 1, "cache");
  const { names } = collect(hub.subscribe({ filter: app("web"), initial: true }));
  sim.update("pods", {
    ...sim.get("pods", "default", "a")!,
    metadata: { ...sim.get("pods", "default", "a")!.metadata, labels: { app: "db" } },
  });
  sim.create("pods", pod("other", "default", { app: "db" }));
  const a = sim.get("pods", "default", "a")!;
  sim.update("pods", { ...a, metadata: { ...a.metadata, labels: { app: "web" } } });
  await eventually(() => names().length === 4, "four events");
  assert.deepEqual(names(), ["ADDED a", "SYNCED", "DELETED a", "ADDED a"]);
});

test("resume: a client reconnecting with its last resourceVersion gets exactly what it missed", async () => {
  const { sim, hub } = await setup();
  const first = hub.subscribe({ filter: all, initial: true });
  const { events } = collect(first);
  sim.create("pods", pod("a"));
  await eventually(() => events.length === 2, "SYNCED + ADDED a");
  const last = events.at(-1)!;
  first.close();
  sim.create("pods", pod("b"));
  sim.delete("pods", "default", "a");
  await eventually(() => hub.informer.store.size === 1 && !hub.informer.store.has("default/a"), "cache");
  const { names } = collect(hub.subscribe({ filter: all, resumeFrom: last.resourceVersion }));
  await eventually(() => names().length === 3, "missed events");
  assert.deepEqual(names(), ["ADDED b", "DELETED a", "SYNCED"]);
});

test("resume from a position no longer in history: RESYNC, then the current state", async () => {
  const { sim, hub } = await setup(3);
  const { events } = collect(hub.subscribe({ filter: all, initial: true }));
  await eventually(() => events.length === 1, "SYNCED");
  const old = events[0]!.resourceVersion;
  for (let i = 0; i < 6; i++) sim.create("pods", pod(`p${i}`));
  await eventually(() => hub.informer.store.size === 6, "cache");
  const { names } = collect(hub.subscribe({ filter: all, resumeFrom: old }));
  await eventually(() => names().at(-1) === "SYNCED", "resync snapshot");
  assert.equal(names()[0], "RESYNC");
  assert.deepEqual(
    names().slice(1, -1).sort(),
    ["p0", "p1", "p2", "p3", "p4", "p5"].map((n) => `ADDED ${n}`),
  );
});

test("resume from a position the gateway has not reached: RESYNC naming it, then the current state", async () => {
  const { sim, hub } = await setup();
  sim.create("pods", pod("a"));
  await eventually(() => hub.informer.store.size === 1, "cache");
  const ahead = (BigInt(hub.position()) + 1000n).toString();
  const { events, names } = collect(hub.subscribe({ filter: all, resumeFrom: ahead }));
  await eventually(() => names().at(-1) === "SYNCED", "resync snapshot");
  assert.deepEqual(names(), ["RESYNC", "ADDED a", "SYNCED"]);
  assert.match(JSON.stringify(events[0]), new RegExp(`${ahead} is newer than the gateway's position`));
  // Later events continue from the gateway's own positions, below the one asked for.
  sim.create("pods", pod("b"));
  await eventually(() => names().at(-1) === "ADDED b", "a live event");
});

test("a resume point a little ahead (another replica's) is waited for, then replayed without RESYNC", async () => {
  const { sim, hub } = await setup();
  sim.create("pods", pod("a"));
  await eventually(() => hub.informer.store.size === 1, "cache");
  const next = (BigInt(hub.position()) + 1n).toString();
  setTimeout(() => sim.create("pods", pod("b")), 100); // this gateway reaches it shortly
  assert.equal(await hub.reach(next), true);
  const { names } = collect(hub.subscribe({ filter: all, resumeFrom: next }));
  await eventually(() => names().length > 0, "the answer");
  assert.deepEqual(names(), ["SYNCED"], "the client had seen b");
  // One never reached: false after the wait (subscribe then sends RESYNC).
  assert.equal(await hub.reach((BigInt(hub.position()) + 1000n).toString(), 100), false);
});

test("a slow subscriber overflowing its buffer gets RESYNC + current state; others are unaffected", async () => {
  const { sim, hub } = await setup();
  const slow = hub.subscribe({ filter: all, bufferLimit: 5 });
  const fast = collect(hub.subscribe({ filter: all, bufferLimit: 1000 }));
  for (let i = 0; i < 20; i++) sim.create("pods", pod(`p${i}`));
  await eventually(() => fast.names().length === 20, "the fast subscriber's events");
  assert.ok(slow.depth <= 5, "the slow buffer stays bounded");
  const first = await slow.next();
  assert.equal(first.value?.type, "RESYNC");
  const rest: string[] = [];
  for (;;) {
    const { value } = await slow.next();
    if (value!.type === "SYNCED") break;
    rest.push((value as { object: KubeObject }).object.metadata.name);
  }
  assert.equal(rest.length, 20, "the resync carries the full current state");
});

test("after the informer relists (410), subscribers receive the synthesized DELETED/ADDED/MODIFIED", async () => {
  const { sim, hub } = await setup();
  for (const n of ["keep", "change", "gone"]) sim.create("pods", pod(n));
  await eventually(() => hub.informer.store.size === 3, "cache");
  const { names } = collect(hub.subscribe({ filter: all }));
  sim.faults.stallWatches(true);
  sim.update("pods", { ...sim.get("pods", "default", "change")!, status: { phase: "Failed" } });
  sim.delete("pods", "default", "gone");
  sim.create("pods", pod("new"));
  sim.faults.sendWatchError410();
  sim.faults.stallWatches(false);
  await eventually(() => names().length === 3, "three synthesized events");
  assert.deepEqual(names().sort(), ["ADDED new", "DELETED gone", "MODIFIED change"]);
});

for (const [mode, useWatchList] of [
  ["watch-list", true],
  ["list+watch", false],
] as const) {
  test(`a deletion only a relist (${mode}) finds reaches a client resuming from before it: its position is the relist's`, async () => {
    const { sim, hub } = await setup(100, useWatchList);
    for (const n of ["keep", "gone"]) sim.create("pods", pod(n));
    await eventually(() => hub.informer.store.size === 2, "cache");
    const first = collect(hub.subscribe({ filter: all, initial: true }));
    await eventually(() => first.names().at(-1) === "SYNCED", "the initial state");
    const held = first.events.at(-1)!.resourceVersion;
    for (const e of first.events) assert.ok(BigInt(e.resourceVersion) <= BigInt(held));
    // The client goes away; meanwhile a deletion the watch misses, found by the relist after a 410.
    sim.faults.stallWatches(true);
    sim.delete("pods", "default", "gone");
    sim.faults.sendWatchError410();
    sim.faults.stallWatches(false);
    await eventually(() => !hub.informer.store.has("default/gone"), "the relist");
    const resumed = collect(hub.subscribe({ filter: all, resumeFrom: held }));
    await eventually(() => resumed.names().at(-1) === "SYNCED", "the replay");
    assert.deepEqual(resumed.names(), ["DELETED gone", "SYNCED"]);
  });
}

test("the stream position never goes back, though the informer's resourceVersion may (a relist replaying older objects)", () => {
  // Only what the hub reads of an informer: its resourceVersion, a store, its sync listeners.
  const informer = {
    lastSyncResourceVersion: "1000",
    store: { values: () => [][Symbol.iterator]() },
    addSyncListener: () => () => {},
  };
  const hub = new ResourceEventHub(informer as unknown as SharedInformer);
  hub.subscribe({ filter: all }).close();
  informer.lastSyncResourceVersion = "5000"; // a bookmark
  assert.equal(hub.position(), "5000");
  informer.lastSyncResourceVersion = "1200"; // an older object replayed by a relist
  assert.equal(hub.position(), "5000");
  // A client holding 5000 resumes without a RESYNC: nothing newer happened.
  const resumed = collect(hub.subscribe({ filter: all, resumeFrom: "5000" }));
  return eventually(() => resumed.names().length > 0, "the answer").then(() =>
    assert.deepEqual(resumed.names(), ["SYNCED"]),
  );
});

test("one informer and one listener for any number of subscribers", async () => {
  const { sim, hub } = await setup();
  const subs = Array.from({ length: 50 }, () => collect(hub.subscribe({ filter: all })));
  sim.create("pods", pod("x"));
  await eventually(() => subs.every((s) => s.names().length === 1), "fan-out");
  assert.equal(hub.subscriberCount, 50);
  assert.equal(sim.requests.filter((r) => r.query.watch && r.path === "/api/v1/pods").length, 1);
});
