// The reflector scenarios of ../shared/informer-semantics.md (1–13), against the simulator.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SharedInformer } from "../../src/informers/shared-informer.ts";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { eventually, informerFor, keyRVs, pod, startSandbox } from "../helpers/sandbox.ts";

const defer = useCleanups();

async function setup(opts: Parameters<typeof startSandbox>[0] = {}) {
  const sim = await startSandbox(opts);
  defer(() => sim.stop());
  return sim;
}
/** Scenarios 1-12 are list+watch's: watch-list (the informer's default) is off unless a test asks. */
async function started(sim: SandboxCluster, opts: Parameters<typeof informerFor>[2] = {}) {
  const informer = await informerFor(sim, "pods", {
    ...opts,
    reflector: { useWatchList: false, ...opts.reflector },
  });
  defer(() => informer.stop());
  informer.start();
  return informer;
}
const podRequests = (sim: SandboxCluster) => sim.requests.filter((r) => r.path === "/api/v1/pods");
const lists = (sim: SandboxCluster) => podRequests(sim).filter((r) => !r.query.watch);
const watches = (sim: SandboxCluster) => podRequests(sim).filter((r) => r.query.watch);
const cacheEqualsServer = (sim: SandboxCluster, informer: SharedInformer) =>
  keyRVs(informer.store.values()).join() === keyRVs(sim.list("pods")).join();

test("1. lists at RV 0, then watches from the list's RV with bookmarks", async () => {
  const sim = await setup();
  sim.create("pods", pod("a"));
  sim.create("pods", pod("b"));
  const listRV = sim.currentResourceVersion();
  const informer = await started(sim);
  assert.equal(await informer.waitForSync(5000), true);
  await eventually(() => watches(sim).length === 1, "the watch to open");
  const [list] = lists(sim);
  assert.equal(list?.query.resourceVersion, "0");
  assert.equal(list?.query.limit, "500");
  const [watch] = watches(sim);
  assert.equal(watch?.query.resourceVersion, listRV);
  assert.equal(watch?.query.allowWatchBookmarks, "true");
  assert.deepEqual(keyRVs(informer.store.values()), keyRVs(sim.list("pods")));
});

test("2. alternating list and watch failures: the store always equals the last successful list", async () => {
  const sim = await setup();
  for (let i = 0; i < 5; i++) sim.create("pods", pod(`p${i}`));
  sim.faults.failNext({ status: 500, verb: "list", count: 1 });
  const informer = await started(sim);
  await informer.waitForSync(5000);
  assert.ok(cacheEqualsServer(sim, informer), "synced after one failed list");
  for (let round = 0; round < 3; round++) {
    sim.faults.stallWatches(true);
    sim.delete("pods", "default", `p${round}`);
    sim.create("pods", pod(`n${round}`));
    sim.faults.failNext({ status: 500, verb: "watch", count: 1 });
    sim.faults.failNext({ status: 500, verb: "list", count: 1 });
    sim.faults.sendWatchError410();
    sim.faults.stallWatches(false);
    await eventually(
      () => cacheEqualsServer(sim, informer),
      `cache to equal the server after round ${round}`,
    );
  }
  assert.ok(lists(sim).length >= 4, `relisted after failures (${lists(sim).length} lists)`);
});

test("3. an ERROR event stops the watch; the next list removes what vanished, as tombstones", async () => {
  const sim = await setup();
  for (const n of ["a", "b", "c"]) sim.create("pods", pod(n));
  const informer = await started(sim);
  await informer.waitForSync(5000);
  const deleted: { name: string; tombstone: boolean }[] = [];
  informer.addEventHandler({
    onDelete: (o, tombstone) => deleted.push({ name: o.metadata.name, tombstone }),
  });
  sim.faults.stallWatches(true);
  sim.delete("pods", "default", "b");
  sim.faults.sendWatchError410();
  sim.faults.stallWatches(false);
  await eventually(() => deleted.length === 1, "the tombstone for b");
  assert.deepEqual(deleted, [{ name: "b", tombstone: true }]);
  assert.equal(lists(sim).length, 2);
  assert.ok(cacheEqualsServer(sim, informer));
});

