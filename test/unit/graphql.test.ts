// The GraphQL API over the simulated cluster: topology answers equal the cluster's objects,
// pagination, errors with codes, Secret safety, freshness, and subscriptions on both transports.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../../src/informers/types.ts";
import { SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgql, startKgqlOn, subscribe } from "../helpers/kgql.ts";
import { clientFor, eventually, pod, WIDGETS } from "../helpers/sandbox.ts";

describe("GraphQL over the simulated cluster", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 3, nodes: 3, deploymentsPerNamespace: 4, replicas: 3 });
    kgql = await startKgqlOn(sim);
  });
  after(async () => {
    await kgql.close();
    await sim.stop();
  });
  const q = (query: string, variables?: Record<string, unknown>) => gql(kgql.url, query, variables);

  it("answers the topology deployment -> replicasets -> pods -> node as the cluster has it", async () => {
    const r = await q(`{ deployments(first: 1000) { totalCount nodes { uid namespace name
      replicaSets { uid pods { uid name nodeName node { name } } } } } }`);
    assert.equal(r.errors, undefined);
    const deployments = sim.list("deployments");
    assert.equal(r.data.deployments.totalCount, deployments.length);
    for (const d of r.data.deployments.nodes) {
      const rss = sim
        .list("replicasets", d.namespace)
        .filter((rs) => rs.metadata.ownerReferences?.[0]?.uid === d.uid);
      assert.deepEqual(
        d.replicaSets.map((x: { uid: string }) => x.uid).sort(),
        rss.map((x) => x.metadata.uid).sort(),
      );
      for (const rs of d.replicaSets) {
        const pods = sim
          .list("pods", d.namespace)
          .filter((p) => p.metadata.ownerReferences?.[0]?.uid === rs.uid);
        assert.deepEqual(
          rs.pods.map((p: { uid: string }) => p.uid).sort(),
          pods.map((p) => p.metadata.uid).sort(),
        );
        for (const p of rs.pods) assert.equal(p.node.name, p.nodeName);
      }
    }
  });

  it("service -> pods and pod -> services agree with the services' selectors", async () => {
    const r = await q(
      `{ services(namespace: "team-1") { nodes { name selector pods { name labels services { name } } } } }`,
    );
    assert.equal(r.errors, undefined);
    for (const svc of r.data.services.nodes) {
      const expected = sim
        .list("pods", "team-1")
        .filter((p) => Object.entries(svc.selector ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v))
        .map((p) => p.metadata.name)
        .sort();
      assert.deepEqual(svc.pods.map((p: { name: string }) => p.name).sort(), expected);
      assert.ok(expected.length > 0);
      for (const p of svc.pods) assert.ok(p.services.some((s: { name: string }) => s.name === svc.name));
    }
  });

  it("pages with cursors in a stable order; totalCount; orderBy; a cap on first", async () => {
    const all = (await q(`{ pods(first: 1000) { totalCount nodes { namespace name } } }`)).data.pods;
    const names: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r = await q(
        `query($after: String) { pods(first: 7, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { namespace name } } }`,
        { after },
      );
      names.push(
        ...r.data.pods.nodes.map((p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`),
      );
      assert.equal(r.data.pods.totalCount, all.totalCount);
      if (!r.data.pods.pageInfo.hasNextPage) break;
      after = r.data.pods.pageInfo.endCursor;
    }
    const expected = all.nodes.map((p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`);
    assert.deepEqual(names, expected);
    assert.deepEqual(expected, [...expected].sort());
    const byName = await q(
      `{ pods(first: 1000, orderBy: {field: NAME, direction: DESC}) { nodes { name } } }`,
    );
    const n = byName.data.pods.nodes.map((p: { name: string }) => p.name);
    assert.deepEqual(n, [...n].sort().reverse());
    const capped = await q(`{ pods(first: 5000) { totalCount } }`);
    assert.equal(capped.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(capped.errors![0]!.message, /maximum page size of 1000/);
  });

  it("bad input: selectors, cursors, namespaces, resources give BAD_USER_INPUT with a message to act on", async () => {
    const cases: [string, RegExp][] = [
      [
        `{ pods(labelSelector: "app in (a") { totalCount } }`,
        /invalid label selector "app in \(a": expected/,
      ],
      [`{ pods(after: "garbage!") { totalCount } }`, /invalid cursor/],
      [`{ pods(namespace: "nope") { totalCount } }`, /namespace "nope" does not exist/],
      [
        `{ resources(group: "", version: "v1", resource: "pots") { totalCount } }`,
        /does not serve resource "v1\/pots"/,
      ],
      [`{ pods(first: -1) { totalCount } }`, /non-negative/],
    ];
    for (const [query, message] of cases) {
      const r = await q(query);
      assert.equal(r.status, 200, query);
      assert.equal(r.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", query);
      assert.match(r.errors![0]!.message, message);
    }
    const other = await q(`{ pods(first: 2, orderBy: {field: NAME}) { pageInfo { endCursor } } }`);
    const wrongOrder = await q(`query($a: String) { pods(after: $a) { totalCount } }`, {
      a: other.data.pods.pageInfo.endCursor,
    });
    assert.match(wrongOrder.errors![0]!.message, /another orderBy/);
    // The document limits (graphql-armor) are LIMIT_EXCEEDED errors naming the limit, like the others.
    const deep = await q(`{ pods { nodes { ${"node { pods { ".repeat(6)}name${" } }".repeat(6)} } } }`);
    assert.match(
      deep.errors![0]!.message,
      /^query too deep: its depth of 15 exceeds the limit of 12 \(maxDepth\)/,
    );
    assert.deepEqual(deep.errors![0]!.extensions, { code: "LIMIT_EXCEEDED", limit: "maxDepth", max: 12 });
    const aliases = await q(
      `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: pods { totalCount }`).join(" ")} }`,
    );
    assert.match(aliases.errors![0]!.message, /^too many aliases: 40 exceed the limit of 30 \(maxAliases\)/);
    assert.equal(aliases.errors![0]!.extensions?.limit, "maxAliases");
    const long = await q(`{ ${"pods { totalCount } ".repeat(1300)} }`);
    assert.match(
      long.errors![0]!.message,
      /^query too long: its tokens exceed the limit of 5000 \(maxTokens\)/,
    );
    assert.equal(long.errors![0]!.extensions?.code, "LIMIT_EXCEEDED");
    for (const r of [deep, aliases, long]) assert.doesNotMatch(r.text, /Syntax Error/);
    const invalid = await q(`{ pods { nope } }`);
    assert.ok(invalid.errors?.[0]?.message.includes("nope"));
  });

  // Mistakes in naming a resource, with what resources(...) answers (resourceEvents must agree).
  const resourceMistakes: [args: string, message: RegExp][] = [
    [
      `group: "x.io", version: "v1", resource: "widgets"`,
      /^the apiserver does not serve resource "x\.io\/v1\/widgets"\./,
    ],
    [
      `group: "", version: "v1", resource: "widgets"`,
      /^the apiserver does not serve resource "v1\/widgets"\./,
    ],
    [
      `group: "apps", version: "v2", resource: "deployments"`,
      /^the apiserver does not serve resource "apps\/v2\/deployments"\. Did you mean: apps\/v1\/deployments[,?]/,
    ],
    [
      `group: "", version: "v1", resource: "nodes", namespace: "default"`,
      /^nodes is cluster-scoped: leave out the namespace argument$/,
    ],
  ];
  for (const transport of ["sse", "ws"] as const) {
    it(`resourceEvents over ${transport}: an unserved resource or a namespace on a cluster-scoped one is BAD_USER_INPUT, as resources(...) says, before the stream starts`, async () => {
      for (const [args, message] of resourceMistakes) {
        const query = await q(`{ resources(${args}) { totalCount } }`);
        assert.equal(query.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", args);
        assert.match(query.errors![0]!.message, message);
        const s = subscribe(transport, kgql.url, `subscription { resourceEvents(${args}) { type } }`);
        try {
          await eventually(() => s.done, `resourceEvents(${args}) to end`, 2000);
          assert.deepEqual(s.events, [], args);
          // graphql-ws hands the errors over as one array; SSE as a payload's errors.
          const errors = s.errors.flat() as { message?: string; extensions?: { code?: string } }[];
          assert.equal(errors.length, 1, `${args}: ${JSON.stringify(s.errors)}`);
          assert.equal(errors[0]!.message, query.errors![0]!.message, args);
          assert.deepEqual(errors[0]!.extensions, query.errors![0]!.extensions, args);
        } finally {
          s.stop();
        }
      }
    });
  }

  it("Did you mean: the closest resources first (the name in another case, singular, short name, a typo), at most five", async () => {
    const cases: [resource: string, first: string][] = [
      ["pod", "v1/pods"],
      ["Pod", "v1/pods"],
      ["po", "v1/pods"],
      ["PODS", "v1/pods"],
      ["deployment", "apps/v1/deployments"],
      ["deploy", "apps/v1/deployments"],
      ["deploymnets", "apps/v1/deployments"],
      ["ingress", "networking.k8s.io/v1/ingresses"],
      ["svc", "v1/services"],
      ["configmap", "v1/configmaps"],
    ];
    for (const [resource, first] of cases) {
      const r = await q(`{ resources(group: "", version: "v1", resource: "${resource}") { totalCount } }`);
      assert.equal(r.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", resource);
      const m = /Did you mean: ([^?]*)\?/.exec(r.errors![0]!.message);
      assert.ok(m, `${resource}: ${r.errors![0]!.message}`);
      const suggested = m[1]!.split(", ");
      assert.equal(suggested[0], first, `${resource}: ${r.errors![0]!.message}`);
      assert.ok(suggested.length <= 5, r.errors![0]!.message);
      assert.equal(new Set(suggested).size, suggested.length, r.errors![0]!.message);
    }
    // Nothing close: no guesses, only where to look. Not a name that merely starts like one
    // ("podsecuritypolicies" is not about pods), nor every name a letter starts.
    for (const resource of ["widgets", "podsecuritypolicies", "s"]) {
      const far = await q(`{ resources(group: "", version: "v1", resource: "${resource}") { totalCount } }`);
      assert.equal(
        far.errors![0]!.message,
        `the apiserver does not serve resource "v1/${resource}". (query apiResources for the full list)`,
      );
    }
  });

  it("a served resource that cannot be listed and watched is BAD_USER_INPUT, for resources(...) and resourceEvents", async () => {
    sim.registerResource({
      group: "example.com",
      version: "v1",
      resource: "reviews",
      kind: "Review",
      namespaced: false,
      verbs: ["create"],
    });
    await kgql.gateway.factory.discovery.resources(true); // discovery re-reads a miss only every 10 s
    const args = `group: "example.com", version: "v1", resource: "reviews"`;
    const message = /^resource reviews cannot be cached: it does not support list and watch/;
    const r = await q(`{ resources(${args}) { totalCount } }`);
    assert.equal(r.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", r.text);
    assert.match(r.errors![0]!.message, message);
    const s = subscribe("ws", kgql.url, `subscription { resourceEvents(${args}) { type } }`);
    try {
      await eventually(() => s.done, "resourceEvents to end", 2000);
      const errors = s.errors.flat() as { message?: string; extensions?: { code?: string } }[];
      assert.equal(errors[0]?.extensions?.code, "BAD_USER_INPUT", JSON.stringify(s.errors));
      assert.match(errors[0]!.message!, message);
    } finally {
      s.stop();
    }
  });

  it("never serves Secret values, in any field", async () => {
    const values = sim.list("secrets").flatMap((s) => Object.values(s.data as Record<string, string>));
    const decoded = values.map((v) => Buffer.from(v, "base64").toString());
    const r = await q(`{ secrets(first: 1000) { nodes { name type keys raw annotations } }
      pods(first: 1000) { nodes { raw containers { env { name value valueFrom { type name key } } } secrets { raw keys } } }
      resources(group: "", version: "v1", resource: "secrets") { nodes { raw } } }`);
    assert.equal(r.errors, undefined);
    for (const v of [...values, ...decoded]) assert.ok(!r.text.includes(v), `secret value ${v} leaked`);
    assert.deepEqual(r.data.secrets.nodes[0].keys, ["password", "token"]);
    const env = r.data.pods.nodes.flatMap((p: { containers: { env: unknown[] }[] }) =>
      p.containers.flatMap((c) => c.env),
    );
    assert.ok(env.some((e: { valueFrom?: { type: string } }) => e.valueFrom?.type === "secretKeyRef"));
  });

  it("traversals: owners, children, events, configMaps, PVC -> volume, ingress <-> services, cronjob -> jobs", async () => {
    const r =
      await q(`{ namespace(name: "team-1") { pods(labelSelector: "app=db") { name persistentVolumeClaims { name volume { name claim { name } } } owners { kind name } }
      ingresses { name services { name ingresses { name } } } cronJobs { jobs { pods { name controller { kind } } } } } 
      deployment(namespace: "team-1", name: "app-0") { children { kind name } events { reason } pods { configMaps { name } events { reason } } } }`);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const ns = r.data.namespace;
    assert.equal(ns.pods[0].persistentVolumeClaims[0].volume.claim.name, "data");
    assert.deepEqual(ns.pods[0].owners, [{ kind: "StatefulSet", name: "db" }]);
    assert.ok(ns.ingresses[0].services.length >= 1);
    assert.ok(
      ns.ingresses[0].services.every((s: { ingresses: { name: string }[] }) =>
        s.ingresses.some((i) => i.name === "web"),
      ),
    );
    assert.equal(ns.cronJobs[0].jobs[0].pods[0].controller.kind, "Job");
    const dep = r.data.deployment;
    assert.equal(dep.children[0].kind, "ReplicaSet");
    assert.ok(
      dep.pods.every((p: { configMaps: { name: string }[] }) => p.configMaps[0]?.name === "app-config"),
    );
    assert.ok(
      dep.pods.some((p: { events: { reason: string }[] }) => p.events.some((e) => e.reason === "Scheduled")),
    );
  });

  it("cacheStatus and extensions.cache report freshness", async () => {
    const r = await q(`{ cacheStatus { kind synced objects resourceVersion watchHealthy } }`);
    const pods = r.data.cacheStatus.find((s: { kind: string }) => s.kind === "Pod");
    assert.equal(pods.synced, true);
    assert.equal(pods.objects, sim.list("pods").length);
    assert.deepEqual(r.extensions?.cache, { synced: true, unsynced: [], unhealthy: [], stale: [] });
  });

  for (const transport of ["sse", "ws"] as const) {
    it(`subscriptions over ${transport}: initial state, SYNCED, then live pod events filtered by selector`, async () => {
      const s = subscribe(
        transport,
        kgql.url,
        `subscription { podStream(namespace: "team-2", labelSelector: "app=app-1", initial: true) { type resourceVersion pod { name phase } previous { phase } } }`,
      );
      try {
        await eventually(() => s.events.some((e) => e.type === "SYNCED"), "SYNCED");
        const initial = s.events
          .filter((e) => e.type === "ADDED")
          .map((e) => e.pod.name)
          .sort();
        const expected = sim
          .list("pods", "team-2")
          .filter((p) => p.metadata.labels?.app === "app-1")
          .map((p) => p.metadata.name)
          .sort();
        assert.deepEqual(initial, expected);
        const p = sim.get("pods", "team-2", expected[0]!)!;
        const oldPhase = (p.status as { phase: string }).phase;
        const newPhase = transport === "sse" ? "Failed" : "Succeeded";
        sim.update("pods", { ...p, status: { ...(p.status as object), phase: newPhase } });
        sim.create("pods", pod(`other-${transport}`, "team-2", { app: "not-matching" }));
        sim.delete("pods", "team-2", expected[1]!);
        await eventually(() => s.events.length === expected.length + 3, "MODIFIED and DELETED");
        const live = s.events.slice(expected.length + 1);
        assert.deepEqual(
          live.map((e) => [e.type, e.pod.name]),
          [
            ["MODIFIED", expected[0]],
            ["DELETED", expected[1]],
          ],
        );
        assert.equal(live[0].previous.phase, oldPhase);
        assert.equal(live[0].pod.phase, newPhase);
        sim.create("pods", {
          ...p,
          metadata: { ...p.metadata, name: expected[1]!, uid: "", resourceVersion: "" },
        });
      } finally {
        s.stop();
      }
    });
  }

  it("contract podEvents and a bad selector on a subscription gives a GraphQL error, not a dead stream", async () => {
    const bad = subscribe("ws", kgql.url, `subscription { podEvents(labelSelector: "a in (") { type } }`);
    await eventually(() => bad.errors.length > 0 || bad.done, "an error");
    assert.match(JSON.stringify(bad.errors), /invalid label selector/);
    bad.stop();
    const ok = subscribe(
      "sse",
      kgql.url,
      `subscription { podEvents(namespace: "default") { type pod { name } } }`,
    );
    await new Promise((r) => setTimeout(r, 200));
    sim.create("pods", pod("contract-pod"));
    await eventually(() => ok.events.length === 1, "an ADDED event");
    assert.deepEqual(ok.events[0], { type: "ADDED", pod: { name: "contract-pod" } });
    ok.stop();
  });
});

describe("introspection and GraphiQL can be turned off", () => {
  it("rejects introspection with a clear error and serves no GraphiQL page", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    const kgql = await startKgql(await clientFor(sim), { introspection: false, graphiql: false });
    try {
      const r = await gql(kgql.url, "{ __schema { types { name } } }");
      assert.match(r.errors?.[0]?.message ?? "", /introspection/i);
      const ok = await gql(kgql.url, "{ nodes { totalCount } }");
      assert.equal(ok.errors, undefined);
      const page = await fetch(kgql.url, { headers: { accept: "text/html" } });
      assert.ok(!(await page.text()).includes("GraphiQL"));
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });
});

describe("not synced", () => {
  it("a query on a kind still syncing waits for it and answers in full, never partially", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    seedDemo(sim, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 2, replicas: 2 });
    // Every pod request fails until the faults are lifted: the pod cache cannot sync before.
    sim.faults.failNext({ status: 500, resource: "pods", count: 100_000 });
    const kgql = await startKgql(await clientFor(sim), { syncTimeoutMs: 10_000 });
    try {
      let answered = false;
      const answer = gql(kgql.url, `{ pods(first: 1000) { totalCount } cacheStatus { kind synced } }`);
      void answer.then(() => {
        answered = true;
      });
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(answered, false, "the query waits while the pod cache cannot sync");
      sim.faults.reset();
      const r = await answer;
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      assert.equal(r.data.pods.totalCount, sim.list("pods").length);
      assert.ok(r.data.pods.totalCount > 0);
      assert.equal(r.data.cacheStatus.find((s: { kind: string }) => s.kind === "Pod").synced, true);
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });

  it("resources(...) of a resource that cannot sync: NOT_SYNCED naming it, after the bounded wait", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    sim.registerResource(WIDGETS);
    sim.faults.failNext({ status: 500, resource: "widgets.example.com", count: 1000 });
    const kgql = await startKgqlOn(sim, { syncTimeoutMs: 300 });
    try {
      const started = Date.now();
      const r = await gql(
        kgql.url,
        `{ a: resources(group: "example.com", version: "v1", resource: "widgets") { totalCount }
           b: resources(group: "example.com", version: "v1", resource: "widgets") { totalCount } }`,
      );
      assert.ok(Date.now() - started >= 300, "waited the sync timeout");
      assert.equal(r.errors?.[0]?.extensions?.code, "NOT_SYNCED");
      assert.match(r.errors![0]!.message, /not synced: widgets has not finished its first list/);
      assert.equal(r.data, null);
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });

  it("a query on a kind that cannot sync waits a bounded time, then fails with NOT_SYNCED", async () => {
    const sim = new SandboxCluster();
    await sim.start();
    sim.faults.failNext({ status: 500, resource: "pods", count: 1000 });
    const kgql = await startKgql(await clientFor(sim), { syncTimeoutMs: 300 });
    try {
      const r = await gql(kgql.url, `{ pods { totalCount } }`);
      assert.equal(r.errors?.[0]?.extensions?.code, "NOT_SYNCED");
      assert.match(r.errors![0]!.message, /not synced: the cache of Pod/);
      assert.equal(r.data, undefined);
      const ready = await fetch(kgql.url.replace("/graphql", "/readyz"));
      assert.equal(ready.status, 503);
      assert.match(await ready.text(), /Pod/);
      const ok = await gql(kgql.url, `{ nodes { totalCount } }`);
      assert.equal(ok.errors, undefined, "other kinds are served");
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });
});

export type { KubeObject };
