// --auth kubernetes with two real control planes: each cluster reviews the caller's token and
// RBAC itself (each has its own alice, with a token of its own), so a token valid in one cluster
// reads that one only; a fleet query shows nothing of the other (no object, no count) and names
// it. With the second control plane stopped, questions about the first are still answered.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
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
const RBAC = "rbac.authorization.k8s.io";

describe("--auth kubernetes over two real control planes", {
  skip: second ? false : NO_CLUSTER_REASON,
}, () => {
  const a = first as ClusterInfo;
  const b = second as ClusterInfo;
  let nsA: TestNamespace;
  let nsB: TestNamespace;
  let kgql: GatewayServer;
  const pod = async (c: ClusterInfo, ns: string, name: string) =>
    c.api.post(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { app: "fleet-auth" } },
      spec: await kwokPodSpec(c),
    });
  /** Lets alice list pods in one namespace of one cluster. */
  const grantAlice = async (c: ClusterInfo, ns: string) => {
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns}/roles`, {
      apiVersion: `${RBAC}/v1`,
      kind: "Role",
      metadata: { name: "pod-reader" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] }],
    });
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: "RoleBinding",
      metadata: { name: "alice-pod-reader" },
      roleRef: { apiGroup: RBAC, kind: "Role", name: "pod-reader" },
      subjects: [{ kind: "User", name: "alice", apiGroup: RBAC }],
    });
  };
  const as = (token: string, query: string) => gql(kgql.url, query, undefined, { token });
  const fleet = `{ pods(cluster: "*", labelSelector: "app=fleet-auth") { totalCount forbiddenClusters nodes { cluster namespace name } } }`;

  before(async () => {
    assert.notEqual(a.tokens.alice, b.tokens.alice, "each control plane issues its own tokens");
    [nsA, nsB] = await Promise.all([
      withNamespace("fleet-auth-a", { cluster: a }),
      withNamespace("fleet-auth-b", { cluster: b }),
    ]);
    await Promise.all([pod(a, nsA.name, "in-a"), pod(b, nsB.name, "in-b-1"), pod(b, nsB.name, "in-b-2")]);
    await grantAlice(a, nsA.name);
    kgql = await startKgql(undefined as never, {
      auth: "kubernetes",
      clusters: [
        { name: "a", client: await KubeClient.fromFile(a.kubeconfig) },
        { name: "b", client: await KubeClient.fromFile(b.kubeconfig) },
      ],
      accessCacheTtlMs: 300,
      tokenCacheTtlMs: 300,
    });
    await Promise.all(kgql.clusters.all().map((g) => g.factory.waitForCacheSync(30_000)));
    await waitFor(async () => (await as(a.tokens.alice!, fleet)).data?.pods?.nodes?.length, {
      message: "alice's pod in a served",
      until: (n) => n === 1,
    });
  });
  after(async () => {
    await kgql?.close();
    await Promise.all([nsA?.delete(), nsB?.delete()]);
  });

  it("a token of the first cluster reads the first only: the second is left out whole and named", async () => {
    const res = await as(a.tokens.alice!, fleet);
    assert.equal(res.status, 200);
    assert.equal(res.errors, undefined, res.text);
    assert.deepEqual(res.data.pods, {
      totalCount: 1,
      forbiddenClusters: ["b"],
      nodes: [{ cluster: "a", namespace: nsA.name, name: "in-a" }],
    });
    assert.doesNotMatch(res.text, /in-b/);
    const access = res.extensions?.clusterAccess as { cluster: string; code: string; message: string }[];
    assert.deepEqual(
      access.map((r) => [r.cluster, r.code]),
      [["b", "UNAUTHENTICATED"]],
    );
    assert.match(access[0]!.message, /invalid bearer token/);
    // A field about the second cluster fails alone, naming it.
    const mixed = await as(
      a.tokens.alice!,
      `{ mine: pods(namespace: "${nsA.name}") { totalCount } theirs: pod(cluster: "b", namespace: "${nsB.name}", name: "in-b-1") { name } }`,
    );
    assert.equal(mixed.data.mine.totalCount, 1);
    assert.equal(mixed.data.theirs, null);
    assert.equal(mixed.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.equal(mixed.errors?.[0]?.extensions?.cluster, "b");
  });

  it("a token valid only in the second reads nothing of the first; its RBAC there decides", async () => {
    const onlyA = await as(b.tokens.alice!, `{ pods(namespace: "${nsA.name}") { totalCount } }`);
    assert.equal(onlyA.status, 401, "not valid in the one cluster this operation reads");
    const inB = await as(b.tokens.alice!, `{ pods(cluster: "b", namespace: "${nsB.name}") { totalCount } }`);
    assert.equal(inB.errors?.[0]?.extensions?.code, "FORBIDDEN", inB.text);
    assert.match(inB.errors![0]!.message, /user "alice" cannot list pods/);
    await grantAlice(b, nsB.name);
    const granted = await waitFor(async () => as(b.tokens.alice!, fleet), {
      message: "alice's access in b to take effect",
      until: (r) => r.data?.pods?.totalCount === 2,
    });
    assert.deepEqual(granted.data.pods.forbiddenClusters, ["a"]);
    assert.deepEqual(
      granted.data.pods.nodes.map((n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`),
      ["b/in-b-1", "b/in-b-2"],
    );
  });

  it("with the second control plane stopped, the first is still answered and the second named", {
    timeout: 120_000,
  }, async () => {
    killApiserver(b);
    try {
      const t0 = Date.now();
      const mine = await as(
        a.tokens.alice!,
        `{ pods(cluster: "a", namespace: "${nsA.name}") { totalCount } }`,
      );
      assert.equal(mine.errors, undefined, mine.text);
      assert.equal(mine.data.pods.totalCount, 1);
      assert.ok(Date.now() - t0 < 5000, "a question about the first waits for no review in the second");
      // The second cannot review the token now (or still knows it is not valid there): left out
      // and named, and the fleet answer is the first's.
      const res = await as(a.tokens.alice!, fleet);
      assert.equal(res.errors, undefined, res.text);
      assert.deepEqual(res.data.pods.forbiddenClusters, ["b"]);
      assert.deepEqual(
        res.data.pods.nodes.map((n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`),
        ["a/in-a"],
      );
      const code = String((res.extensions?.clusterAccess as { code: string }[] | undefined)?.[0]?.code);
      assert.ok(["UNAUTHENTICATED", "SERVICE_UNAVAILABLE"].includes(code), code);
    } finally {
      await restartApiserverIn(b);
    }
    await waitFor(async () => as(b.tokens.alice!, fleet), {
      message: "b answering alice again after its restart",
      until: (r) => r.data?.pods?.totalCount === 2,
      timeoutMs: 60_000,
    });
  });
});
