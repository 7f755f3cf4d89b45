// Shared subscription results (subscriptions/shared-results.ts): subscribers with the same
// operation, variables and visibility share one execution and serialization of each event;
// callers with different RBAC visibility or different selection sets never see each other's
// payloads. Through the real server (both transports) on the simulator, with --auth kubernetes;
// only the apiserver's TokenReview and SubjectAccessReview answers are stood in for (the
// simulator has no authorizer): alice and carol may list pods in ns-a only, bob everywhere.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SandboxCluster } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { SharedResults, sharedResultTotals } from "../../src/subscriptions/shared-results.ts";
import { useCleanups } from "../helpers/cleanups.ts";
import { type Collected, startKgql, subscribe } from "../helpers/kgql.ts";
import { clientFor, eventually, pod, type Reviews, withReviews } from "../helpers/sandbox.ts";

const defer = useCleanups();

const USERS: Record<string, { username: string; podNamespaces: "all" | string[] }> = {
  alice: { username: "alice", podNamespaces: ["ns-a"] },
  carol: { username: "carol", podNamespaces: ["ns-a"] },
  bob: { username: "bob", podNamespaces: "all" },
};

/** The apiserver's authentication and authorization answers for the users above. */
const reviews: Reviews = {
  user: (token) => {
    const user = USERS[token];
    return user && { username: user.username, groups: ["system:authenticated"] };
  },
  allowed: (username, resource, namespace) => {
    const user = Object.values(USERS).find((u) => u.username === username)!;
    return (
      resource !== "pods" ||
      user.podNamespaces === "all" ||
      (namespace !== "" && user.podNamespaces.includes(namespace))
    );
  },
};

async function setup() {
  const sim = new SandboxCluster();
  await sim.start();
  defer(() => sim.stop());
  sim.create("nodes", {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "node-0", uid: "", resourceVersion: "" },
  });
  for (const ns of ["ns-a", "ns-b"]) {
    sim.create("namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, uid: "", resourceVersion: "" },
    });
    for (let i = 0; i < 3; i++) sim.create("pods", pod(`${ns}-p${i}`, ns, { app: "web", n: String(i) }));
  }
  const kgql: GatewayServer = await startKgql(withReviews(await clientFor(sim), reviews), {
    auth: "kubernetes",
  });
  defer(() => kgql.close());
  await kgql.gateway.factory.waitForCacheSync(5000);
  return { sim, kgql };
}

/** One subscriber as a real client (graphql-ws or graphql-sse) with the caller's token. */
function subscribeAs(transport: "ws" | "sse", url: string, token: string, query: string): Collected {
  const stream = subscribe(transport, url, query, undefined, { token });
  defer(() => stream.stop());
  return stream;
}

/** Visibility-dependent content: the pods on the event's pod's node that the caller may see. */
const TRAVERSAL =
  "subscription { podStream(initial: true) { type resourceVersion pod { name namespace node { name pods { namespace name } } } } }";
const NAMES = "subscription { podStream(initial: true) { type resourceVersion pod { name namespace } } }";
const LABELS =
  "subscription { podStream(initial: true) { type resourceVersion pod { name namespace labels } } }";

/** Changes one pod in each namespace (a label), in this order. */
function touch(sim: SandboxCluster, value: string) {
  for (const ns of ["ns-a", "ns-b"])
    sim.patch("pods", ns, `${ns}-p0`, { metadata: { labels: { touched: value } } });
}

/** Changes ns-a-p0 without touching its labels (lookups keyed by labels stay the same). */
function annotate(sim: SandboxCluster, value: string) {
  sim.patch("pods", "ns-a", "ns-a-p0", { metadata: { annotations: { touched: value } } });
}

const live = (s: Collected) => s.events.slice(s.events.findIndex((e) => e.type === "SYNCED") + 1);
const synced = (s: Collected) => s.events.some((e) => e.type === "SYNCED");

