// One gateway serving two real control planes (and a third that never answers): the cluster
// argument and field, each cluster's freshness, and the second control plane stopped mid-test
// and started again, while the first keeps being answered live.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { kubeconfigYaml } from "../cluster/cluster.ts";
import {
  type ClusterInfo,
  getCluster,
  getSecondCluster,
  killApiserver,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  restartApiserverIn,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { gql, startKgql } from "../helpers/kgql.ts";

const first = await getCluster();
const second = first ? await getSecondCluster() : null;

interface Summary {
  synced: boolean;
  unsynced: string[];
  unhealthy: string[];
  stale: { kind: string }[];
}

describe("one gateway, two real control planes", { skip: second ? false : NO_CLUSTER_REASON }, () => {
  const a = first as ClusterInfo;
  const b = second as ClusterInfo;
  let nsA: TestNamespace;
  let nsB: TestNamespace;
  let kgql: GatewayServer;
  const pod = async (c: ClusterInfo, ns: string, name: string) =>
    c.api.post(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { app: "fleet" } },
      spec: await kwokPodSpec(c),
    });
  /** The pods kgql serves in one namespace of one cluster. */
  const podsIn = async (cluster: string, ns: string) => {
    const res = await gql(
      kgql.url,
      `query($c: String, $ns: String) { pods(cluster: $c, namespace: $ns) { nodes { cluster name node { cluster name } } } }`,
      { c: cluster, ns },
    );
    assert.equal(res.errors, undefined, res.text);
    return res;
  };

  before(async () => {
    [nsA, nsB] = await Promise.all([
      withNamespace("multi-cluster-a", { cluster: a }),
      withNamespace("multi-cluster-b", { cluster: b }),
    ]);
    await Promise.all([pod(a, nsA.name, "in-a"), pod(b, nsB.name, "in-b")]);
    // A third cluster whose apiserver never answers (a closed loopback port).
    const gone = new KubeConfig();
    gone.loadFromString(kubeconfigYaml("https://127.0.0.1:1", a.ca, "admin", a.adminToken));
    kgql = await startKgql(undefined as never, {
      clusters: [
        { name: "a", client: await KubeClient.fromFile(a.kubeconfig) },
        { name: "b", client: await KubeClient.fromFile(b.kubeconfig) },
        { name: "gone", client: await KubeClient.fromKubeConfig(gone) },
      ],
      staleAfterMs: 1000,
      syncTimeoutMs: 1500,
    });
    await Promise.all([a, b].map((_, i) => kgql.clusters.all()[i]!.factory.waitForCacheSync(20_000)));
  });
  after(async () => {
    await kgql?.close();
    await Promise.all([nsA?.delete(), nsB?.delete()]);
  });

  it("answers each cluster from its own caches, nested traversals included", async () => {
    await waitFor(async () => (await podsIn("a", nsA.name)).data.pods.nodes, {
      message: "pod in-a served",
      until: (n: unknown[]) => n.length === 1,
    });
    const inA = (await podsIn(undefined as never, nsA.name)).data.pods.nodes;
    assert.deepEqual(inA, [{ cluster: "a", name: "in-a", node: { cluster: "a", name: a.nodes[0] } }]);
    await waitFor(async () => (await podsIn("b", nsB.name)).data.pods.nodes, {
      message: "pod in-b served",
      until: (n: unknown[]) => n.length === 1,
    });
    // Both clusters have a node of the same name: the pod's node is the one of its own cluster.
    const inB = (await podsIn("b", nsB.name)).data.pods.nodes;
    assert.deepEqual(inB, [{ cluster: "b", name: "in-b", node: { cluster: "b", name: b.nodes[0] } }]);
    // Each namespace exists in its own cluster only.
    const wrong = await gql(kgql.url, `{ pods(cluster: "b", namespace: "${nsA.name}") { totalCount } }`);
    assert.match(wrong.errors?.[0]?.message ?? "", /does not exist/);
  });

  it("a cluster that never answered fails only the queries about it", async () => {
    const [here, there, list] = await Promise.all([
      gql(kgql.url, `{ pods(namespace: "${nsA.name}") { nodes { name } } }`),
      gql(kgql.url, `{ pods(cluster: "gone") { totalCount } }`),
      gql(kgql.url, `{ clusters { name synced } }`),
    ]);
    assert.equal(here.errors, undefined, here.text);
    assert.deepEqual(here.data.pods.nodes, [{ name: "in-a" }]);
    assert.equal(there.data, null);
    assert.equal(there.errors?.[0]?.extensions?.code, "NOT_SYNCED");
    assert.equal(there.errors?.[0]?.extensions?.cluster, "gone");
    assert.match(there.errors![0]!.message, /^cluster "gone": not synced/);
    assert.deepEqual(list.data.clusters, [
      { name: "a", synced: true },
      { name: "b", synced: true },
      { name: "gone", synced: false },
    ]);
    const cache = here.extensions?.cache as Summary & { clusters: Record<string, Summary> };
    assert.equal(cache.synced, true, "the top level is the default cluster's, as with one cluster");
    assert.ok(cache.clusters.gone!.unsynced.includes("Pod"));
    // A nullable field about it fails alone: the rest of the answer stands.
    const mixed = await gql(
      kgql.url,
      `{ ns: namespace(name: "${nsA.name}") { name } p: pod(cluster: "gone", namespace: "x", name: "y") { name } }`,
    );
    assert.deepEqual(mixed.data, { ns: { name: nsA.name }, p: null });
    assert.equal(mixed.errors?.[0]?.extensions?.cluster, "gone");
  });

  it("serves the first live and the second's last known state while the second is stopped, then catches up", {
    timeout: 120_000,
  }, async () => {
    killApiserver(b);
    try {
      // The second's watches break: it shows as unhealthy, then stale, in every answer.
      const down = await waitFor(
        async () => gql(kgql.url, `{ clusters { name healthy unhealthy stale { kind } } }`),
        {
          message: "cluster b reported stale",
          until: (r) =>
            r.data.clusters
              .find((c: { name: string }) => c.name === "b")
              .stale.some((s: { kind: string }) => s.kind === "Pod"),
          timeoutMs: 30_000,
        },
      );
      const bInfo = down.data.clusters.find((c: { name: string }) => c.name === "b");
      assert.equal(bInfo.healthy, false);
      assert.ok(bInfo.unhealthy.includes("Pod"));
      assert.equal(down.data.clusters.find((c: { name: string }) => c.name === "a").healthy, true);

      // The first is still live: a pod created now is served.
      await pod(a, nsA.name, "while-b-down");
      await waitFor(async () => (await podsIn("a", nsA.name)).data.pods.nodes.length, {
        message: "a pod created in a while b is down",
        until: (n) => n === 2,
      });
      // The second answers its last known state, saying so.
      const both = await gql(
        kgql.url,
        `{ a: pods(namespace: "${nsA.name}") { totalCount } b: pods(cluster: "b", namespace: "${nsB.name}") { nodes { cluster name } } status: cacheStatus(cluster: "b") { cluster kind watchHealthy } fleet: pods(cluster: "*", labelSelector: "app=fleet") { unsyncedClusters nodes { cluster name } } }`,
      );
      assert.equal(both.errors, undefined, both.text);
      assert.equal(both.data.a.totalCount, 2);
      assert.deepEqual(both.data.b.nodes, [{ cluster: "b", name: "in-b" }]);
      // The fleet-wide list: both real clusters (b from its last known state), "gone" named.
      assert.deepEqual(both.data.fleet.unsyncedClusters, ["gone"]);
      const fleet = both.data.fleet.nodes.map(
        (n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`,
      );
      for (const p of ["a/in-a", "a/while-b-down", "b/in-b"])
        assert.ok(fleet.includes(p), `${p} in ${fleet}`);
      const podStatus = both.data.status.find((s: { kind: string }) => s.kind === "Pod");
      assert.deepEqual(podStatus, { cluster: "b", kind: "Pod", watchHealthy: false });
      const cache = both.extensions?.cache as Summary & { clusters: Record<string, Summary> };
      assert.ok(cache.clusters.b!.stale.some((s) => s.kind === "Pod"));
      assert.deepEqual(cache.unhealthy, [], "the default cluster is healthy");
    } finally {
      await restartApiserverIn(b);
    }
    // Back: changes made after the restart reach kgql, and b is healthy again.
    await pod(b, nsB.name, "after-restart");
    await waitFor(
      async () => (await podsIn("b", nsB.name)).data.pods.nodes.map((n: { name: string }) => n.name),
      {
        message: "a pod created in b after its restart",
        until: (names: string[]) => names.includes("after-restart"),
        timeoutMs: 60_000,
      },
    );
    await waitFor(async () => gql(kgql.url, `{ clusters { name healthy } }`), {
      message: "cluster b healthy again",
      until: (r) => r.data.clusters.find((c: { name: string }) => c.name === "b").healthy,
      timeoutMs: 60_000,
    });
  });
});
