// The cost limit: estimates from the real cache sizes, the README's and benchmarks' topology
// queries allowed at 10k pods by default, cross products refused with LIMIT_EXCEEDED naming
// the limit, its value and the estimate.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "graphql";
import { RbacVisibility } from "../../src/auth/visibility.ts";
import { SharedInformerFactory } from "../../src/informers/factory.ts";
import { NAMESPACE_INDEX } from "../../src/informers/indexers.ts";
import { Gateway } from "../../src/resolvers/gateway.ts";
import { buildSchema } from "../../src/resolvers/index.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import { costLimitError, DEFAULT_MAX_COST, estimateCost } from "../../src/server/cost.ts";
import { gql, limitRejections, startKgql, startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { clientFor, eventually, pod, withReviews } from "../helpers/sandbox.ts";

const schema = buildSchema();

/** A gateway whose caches hold `sizes` objects per kind (namespaced kinds spread evenly). */
function fakeGateway(sizes: Record<string, number>, namespaces = 10): Gateway {
  const informers = new Map(
    Object.entries(sizes).map(([kind, size]) => [
      kind,
      {
        resource: { kind, group: "", version: "v1", resource: kind.toLowerCase() },
        store: {
          size,
          hasIndex: (name: string) => name === NAMESPACE_INDEX,
          indexKeys: () => ({ size: Math.ceil(size / namespaces) }),
        },
      },
    ]),
  );
  return {
    informer: (kind: string) => informers.get(kind),
    factory: { informers: () => [...informers.values()], get: () => undefined },
  } as unknown as Gateway;
}

// A 10k-pod cluster shaped like the benchmark's: 20 nodes, 10 namespaces, 1000 deployments with
// 1500 replica sets (old ones kept), 300 services, 20k events.
const big = fakeGateway({
  Namespace: 10,
  Node: 20,
  Pod: 10_000,
  Deployment: 1000,
  ReplicaSet: 1500,
  Service: 300,
  Event: 20_000,
  ConfigMap: 200,
  Secret: 200,
  PersistentVolumeClaim: 0,
});

const cost = (g: Gateway, query: string, variables?: Record<string, unknown>) =>
  estimateCost(g, schema, parse(query), variables).cost;

describe("cost estimate from the cache sizes", () => {
  it("counts the objects a query resolves: pages, fan-outs, single objects", () => {
    // 100 pods (the default page), each with its node.
    assert.equal(cost(big, "{ pods { nodes { name node { name } } } }"), 200);
    assert.equal(cost(big, "{ pods(first: 1000) { nodes { name } } }"), 1000);
    // totalCount alone resolves no object.
    assert.equal(cost(big, "{ pods { totalCount } }"), 0);
    // A namespace's scope (1,000 pods each here) caps the page...
    assert.equal(cost(big, `{ pods(namespace: "a", first: 1000) { edges { node { name } } } }`), 1000);
    // ...and a small kind caps it too: 20 nodes, each with its 500 pods on average.
    assert.equal(cost(big, "{ nodes { nodes { name pods { name } } } }"), 20 + 20 * 500);
    // Variables are read.
    assert.equal(cost(big, "query($n: Int) { pods(first: $n) { nodes { name } } }", { n: 7 }), 7);
    // ...and so are their defaults, when the request leaves a variable out.
    assert.equal(cost(big, "query($n: Int = 1000) { pods(first: $n) { nodes { name } } }"), 1000);
    assert.equal(cost(big, "query($n: Int = 1000) { pods(first: $n) { nodes { name } } }", { n: 3 }), 3);
    // Fragments count like inline selections.
    assert.equal(cost(big, "{ pods(first: 10) { nodes { ...P } } } fragment P on Pod { node { name } }"), 20);
  });

  it("allows the README's and the benchmark's full topologies of 10k pods by default", () => {
    const bench = `{ deployments(first: 1000) { nodes { name namespace replicas replicaSets { name pods { name phase nodeName ready restartCount } } } } }`;
    const everything = `{ namespaces { name deployments { name replicaSets { name pods { name node { name } services { name } events { reason } } } } } }`;
    const byNode = `{ nodes(first: 1000) { nodes { name pods { name owners { name } services { name } } } } }`;
    for (const q of [bench, everything, byNode]) {
      const c = cost(big, q);
      assert.ok(c <= DEFAULT_MAX_COST, `${c} > ${DEFAULT_MAX_COST} for ${q}`);
      assert.ok(c >= 10_000, `a full topology estimates at least every pod (${c})`);
    }
  });

  it("refuses cross products: every pod's node's pods", () => {
    const c = cost(big, "{ pods(first: 1000) { nodes { node { pods { name } } } } }");
    assert.equal(c, 1000 + 1000 + 1000 * 500);
    assert.ok(c > DEFAULT_MAX_COST);
  });

  it("estimates a subscription per event: the event's objects and what is selected below them", () => {
    // One pod per event, and its node: 2. Through the node, its pods (10,000 / 20 nodes): 502.
    assert.equal(cost(big, "subscription { podEvents { type pod { name node { name } } } }"), 2);
    assert.equal(
      cost(big, "subscription { podEvents { pod { node { pods { name } } } previous { name } } }"),
      503,
    );
  });

  it("counts a subscription's initial state or replay: every object of its kind in scope, at once", () => {
    assert.equal(cost(big, "subscription { podStream(initial: true) { pod { name } } }"), 10_001);
    // One namespace of 10: 1,000 pods and the change, each with its node.
    assert.equal(
      cost(big, `subscription { podStream(namespace: "a", initial: true) { pod { name node { name } } } }`),
      2_002,
    );
    const resume = "subscription($rv: String) { podStream(resumeFrom: $rv) { pod { name } } }";
    assert.equal(cost(big, resume, { rv: "5" }), 10_001);
    assert.equal(cost(big, resume, { rv: null }), 1);
    assert.equal(cost(big, "subscription { podStream(initial: false) { pod { name } } }"), 1);
  });

  it("a refused subscription's message says whether its cost includes the objects it starts with", () => {
    const refusal = (query: string) =>
      costLimitError(estimateCost(big, schema, parse(query), undefined), 100, true);
    const burst = refusal(
      `subscription { podStream(namespace: "a", initial: true) { pod { node { name } } } }`,
    );
    assert.match(
      burst.message,
      /^subscription too expensive: its estimated cost of 2002 \(each event's selection, for the 1000 objects it starts with \(initial or resumeFrom\)/,
    );
    assert.match(burst.message, /or start without initial$/);
    const perEvent = refusal("subscription { podStream { pod { node { pods { name } } } } }");
    assert.match(perEvent.message, /^subscription too expensive: each event's estimated cost of 502 exceeds/);
    // One event alone above the limit: that is what to fix, whatever the burst.
    const both = refusal("subscription { podStream(initial: true) { pod { node { pods { name } } } } }");
    assert.match(both.message, /^subscription too expensive: each event's estimated cost of 502 exceeds/);
  });

  it("is cheap to evaluate again: the plan is compiled once per document", () => {
    const doc = parse("{ nodes { nodes { pods { name } } } }");
    const a = estimateCost(big, schema, doc, undefined).cost;
    const small = fakeGateway({ Node: 2, Pod: 10 });
    // Same document, other sizes: the estimate follows the caches, not a stale result.
    assert.equal(estimateCost(small, schema, doc, undefined).cost, 2 + 2 * 5);
    assert.equal(estimateCost(big, schema, doc, undefined).cost, a);
  });
});

/** Namespaces ns-a with 3 pods and ns-b with 30: what a caller limited to ns-a sees differs. */
function seedTwoNamespaces(sim: SandboxCluster): void {
  for (const [namespace, pods] of [
    ["ns-a", 3],
    ["ns-b", 30],
  ] as const) {
    sim.create("namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: namespace, uid: "", resourceVersion: "" },
    });
    for (let i = 0; i < pods; i++) sim.create("pods", pod(`${namespace}-p${i}`, namespace));
  }
}

describe("cost limit over HTTP", () => {
  it("a query above --max-cost gets LIMIT_EXCEEDED naming the limit, its value and the estimate", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim);
    const kgql = await startKgqlOn(sim, { maxCost: 20 });
    try {
      const pods = sim.list("pods").length;
      const nodes = sim.list("nodes").length;
      const perNode = Math.ceil(pods / nodes);
      const r = await gql(kgql.url, "{ nodes { nodes { name pods { name } } } }");
      assert.equal(r.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED");
      assert.equal(r.errors?.[0]?.extensions?.limit, "maxCost");
      assert.equal(r.errors?.[0]?.extensions?.max, 20);
      assert.equal(r.errors?.[0]?.extensions?.cost, nodes + nodes * perNode);
      assert.match(
        r.errors![0]!.message,
        new RegExp(`estimated cost of ${nodes + nodes * perNode} exceeds the limit of 20 \\(maxCost\\)`),
      );
      assert.equal(r.data, undefined);
      // Through yoga's own path (GET) as well as the fast path.
      const get = await fetch(
        `${kgql.url}?query=${encodeURIComponent("{ nodes { nodes { pods { name } } } }")}`,
        { headers: { accept: "application/json" } },
      );
      const body = await get.json();
      assert.equal(body.errors?.[0]?.extensions?.limit, "maxCost");
      // Within the limit: answered.
      const ok = await gql(kgql.url, "{ pods(first: 10) { nodes { name } } }");
      assert.equal(ok.errors, undefined);
      const metrics = await (await fetch(kgql.url.replace("/graphql", "/metrics"))).text();
      assert.match(metrics, /kgql_limit_rejections_total\{limit="maxCost"\} 2/);
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });

  it("a subscription opened before the caches synced is estimated once they have, not from empty caches", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim);
    // The pod cache cannot sync until the failures are lifted. Not startKgqlOn: waiting there
    // for a sync that cannot come would grow the reflector's backoff to several seconds.
    sim.faults.failNext({ status: 500, resource: "pods", count: 100_000 });
    const kgql = await startKgql(await clientFor(sim), { maxCost: 3 });
    const costly = subscribe("ws", kgql.url, "subscription { podEvents { pod { node { pods { name } } } } }");
    try {
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(costly.errors.length, 0, "still waiting for the pod cache");
      sim.faults.reset();
      // The reflector retries within its second backoff step (at most 2.4 s from the start).
      await eventually(() => costly.errors.length > 0, "the refusal once the caches synced", 10_000);
      const raw = costly.errors[0] as unknown;
      const error = (Array.isArray(raw) ? raw[0] : raw) as { message: string };
      assert.match(error.message, /subscription too expensive/);
    } finally {
      costly.stop();
      await kgql.close();
      await sim.stop();
    }
  });

  it("with --auth the estimate counts what the caller may see: a caller limited to one namespace is not refused for the cluster's size", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedTwoNamespaces(sim);
    // alice may list pods in ns-a only, bob everywhere.
    const client = withReviews(await clientFor(sim), {
      user: (token) => ({ username: token }),
      allowed: (user, resource, namespace) => resource !== "pods" || user === "bob" || namespace === "ns-a",
    });
    const kgql = await startKgql(client, { auth: "kubernetes", maxCost: 10 });
    try {
      await kgql.gateway.factory.waitForCacheSync(5000);
      const query = "{ pods(first: 100) { nodes { name } } }";
      const alice = await gql(kgql.url, query, undefined, { token: "alice" });
      assert.equal(alice.errors, undefined, JSON.stringify(alice.errors));
      assert.equal(alice.data.pods.nodes.length, 3);
      const bob = await gql(kgql.url, query, undefined, { token: "bob" });
      assert.equal(bob.errors?.[0]?.extensions?.limit, "maxCost");
      assert.equal(bob.errors?.[0]?.extensions?.cost, 33);
      // A namespace alice may not list counts nothing for her; for bob, its pods.
      const nsB = '{ pods(namespace: "ns-b", first: 100) { nodes { name } } }';
      const aliceB = await gql(kgql.url, nsB, undefined, { token: "alice" });
      assert.notEqual(aliceB.errors?.[0]?.extensions?.limit, "maxCost", aliceB.text);
      const bobB = await gql(kgql.url, nsB, undefined, { token: "bob" });
      assert.equal(bobB.errors?.[0]?.extensions?.cost, 30);
      // resources(...) on pods: its access is decided while it runs, so it counts whole.
      const generic =
        '{ resources(group: "", version: "v1", resource: "pods", first: 100) { nodes { name } } }';
      const bobGeneric = await gql(kgql.url, generic, undefined, { token: "bob" });
      assert.equal(bobGeneric.errors?.[0]?.extensions?.cost, 33, bobGeneric.text);
      // ...sized by what the caller may see, decided before the estimate: alice is answered, and
      // a namespace she may not list shows no count (in the refusal, or in whether she is refused).
      const aliceGeneric = await gql(kgql.url, generic, undefined, { token: "alice" });
      assert.equal(aliceGeneric.errors, undefined, aliceGeneric.text);
      assert.equal(aliceGeneric.data.resources.nodes.length, 3);
      const hidden = await gql(
        kgql.url,
        '{ resources(group: "", version: "v1", resource: "pods", namespace: "ns-b", first: 100) { nodes { name } } }',
        undefined,
        { token: "alice" },
      );
      assert.equal(hidden.errors?.[0]?.extensions?.code, "FORBIDDEN", hidden.text);
      assert.doesNotMatch(hidden.text, /30/);
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });

  it("a subscription whose events grow past the limit when the caller's permissions widen is ended with the limit's error", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    sim.create("nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n", uid: "", resourceVersion: "" },
    });
    seedTwoNamespaces(sim);
    let everywhere = false; // alice's pods permission: ns-a, then every namespace
    const client = withReviews(await clientFor(sim), {
      user: (token) => ({ username: token }),
      allowed: (_user, resource, namespace) => resource !== "pods" || everywhere || namespace === "ns-a",
    });
    const kgql = await startKgql(client, {
      auth: "kubernetes",
      maxCost: 10,
      recheckMs: 100,
      accessCacheTtlMs: 1,
    });
    // Per event: the pod, its node and the node's pods alice sees (3 of ns-a: 5; all 33: 35).
    const stream = subscribe(
      "sse",
      kgql.url,
      "subscription { podEvents { pod { node { pods { name } } } } }",
      undefined,
      {
        token: "alice",
      },
    );
    try {
      await kgql.gateway.factory.waitForCacheSync(5000);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(stream.errors, [], "within the limit while alice sees ns-a");
      everywhere = true;
      await eventually(() => stream.errors.length > 0, "the stream to end at the next re-check");
      const raw = stream.errors[0] as unknown;
      const error = (Array.isArray(raw) ? raw[0] : raw) as { message: string };
      assert.match(
        error.message,
        /^subscription too expensive: each event's estimated cost of 35 exceeds the limit of 10/,
      );
    } finally {
      stream.stop();
      await kgql.close();
      await sim.stop();
    }
  });

  it("a caller limited to one namespace is estimated like that namespace's query: fan-outs average over what it sees", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 4, nodes: 2, deploymentsPerNamespace: 3, replicas: 4 });
    const gateway = new Gateway(new SharedInformerFactory(await clientFor(sim)));
    gateway.start();
    try {
      await gateway.factory.waitForCacheSync(5000);
      const namespace = sim.list("deployments")[0]!.metadata.namespace!;
      const oneNamespace = new RbacVisibility(
        { username: "alice", groups: [] },
        new Map<string, "all" | Set<string>>(
          ["Deployment", "ReplicaSet", "Pod"].map((k) => [k, new Set([namespace])]),
        ),
      );
      const topology = (args: string) =>
        `{ deployments(${args}first: 1000) { nodes { replicaSets { pods { name } } } } }`;
      const estimate = (query: string, v?: RbacVisibility) =>
        estimateCost(gateway, schema, parse(query), undefined, undefined, v).cost;
      const scoped = estimate(topology(`namespace: "${namespace}", `));
      assert.equal(estimate(topology(""), oneNamespace), scoped);
      assert.ok(estimate(topology("")) > scoped, "everyone else is estimated for the whole cluster");
    } finally {
      await gateway.factory.stop();
      await sim.stop();
    }
  });

  for (const transport of ["sse", "ws"] as const) {
    it(`a subscription whose events cost more than --max-cost is refused over ${transport}, a cheap one streams`, async () => {
      const sim = new SandboxCluster();
      await sim.start();
      seedDemo(sim);
      // Per event: the pod, its node and the node's pods (at least 2 per node in the demo) > 3.
      const kgql = await startKgqlOn(sim, { maxCost: 3 });
      const costly = subscribe(
        transport,
        kgql.url,
        "subscription { podEvents { pod { node { pods { name } } } } }",
      );
      const cheap = subscribe(transport, kgql.url, "subscription { podEvents { type pod { name } } }");
      try {
        await eventually(() => costly.done && costly.errors.length > 0, "the refusal");
        const error = costly.errors[0] as { message?: string; extensions?: { limit?: string } } | unknown[];
        const first = (Array.isArray(error) ? error[0] : error) as {
          message: string;
          extensions?: { limit?: string };
        };
        assert.match(
          first.message,
          /subscription too expensive: each event's estimated cost of \d+ exceeds the limit of 3 \(maxCost\)/,
        );
        assert.equal(costly.events.length, 0);
        assert.equal(await limitRejections(kgql.url, "maxCost"), 1, "counted as a limit rejection");
        const pod = sim.list("pods")[0]!;
        await new Promise((r) => setTimeout(r, 200));
        sim.update("pods", {
          ...pod,
          metadata: { ...pod.metadata, labels: { ...pod.metadata.labels, touched: "1" } },
        });
        await eventually(() => cheap.events.length > 0, "an event on the cheap subscription");
        assert.deepEqual(cheap.errors, []);
      } finally {
        costly.stop();
        cheap.stop();
        await kgql.close();
        await sim.stop();
      }
    });
  }
});