test("4. events reach the store; the last synced RV follows events and bookmarks", async () => {
  const sim = await setup({ bookmarkIntervalMs: 100 });
  const informer = await started(sim);
  await informer.waitForSync(5000);
  await eventually(() => watches(sim).length === 1, "the watch");
  const created = sim.create("pods", pod("x"));
  await eventually(() => informer.store.size === 1, "the ADDED event");
  assert.equal(informer.lastSyncResourceVersion, created.metadata.resourceVersion);
  sim.create("configmaps", { metadata: { name: "cm", namespace: "default", uid: "", resourceVersion: "" } });
  const rvAfterOtherKind = sim.currentResourceVersion();
  await eventually(
    () => informer.lastSyncResourceVersion === rvAfterOtherKind,
    "a bookmark to advance the RV",
  );
  assert.equal(informer.store.size, 1, "bookmarks do not change the store");
});

test("5. connection-refused watches back off exponentially to the cap, without relisting", async () => {
  const sim = await setup();
  const delays: number[] = [];
  const logger = {
    info() {},
    warn() {},
    debug(fields: object, msg: string) {
      if (msg === "backing off") delays.push((fields as { delayMs: number }).delayMs);
    },
  };
  const informer = await started(sim, {
    logger,
    reflector: { backoff: { initialMs: 20, capMs: 160, random: () => 0.999 } },
  });
  await informer.waitForSync(5000);
  await eventually(() => watches(sim).length === 1, "the first watch");
  await sim.faults.refuseConnections(true);
  sim.faults.dropWatches();
  await eventually(() => delays.length >= 6, "six refused attempts", 5000);
  await sim.faults.refuseConnections(false);
  await eventually(() => watches(sim).length === 2, "the watch to reopen");
  assert.equal(lists(sim).length, 1, "no relist for connection refused");
  // With jitter pinned near the ceiling: 20, 40, 80, 160 (cap), 160, 160.
  assert.deepEqual(
    delays.slice(0, 6).map((d) => Math.round(d / 10) * 10),
    [20, 40, 80, 160, 160, 160],
  );
  assert.match(informer.status().lastError ?? "", /ECONNREFUSED|connect/i);
});

test("6. 429 on watch: back off and re-watch from the same RV; still one list", async () => {
  const sim = await setup();
  sim.create("pods", pod("a"));
  const informer = await started(sim);
  await informer.waitForSync(5000);
  await eventually(() => watches(sim).length === 1, "the first watch");
  sim.faults.failNext({ status: 429, verb: "watch", count: 2, retryAfterSeconds: 0 });
  sim.faults.dropWatches();
  await eventually(() => watches(sim).length === 4, "two 429s and a successful re-watch");
  assert.equal(lists(sim).length, 1);
  const rvs = new Set(watches(sim).map((w) => w.query.resourceVersion));
  assert.equal(rvs.size, 1, "every re-watch resumes from the same RV");
});

test("7. a paged list with limit 4 assembles all 10 items through continue tokens", async () => {
  const sim = await setup();
  for (let i = 0; i < 10; i++) sim.create("pods", pod(`p${i}`));
  const informer = await started(sim, { reflector: { pageSize: 4 } });
  await informer.waitForSync(5000);
  assert.equal(informer.store.size, 10);
  const pages = lists(sim);
  assert.equal(pages.length, 3);
  assert.equal(pages[0]?.query.limit, "4");
  assert.ok(pages[1]?.query.continue && pages[2]?.query.continue);
  assert.equal(pages[1]?.query.resourceVersion, undefined, "no RV with a continue token");
});

test("8. a relist at a specific RV is not paged", async () => {
  const sim = await setup();
  for (let i = 0; i < 6; i++) sim.create("pods", pod(`p${i}`));
  const informer = await started(sim, { reflector: { pageSize: 4 } });
  await informer.waitForSync(5000);
  const rv = informer.lastSyncResourceVersion;
  sim.faults.failNext({ status: 500, verb: "watch", count: 1 });
  sim.faults.dropWatches();
  await eventually(() => lists(sim).length === 3, "the relist");
  const relist = lists(sim)[2]!;
  assert.equal(relist.query.resourceVersion, rv);
  assert.equal(relist.query.limit, undefined);
});

