// Several clusters from one gateway (simulated): the cluster argument on root fields and
// subscriptions, the cluster field, nested traversals staying in their cluster, clusters and
// per-cluster freshness. The real control planes are in test/integration/multi-cluster.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import { seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgql, startKgqlOnClusters, subscribe } from "../helpers/kgql.ts";
import { clientFor, pod, startSandbox } from "../helpers/sandbox.ts";

describe("multi-cluster (simulated)", () => {
  let east: SandboxCluster;
  let west: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    east = await startSandbox();
    west = await startSandbox();
    seedDemo(east, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 1, replicas: 2, seed: 1 });
    seedDemo(west, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 2, replicas: 1, seed: 2 });
    west.create("pods", pod("only-west", "default"));
    kgql = await startKgqlOnClusters({ east, west });
  });
  after(async () => {
    await kgql?.close();
    await east?.stop();
    await west?.stop();
  });

  it("reads the default cluster without the argument and the named one with it", async () => {
    const q = `query($c: String) { pods(cluster: $c) { totalCount nodes { cluster name } } }`;
    const def = await gql(kgql.url, q);
    const named = await gql(kgql.url, q, { c: "west" });
    assert.equal(def.errors, undefined);
    assert.equal(def.data.pods.totalCount, east.list("pods").length);
    assert.ok(def.data.pods.nodes.every((n: { cluster: string }) => n.cluster === "east"));
    assert.equal(named.data.pods.totalCount, west.list("pods").length);
    assert.ok(named.data.pods.nodes.every((n: { cluster: string }) => n.cluster === "west"));
    assert.ok(named.data.pods.nodes.some((n: { name: string }) => n.name === "only-west"));
    assert.notEqual(def.data.pods.totalCount, named.data.pods.totalCount);
  });

  it("keeps nested traversals in the object's own cluster", async () => {
    const res = await gql(
      kgql.url,
      `{ deployments(cluster: "west") { nodes { cluster name pods { cluster name node { cluster name } } replicaSets { cluster } } } }`,
    );
    assert.equal(res.errors, undefined);
    const deps = res.data.deployments.nodes;
    assert.equal(deps.length, 2);
    const westPods = new Set(west.list("pods").map((p) => p.metadata.name));
    for (const d of deps) {
      assert.equal(d.cluster, "west");
      assert.ok(d.pods.length > 0, "a west deployment's pods are found in west");
      for (const p of d.pods) {
        assert.equal(p.cluster, "west");
        assert.ok(westPods.has(p.name));
        assert.equal(p.node?.cluster, "west");
      }
      for (const rs of d.replicaSets) assert.equal(rs.cluster, "west");
    }
  });

  it("answers one query about both clusters, with aliases", async () => {
    const res = await gql(
      kgql.url,
      `{ e: namespaces { cluster name } w: namespaces(cluster: "west") { cluster name } one: pod(cluster: "west", namespace: "default", name: "only-west") { cluster name } none: pod(namespace: "default", name: "only-west") { name } }`,
    );
    assert.equal(res.errors, undefined);
    assert.ok(res.data.e.every((n: { cluster: string }) => n.cluster === "east"));
    assert.ok(res.data.w.every((n: { cluster: string }) => n.cluster === "west"));
    assert.deepEqual(res.data.one, { cluster: "west", name: "only-west" });
    assert.equal(res.data.none, null);
  });

  it("refuses an unknown cluster naming the known ones", async () => {
    const res = await gql(kgql.url, `{ pods(cluster: "north") { totalCount } }`);
    assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(res.errors![0]!.message, /unknown cluster "north".*"east", "west"/);
  });

  it("lists the clusters with their freshness, in clusters, cacheStatus and extensions", async () => {
    const res = await gql(
      kgql.url,
      `{ clusters { name default synced healthy unsynced } cacheStatus(cluster: "west") { cluster kind } }`,
    );
    assert.equal(res.errors, undefined);
    assert.deepEqual(
      res.data.clusters.map((c: { name: string; default: boolean; synced: boolean }) => [
        c.name,
        c.default,
        c.synced,
      ]),
      [
        ["east", true, true],
        ["west", false, true],
      ],
    );
    assert.ok(res.data.cacheStatus.length > 0);
    assert.ok(res.data.cacheStatus.every((s: { cluster: string }) => s.cluster === "west"));
    const cache = res.extensions?.cache as { clusters: Record<string, { synced: boolean }> };
    assert.deepEqual(Object.keys(cache.clusters), ["east", "west"]);
    assert.equal(cache.clusters.west!.synced, true);
  });

  it("streams a named cluster's pod events", async () => {
    const sub = subscribe(
      "sse",
      kgql.url,
      `subscription { podStream(cluster: "west", initial: true) { type pod { cluster name } } }`,
    );
    try {
      const deadline = Date.now() + 5000;
      while (!sub.events.some((e) => e.type === "SYNCED") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      west.create("pods", pod("late-west", "default"));
      while (!sub.events.some((e) => e.pod?.name === "late-west") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(sub.errors, []);
      const added = sub.events.filter((e) => e.type === "ADDED");
      assert.ok(added.some((e) => e.pod.name === "late-west"));
      assert.ok(added.every((e) => e.pod.cluster === "west"));
    } finally {
      sub.stop();
    }
  });
});

