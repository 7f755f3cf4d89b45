// Several clusters from one gateway (simulated): the cluster argument on root fields and
// subscriptions, the cluster field, nested traversals staying in their cluster, clusters and
// per-cluster freshness. The real control planes are in test/integration/multi-cluster.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import { seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgql, subscribe } from "../helpers/kgql.ts";
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
    kgql = await startKgql(undefined as never, {
      clusters: [
        { name: "east", client: await clientFor(east) },
        { name: "west", client: await clientFor(west) },
      ],
    });
    for (const g of kgql.clusters.all()) await g.factory.waitForCacheSync(5000);
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