test("9. an expired RV: lists go 0, then the last RV, then the latest", async () => {
  const sim = await setup();
  sim.create("pods", pod("a"));
  const informer = await started(sim);
  await informer.waitForSync(5000);
  await eventually(() => watches(sim).length === 1, "the watch");
  const rvBefore = informer.lastSyncResourceVersion;
  sim.faults.failNext({ status: 410, verb: "list", count: 1 });
  sim.faults.sendWatchError410();
  await eventually(() => lists(sim).length === 3, "three lists");
  const [first, second, third] = lists(sim).map((l) => l.query.resourceVersion);
  assert.equal(first, "0");
  assert.equal(second, rvBefore, "the relist asks for the last synced RV");
  assert.equal(third, "", "then, that RV being expired, for the latest");
  assert.ok(cacheEqualsServer(sim, informer));
});

test("10. an expired continue token leads to a full list", async () => {
  const sim = await setup();
  for (let i = 0; i < 10; i++) sim.create("pods", pod(`p${i}`));
  sim.faults.failNext({ status: 410, verb: "list", count: 1, when: (q) => Boolean(q.continue) });
  const informer = await started(sim, { reflector: { pageSize: 4 } });
  await informer.waitForSync(5000);
  assert.equal(informer.store.size, 10);
  const last = lists(sim).at(-1)!;
  assert.equal(last.query.continue, undefined);
  assert.equal(last.query.limit, undefined, "the full list is not paged");
});

for (const [label, status] of [
  [
    "ResourceVersionTooLarge cause",
    {
      code: 504,
      reason: "Timeout",
      details: { causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }] },
      message: "Too large resource version: 99, current: 5",
    },
  ],
  [
    "Timeout with cause message",
    {
      code: 504,
      reason: "Timeout",
      details: { causes: [{ message: "Too large resource version" }] },
      message: "Timeout",
    },
  ],
  [
    "Timeout with old message",
    {
      code: 504,
      reason: "Timeout",
      details: { causes: [] },
      message: "Too large non-consistent resource version: 99",
    },
  ],
] as const) {
  test(`11. "too large resource version" (${label}) leads to a list at RV ""`, async () => {
    const sim = await setup();
    sim.create("pods", pod("a"));
    const informer = await started(sim);
    await informer.waitForSync(5000);
    await eventually(() => watches(sim).length === 1, "the watch");
    sim.faults.failNext({ status: 504, verb: "list", count: 1, body: status });
    sim.faults.failNext({ status: 500, verb: "watch", count: 1 });
    sim.faults.dropWatches();
    await eventually(() => lists(sim).length === 3, "three lists");
    assert.equal(lists(sim)[2]!.query.resourceVersion, "");
  });
}

test("12. watch timeoutSeconds lies in [300, 600)", async () => {
  const sim = await setup();
  const informer = await started(sim, { reflector: { random: () => 0.999 } });
  await informer.waitForSync(5000);
  await eventually(() => watches(sim).length === 1, "the watch");
  for (const random of [0, 0.5, 0.999]) {
    const seconds = Math.floor(300 * (1 + random));
    assert.ok(seconds >= 300 && seconds < 600);
  }
  const t = Number(watches(sim)[0]!.query.timeoutSeconds);
  assert.ok(t >= 300 && t < 600, `timeoutSeconds=${t}`);
});

test("13. watch-list: synced only after the initial-events-end bookmark; live changes applied", async () => {
  const sim = await setup();
  for (let i = 0; i < 5; i++) sim.create("pods", pod(`p${i}`));
  const informer = await started(sim, { reflector: { useWatchList: true } });
  await informer.waitForSync(5000);
  assert.equal(informer.store.size, 5);
  assert.equal(lists(sim).length, 0, "no list call");
  const [w] = watches(sim);
  assert.equal(w?.query.sendInitialEvents, "true");
  assert.equal(w?.query.resourceVersionMatch, "NotOlderThan");
  sim.update("pods", { ...sim.get("pods", "default", "p1")!, status: { phase: "Failed" } });
  sim.delete("pods", "default", "p2");
  await eventually(() => cacheEqualsServer(sim, informer), "live update and delete");
  assert.equal(watches(sim).length, 1, "the watch-list stream goes on as the watch");
});

