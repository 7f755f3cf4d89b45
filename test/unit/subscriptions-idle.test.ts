// What an idle subscriber holds, and the stream semantics the resolvers hand to the hub's
// Subscription (subscriptions/hub.ts) now that it is returned to graphql-js unwrapped: streams
// without markers (podEvents), an end with an error (a revoked permission), a close hook.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { SharedInformer } from "../../src/informers/shared-informer.ts";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import { ResourceEventHub, type Subscription } from "../../src/subscriptions/hub.ts";
import type { StreamEvent } from "../../src/subscriptions/types.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { startKgql, subscribe } from "../helpers/kgql.ts";
import { clientFor, eventually, withReviews } from "../helpers/sandbox.ts";
import { StandInInformer } from "../helpers/stand-in-informer.ts";

const defer = useCleanups();

function hubWith(pods: number) {
  const informer = new StandInInformer();
  for (let i = 0; i < pods; i++) informer.apply(`p${i}`);
  const hub = new ResourceEventHub(informer as unknown as SharedInformer, { historySize: 2 });
  return { informer, hub };
}

const all = () => true;
const name = (e: StreamEvent) => ("object" in e ? `${e.type} ${e.object.metadata.name}` : e.type);
const fellBehind = (reason: string) => new Error(`fell behind: ${reason}`);

/** The next n events' names. */
async function take(sub: Subscription, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(name((await sub.next()).value as StreamEvent));
  return out;
}

test("an idle subscriber that has read its initial state keeps no buffer storage", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const pods = 200;
  const { hub } = hubWith(pods);
  const open = async (n: number, into: Promise<unknown>[]) => {
    for (let i = 0; i < n; i++) {
      const sub = hub.subscribe({ filter: all, initial: true });
      for (let j = 0; j <= pods; j++) await sub.next(); // the initial state and SYNCED
      into.push(sub.next()); // idle: waiting for a change, as a real subscriber does
    }
  };
  await open(100, []); // warm up: shapes, the initial events all subscribers share
  const waiting: Promise<unknown>[] = [];
  const n = 2000;
  // Heap figures only ever gain noise (a GC that left something for later): the least of three
  // rounds is the cost.
  let perSubscriber = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const before = heap();
    await open(n, waiting);
    perSubscriber = Math.min(perSubscriber, (heap() - before) / n);
  }
  // The Subscription, its hub entry and pending promise: about 450 B. A buffer that kept the
  // slots of the 201 events it once held would add 1.6 KB or more.
  assert.ok(perSubscriber < 1000, `${Math.round(perSubscriber)} B per idle subscriber`);
  hub.close();
  await Promise.all(waiting);
});

test("without markers: no SYNCED; falling behind ends the stream with its error and unsubscribes", async () => {
  const { informer, hub } = hubWith(2);
  const sub = hub.subscribe({ filter: all, initial: true, bufferLimit: 2, withoutMarkers: fellBehind });
  assert.deepEqual(await take(sub, 2), ["ADDED p0", "ADDED p1"]);
  informer.apply("a");
  assert.deepEqual(await take(sub, 1), ["ADDED a"], "SYNCED was left out");
  for (const n of ["b", "c", "d"]) informer.apply(n); // one more than the buffer holds
  await assert.rejects(sub.next(), /fell behind: fell more than 2 events behind/);
  assert.equal(hub.subscriberCount, 0);
  assert.deepEqual(await sub.next(), { value: undefined, done: true });
});

test("without markers, a resume point no longer in history ends the stream at once", async () => {
  const { informer, hub } = hubWith(0);
  const first = hub.subscribe({ filter: all });
  for (const n of ["a", "b", "c", "d"]) informer.apply(n); // history keeps 2
  first.close();
  const sub = hub.subscribe({ filter: all, resumeFrom: "2", withoutMarkers: fellBehind });
  assert.equal(sub.closed, true);
  assert.equal(hub.subscriberCount, 0);
  await assert.rejects(sub.next(), /fell behind: resourceVersion 2 is no longer in the gateway's history/);
  // With markers, the same resume gets RESYNC and the current state.
  const withMarkers = hub.subscribe({ filter: all, resumeFrom: "2" });
  assert.deepEqual(await take(withMarkers, 6), [
    "RESYNC",
    "ADDED a",
    "ADDED b",
    "ADDED c",
    "ADDED d",
    "SYNCED",
  ]);
});

test("close(error): a pending next() rejects with it, then the stream is done; onClose runs once", async () => {
  const { hub } = hubWith(0);
  let closes = 0;
  const pending = hub.subscribe({ filter: all });
  pending.onClose = () => closes++;
  const next = pending.next();
  pending.close(new Error("revoked"));
  pending.close(new Error("again"));
  await assert.rejects(next, /revoked/);
  assert.deepEqual(await pending.next(), { value: undefined, done: true });
  assert.equal(closes, 1);

  // Not waiting when closed: the next next() rejects, once.
  const idle = hub.subscribe({ filter: all, initial: true });
  idle.close(new Error("revoked"));
  await assert.rejects(idle.next(), /revoked/);
  assert.deepEqual(await idle.next(), { value: undefined, done: true });
});

test("a stream closed while a resync was pending sends nothing more", async () => {
  const { informer, hub } = hubWith(0);
  const sub = hub.subscribe({ filter: all, bufferLimit: 1 });
  for (const n of ["a", "b"]) informer.apply(n); // overflows: RESYNC pending
  sub.close();
  assert.deepEqual(await sub.next(), { value: undefined, done: true });
});

// Through the real server: a revoked permission ends an open podEvents stream with FORBIDDEN,
// and the hub subscription and its recheck timer go with it.
test("a permission revoked while a stream is open ends it with an error, on both transports", async () => {
  const sim = new SandboxCluster();
  await sim.start();
  defer(() => sim.stop());
  let mayListPods = true;
  const client = withReviews(await clientFor(sim), {
    user: () => ({ username: "alice" }),
    allowed: (_user, resource) => resource !== "pods" || mayListPods,
  });
  const kgql = await startKgql(client, { auth: "kubernetes", recheckMs: 100, accessCacheTtlMs: 1 });
  defer(() => kgql.close());
  await kgql.gateway.factory.waitForCacheSync(5000);
  const streams = (["ws", "sse"] as const).map((t) =>
    subscribe(t, kgql.url, "subscription { podEvents { type } }", undefined, { token: "alice" }),
  );
  for (const s of streams) defer(() => s.stop());
  await eventually(() => kgql.gateway.subscriberCount() === 2, "both subscriptions");
  await new Promise((r) => setTimeout(r, 300)); // a few rechecks while allowed
  assert.deepEqual(
    streams.map((s) => s.errors),
    [[], []],
  );
  mayListPods = false;
  await eventually(() => streams.every((s) => s.errors.length > 0), "the streams to end");
  for (const s of streams) assert.match(JSON.stringify(s.errors), /cannot list pods/);
  await eventually(() => kgql.gateway.subscriberCount() === 0, "the hub subscriptions to close");
});