test("callers with different RBAC visibility never share: each sees only its own namespaces", async () => {
  const { sim, kgql } = await setup();
  const alice = subscribeAs("ws", kgql.url, "alice", TRAVERSAL);
  const bob = subscribeAs("sse", kgql.url, "bob", TRAVERSAL);
  const carol = subscribeAs("sse", kgql.url, "carol", TRAVERSAL);
  await eventually(() => [alice, bob, carol].every(synced), "the initial states");
  const before = { ...sharedResultTotals };
  touch(sim, "1");
  touch(sim, "2");
  await eventually(
    () => live(alice).length === 2 && live(bob).length === 4 && live(carol).length === 2,
    "the changes",
  );
  // Leave time for anything extra (a leaked ns-b event) to arrive.
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
  const where = (s: Collected) =>
    s.events.filter((e) => e.pod).map((e) => `${e.type} ${e.pod.namespace}/${e.pod.name}`);
  assert.deepEqual(where(alice), [
    "ADDED ns-a/ns-a-p0",
    "ADDED ns-a/ns-a-p1",
    "ADDED ns-a/ns-a-p2",
    "MODIFIED ns-a/ns-a-p0",
    "MODIFIED ns-a/ns-a-p0",
  ]);
  assert.deepEqual(where(bob).slice(6), [
    "MODIFIED ns-a/ns-a-p0",
    "MODIFIED ns-b/ns-b-p0",
    "MODIFIED ns-a/ns-a-p0",
    "MODIFIED ns-b/ns-b-p0",
  ]);
  assert.deepEqual(where(bob).slice(0, 6).sort(), [
    "ADDED ns-a/ns-a-p0",
    "ADDED ns-a/ns-a-p1",
    "ADDED ns-a/ns-a-p2",
    "ADDED ns-b/ns-b-p0",
    "ADDED ns-b/ns-b-p1",
    "ADDED ns-b/ns-b-p2",
  ]);
  // The traversal answers by each caller's RBAC, whoever's execution ran first.
  const onNode = (s: Collected) =>
    new Set(
      s.events
        .filter((e) => e.pod)
        .map((e) => JSON.stringify(e.pod.node.pods.map((p: { namespace: string }) => p.namespace).sort())),
    );
  assert.deepEqual([...onNode(alice)], [JSON.stringify(["ns-a", "ns-a", "ns-a"])]);
  assert.deepEqual([...onNode(bob)], [JSON.stringify(["ns-a", "ns-a", "ns-a", "ns-b", "ns-b", "ns-b"])]);
  // carol is another user with alice's permissions: the same visibility, the same payloads
  // (and the ns-a events were executed once for both).
  assert.deepEqual(live(carol), live(alice));
  // ns-a changes: one execution for alice+carol, one for bob; ns-b: one for bob. Over 2 rounds,
  // 6 executions serve 8 deliveries.
  assert.equal(sharedResultTotals.executed - before.executed, 6);
  assert.equal(sharedResultTotals.shared - before.shared, 2);
});

test("different selection sets get their own, correct payloads; identical subscribers identical ones", async () => {
  const { sim, kgql } = await setup();
  const names = [subscribeAs("ws", kgql.url, "bob", NAMES), subscribeAs("sse", kgql.url, "bob", NAMES)];
  const labels = [subscribeAs("ws", kgql.url, "bob", LABELS), subscribeAs("sse", kgql.url, "bob", LABELS)];
  const all = [...names, ...labels];
  await eventually(() => all.every(synced), "the initial states");
  const before = { ...sharedResultTotals };
  touch(sim, "x");
  await eventually(() => all.every((s) => live(s).length === 2), "the changes");
  for (const s of all) assert.deepEqual(s.errors, []);
  // The names document has no labels; the labels one has them, with the change in them.
  for (const s of names) for (const e of live(s)) assert.deepEqual(Object.keys(e.pod), ["name", "namespace"]);
  for (const s of labels) {
    for (const e of live(s)) {
      assert.deepEqual(Object.keys(e.pod), ["name", "namespace", "labels"]);
      assert.equal(e.pod.labels.touched, "x");
      assert.equal(e.pod.labels.n, "0");
    }
  }
  // Identical subscribers (same document, same caller), over different transports: identical.
  assert.deepEqual(live(names[0]!), live(names[1]!));
  assert.deepEqual(live(labels[0]!), live(labels[1]!));
  assert.equal(live(names[0]!)[0].resourceVersion, live(labels[0]!)[0].resourceVersion);
  // Two documents x two changes executed; the second subscriber of each shared.
  assert.equal(sharedResultTotals.executed - before.executed, 4);
  assert.equal(sharedResultTotals.shared - before.shared, 4);
});

test("each event is executed against the cache as it is now (no memo kept from earlier events)", async () => {
  const { sim, kgql } = await setup();
  const q = 'subscription { podStream(namespace: "ns-a") { type pod { name services { name } } } }';
  const s = subscribeAs("ws", kgql.url, "bob", q);
  await eventually(() => kgql.gateway.subscriberCount() === 1, "the subscription");
  annotate(sim, "1");
  await eventually(() => s.events.length === 1, "the first change");
  sim.create("services", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "ns-a", uid: "", resourceVersion: "" },
    spec: { selector: { app: "web" } },
  });
  await eventually(() => kgql.gateway.informer("Service").store.size > 0, "the service in the cache");
  annotate(sim, "2");
  await eventually(() => s.events.length === 2, "the second change");
  assert.deepEqual(s.errors, []);
  assert.deepEqual(s.events[0].pod.services, []);
  assert.deepEqual(s.events[1].pod.services, [{ name: "web" }]);
});

test("the result cache is bounded: the oldest events' results are evicted first", () => {
  const cache = new SharedResults({ maxResults: 3 });
  const events = [{}, {}, {}];
  cache.set(events[0]!, "k1", { data: { n: 1 } });
  cache.set(events[0]!, "k2", { data: { n: 2 } });
  cache.set(events[1]!, "k1", { data: { n: 3 } });
  cache.set(events[2]!, "k1", { data: { n: 4 } });
  assert.equal(cache.get(events[0]!, "k1"), undefined, "the oldest event went whole");
  assert.equal(cache.get(events[0]!, "k2"), undefined);
  assert.deepEqual(cache.get(events[1]!, "k1"), { data: { n: 3 } });
  assert.deepEqual(cache.get(events[2]!, "k1"), { data: { n: 4 } });
});