test("13b. a server that rejects watch-list: fall back to list+watch", async () => {
  const sim = await setup({ supportsWatchList: false });
  sim.create("pods", pod("a"));
  const informer = await started(sim, { reflector: { useWatchList: true } });
  assert.equal(await informer.waitForSync(5000), true);
  assert.equal(lists(sim).length, 1);
  assert.equal(informer.status().usingWatchList, false);
  assert.equal(informer.store.size, 1);
});

test("13c. watch-list is not synced before the initial-events-end bookmark arrives", async () => {
  const sim = await setup();
  for (let i = 0; i < 3; i++) sim.create("pods", pod(`p${i}`));
  sim.faults.stallWatches(true);
  const informer = await started(sim, { reflector: { useWatchList: true, stallTimeoutMs: 60_000 } });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(informer.hasSynced(), false);
  sim.faults.stallWatches(false);
  sim.faults.dropWatches();
  assert.equal(await informer.waitForSync(5000), true);
  assert.equal(informer.store.size, 3);
});

test("13e. a 403 on a watch-list falls back to a list that once: the next relist tries watch-list again", async () => {
  const sim = await setup();
  sim.create("pods", pod("a"));
  sim.faults.failNext({ status: 403, verb: "watch", resource: "pods", count: 1 });
  const informer = await started(sim, { reflector: { useWatchList: true } });
  assert.equal(await informer.waitForSync(5000), true);
  assert.equal(lists(sim).length, 1, "this sync went through a list");
  assert.equal(informer.status().usingWatchList, false);
  await eventually(
    () => watches(sim).length === 2 && informer.status().watchHealthy,
    "the watch after the list",
  );
  sim.faults.sendWatchError410(); // the watch expires: relist
  await eventually(
    () => informer.status().relists >= 1 && informer.status().usingWatchList,
    "a watch-list relist",
  );
  const relist = watches(sim).at(-1)!;
  assert.equal(relist.query.sendInitialEvents, "true");
  assert.equal(lists(sim).length, 1, "no second list");
});

test("13d. a watch-list stream cut after its initial events: re-watch from the last RV, a restart, no relist", async () => {
  const sim = await setup();
  sim.create("pods", pod("a"));
  const informer = await started(sim, { reflector: { useWatchList: true } });
  await informer.waitForSync(5000);
  const rv = informer.lastSyncResourceVersion;
  const before = informer.status();
  sim.faults.dropWatches();
  await eventually(() => watches(sim).length === 2, "a second watch");
  const [, rewatch] = watches(sim);
  assert.equal(rewatch?.query.sendInitialEvents, undefined, "an ordinary watch, not another watch-list");
  assert.equal(rewatch?.query.resourceVersion, rv);
  assert.equal(informer.status().watchRestarts, before.watchRestarts + 1);
  assert.equal(informer.status().lists, before.lists, "no relist");
  sim.create("pods", pod("b"));
  await eventually(() => cacheEqualsServer(sim, informer), "events after the cut");
});

test("a stalled watch (no bytes) is aborted and resumed from the last RV without a relist", async () => {
  const sim = await setup({ bookmarkIntervalMs: 100 });
  sim.create("pods", pod("a"));
  const informer = await started(sim, { reflector: { stallTimeoutMs: 300 } });
  await informer.waitForSync(5000);
  await eventually(() => watches(sim).length === 1, "the watch");
  sim.faults.stallWatches(true);
  const rv = informer.lastSyncResourceVersion;
  await eventually(() => informer.status().stalls >= 1, "stall detection", 3000);
  sim.faults.stallWatches(false);
  await eventually(() => informer.status().watchHealthy && watches(sim).length >= 2, "a healthy re-watch");
  assert.equal(watches(sim)[1]!.query.resourceVersion, rv);
  assert.equal(lists(sim).length, 1);
  sim.create("pods", pod("b"));
  await eventually(() => informer.store.size === 2, "events after the stall");
});