describe('fleet queries: cluster: "*" (simulated)', () => {
  let east: SandboxCluster;
  let west: SandboxCluster;
  let down: SandboxCluster;
  let kgql: GatewayServer;
  /** Pods per cluster: the seeds give both clusters pods of the same names in "default". */
  let total: number;
  before(async () => {
    east = await startSandbox();
    west = await startSandbox();
    down = await startSandbox();
    seedDemo(east, { namespaces: 2, nodes: 2, deploymentsPerNamespace: 1, replicas: 3, seed: 3 });
    seedDemo(west, { namespaces: 3, nodes: 1, deploymentsPerNamespace: 1, replicas: 2, seed: 4 });
    for (const sim of [east, west]) sim.create("pods", pod("same-name", "default"));
    const downClient = await clientFor(down);
    await down.stop(); // never answers: never syncs
    kgql = await startKgql(undefined as never, {
      clusters: [
        { name: "east", client: await clientFor(east) },
        { name: "west", client: await clientFor(west) },
        { name: "down", client: downClient },
      ],
    });
    for (const g of kgql.clusters.all().slice(0, 2)) await g.factory.waitForCacheSync(5000);
    total = east.list("pods").length + west.list("pods").length;
  });
  after(async () => {
    await kgql?.close();
    await east?.stop();
    await west?.stop();
  });

  const page = `query($first: Int, $after: String, $order: OrderBy) {
    pods(cluster: "*", first: $first, after: $after, orderBy: $order) {
      totalCount unsyncedClusters pageInfo { hasNextPage endCursor }
      edges { cursor node { cluster namespace name } }
    }
  }`;

  it("lists every synced cluster's objects in (namespace/name, cluster) order, naming the cluster left out", async () => {
    const res = await gql(kgql.url, page, { first: 1000 });
    assert.equal(res.errors, undefined, res.text);
    const { totalCount, unsyncedClusters, edges } = res.data.pods;
    assert.equal(totalCount, total);
    assert.deepEqual(unsyncedClusters, ["down"]);
    const rows = edges.map((e: { node: { cluster: string; namespace: string; name: string } }) => e.node);
    const key = (r: { cluster: string; namespace: string; name: string }) => [
      `${r.namespace}/${r.name}`,
      r.cluster,
    ];
    const sorted = [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    assert.deepEqual(rows, sorted);
    assert.deepEqual(
      rows.filter((r: { name: string }) => r.name === "same-name").map((r: { cluster: string }) => r.cluster),
      ["east", "west"],
    );
    assert.equal(
      rows.filter((r: { cluster: string }) => r.cluster === "west").length,
      west.list("pods").length,
    );
  });

  for (const order of [undefined, { field: "NAME", direction: "DESC" }, { field: "CREATION_TIMESTAMP" }]) {
    it(`pages through every cluster with cursors, orderBy ${JSON.stringify(order ?? "default")}`, async () => {
      const whole = (await gql(kgql.url, page, { first: 1000, order })).data.pods.edges;
      const seen: unknown[] = [];
      let after: string | null = null;
      for (let i = 0; i < 100; i++) {
        const res = await gql(kgql.url, page, { first: 4, after, order });
        assert.equal(res.errors, undefined, res.text);
        seen.push(...res.data.pods.edges);
        if (!res.data.pods.pageInfo.hasNextPage) break;
        after = res.data.pods.pageInfo.endCursor;
      }
      assert.equal(seen.length, total);
      assert.deepEqual(seen, whole);
    });
  }

  it("a cursor resumes after its object even when objects were added before it", async () => {
    const first = (await gql(kgql.url, page, { first: 5 })).data.pods;
    const next = (await gql(kgql.url, page, { first: 5, after: first.pageInfo.endCursor })).data.pods;
    east.create("pods", pod("aaa-new", "default"));
    await new Promise((r) => setTimeout(r, 200));
    const again = (await gql(kgql.url, page, { first: 5, after: first.pageInfo.endCursor })).data.pods;
    assert.deepEqual(again.edges, next.edges);
  });

  it("resolves nested traversals in each object's own cluster", async () => {
    const res = await gql(
      kgql.url,
      `{ deployments(cluster: "*") { nodes { cluster name pods { cluster } } } namespaces(cluster: "*") { cluster name } }`,
    );
    assert.equal(res.errors, undefined, res.text);
    const deps = res.data.deployments.nodes;
    assert.equal(deps.length, east.list("deployments").length + west.list("deployments").length);
    for (const d of deps) {
      assert.ok(d.pods.length > 0);
      for (const p of d.pods) assert.equal(p.cluster, d.cluster);
    }
    const names = res.data.namespaces.map((n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`);
    assert.ok(names.includes("east/default") && names.includes("west/default"));
    assert.equal(names.length, east.list("namespaces").length + west.list("namespaces").length);
  });

  it('refuses "*" where one cluster is meant, and cursors of the other kind', async () => {
    const get = await gql(
      kgql.url,
      `{ pod(cluster: "*", namespace: "default", name: "same-name") { name } }`,
    );
    assert.equal(get.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(get.errors![0]!.message, /pod reads one cluster: name it/);
    const single = (await gql(kgql.url, `{ pods(first: 1) { pageInfo { endCursor } } }`)).data.pods.pageInfo
      .endCursor;
    const mixed = await gql(kgql.url, page, { first: 1, after: single });
    assert.match(mixed.errors?.[0]?.message ?? "", /belongs to a query of one cluster/);
    const fleet = (await gql(kgql.url, page, { first: 1 })).data.pods.pageInfo.endCursor;
    const back = await gql(kgql.url, `query($a: String) { pods(first: 1, after: $a) { totalCount } }`, {
      a: fleet,
    });
    assert.match(back.errors?.[0]?.message ?? "", /invalid cursor/);
    const sub = subscribe("sse", kgql.url, `subscription { podStream(cluster: "*") { type } }`);
    try {
      const deadline = Date.now() + 5000;
      while (sub.errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(JSON.stringify(sub.errors), /podStream reads one cluster/);
    } finally {
      sub.stop();
    }
  });

  it("a namespace only some clusters have is listed from those; none: empty while a cluster is unsynced", async () => {
    const none = await gql(kgql.url, `{ pods(cluster: "*", namespace: "nowhere") { totalCount } }`);
    // "down" has not synced: it might hold the namespace, so the answer is empty and says so.
    assert.equal(none.errors, undefined, none.text);
    assert.deepEqual(none.data.pods.totalCount, 0);
    const westOnly = west
      .list("namespaces")
      .find((n) => !east.list("namespaces").some((e) => e.metadata.name === n.metadata.name))!;
    const some = await gql(
      kgql.url,
      `{ pods(cluster: "*", namespace: "${westOnly.metadata.name}") { totalCount nodes { cluster } } }`,
    );
    assert.equal(some.errors, undefined, some.text);
    assert.equal(some.data.pods.totalCount, west.list("pods", westOnly.metadata.name).length);
  });

  it("sizes the cost estimate by the clusters read", async () => {
    const bigger = west.list("pods").length > east.list("pods").length ? west : east;
    const small = await startKgqlOnClusters({ east, west }, { maxCost: bigger.list("pods").length + 2 });
    try {
      for (const c of ["east", "west"]) {
        const one = await gql(small.url, `{ pods(cluster: "${c}", first: 1000) { nodes { name } } }`);
        assert.equal(one.errors, undefined, one.text);
      }
      const all = await gql(small.url, `{ pods(cluster: "*", first: 1000) { nodes { name } } }`);
      assert.equal(all.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED");
      const now = east.list("pods").length + west.list("pods").length;
      assert.equal(all.errors?.[0]?.extensions?.cost, now, "both clusters' pods");
      // With every cluster synced, a namespace none of them has is refused.
      const none = await gql(small.url, `{ pods(cluster: "*", namespace: "nowhere") { totalCount } }`);
      assert.match(none.errors?.[0]?.message ?? "", /namespace "nowhere" does not exist in any cluster/);
    } finally {
      await small.close();
    }
  });
});
