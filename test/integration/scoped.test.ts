// Scoped mode (--namespaces) on the real control plane, with kgql itself running as a user whose
// RBAC is what the Helm chart's scoped install grants: the namespaced kinds through a Role in
// each of two namespaces only, the cluster-scoped kinds cluster-wide. kgql syncs and answers
// with it, refuses other namespaces, and its caches follow changes and an apiserver restart.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../../src/informers/client.ts";
import { CORE_KINDS } from "../../src/kinds.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { kubeconfigYaml } from "../cluster/cluster.ts";
import {
  type ClusterInfo,
  getCluster,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  restartApiserver,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { gql, startKgql } from "../helpers/kgql.ts";

const cluster = await getCluster();
const RBAC = "rbac.authorization.k8s.io";
/** The user kgql runs as: no bindings but the ones this file makes (and removes). */
const USER = "bob";

/** get/list/watch on these kinds, one rule per API group (as deploy/helm/kgql/kinds.yaml). */
function readRules(namespaced: boolean) {
  const byGroup = new Map<string, string[]>();
  for (const k of CORE_KINDS.filter((k) => k.namespaced === namespaced))
    byGroup.set(k.group, [...(byGroup.get(k.group) ?? []), k.resource]);
  return [...byGroup].map(([group, resources]) => ({
    apiGroups: [group],
    resources,
    verbs: ["get", "list", "watch"],
  }));
}

describe("scoped mode on namespace-only RBAC (real control plane)", {
  skip: cluster ? false : NO_CLUSTER_REASON,
}, () => {
  const c = cluster as ClusterInfo;
  let a: TestNamespace;
  let b: TestNamespace;
  let outside: TestNamespace;
  let kgql: GatewayServer;
  let scopedClient: () => Promise<KubeClient>;
  const clusterRole = `kgql-scoped-test-${process.pid}`;
  const pod = async (ns: string, name: string) =>
    c.api.post(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { app: "scoped" } },
      spec: await kwokPodSpec(c),
    });
  /** The pods kgql serves in a namespace, as namespace/name. */
  const served = async (ns: string): Promise<string[]> => {
    const res = await gql(kgql.url, `query($ns: String) { pods(namespace: $ns) { nodes { name } } }`, { ns });
    assert.equal(res.errors, undefined, res.text);
    return res.data.pods.nodes.map((n: { name: string }) => n.name);
  };
  /** The pods the apiserver holds in a namespace, as the admin sees them. */
  const held = async (ns: string): Promise<string[]> =>
    ((await c.api.get(`/api/v1/namespaces/${ns}/pods`)).body.items as { metadata: { name: string } }[])
      .map((p) => p.metadata.name)
      .sort();

  before(async () => {
    [a, b, outside] = await Promise.all([
      withNamespace("scoped-a"),
      withNamespace("scoped-b"),
      withNamespace("scoped-outside"),
    ]);
    for (const ns of [a, b, outside]) await pod(ns.name, `first-${ns.name}`);
    for (const ns of [a, b]) {
      await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/roles`, {
        apiVersion: `${RBAC}/v1`,
        kind: "Role",
        metadata: { name: "kgql" },
        rules: readRules(true),
      });
      await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/rolebindings`, {
        apiVersion: `${RBAC}/v1`,
        kind: "RoleBinding",
        metadata: { name: "kgql" },
        roleRef: { apiGroup: RBAC, kind: "Role", name: "kgql" },
        subjects: [{ kind: "User", name: USER, apiGroup: RBAC }],
      });
    }
    await c.api.post(`/apis/${RBAC}/v1/clusterroles`, {
      apiVersion: `${RBAC}/v1`,
      kind: "ClusterRole",
      metadata: { name: clusterRole },
      rules: readRules(false),
    });
    await c.api.post(`/apis/${RBAC}/v1/clusterrolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: clusterRole },
      roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: clusterRole },
      subjects: [{ kind: "User", name: USER, apiGroup: RBAC }],
    });
    scopedClient = async () => {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigYaml(c.server, c.ca, USER, c.tokens[USER]!));
      return KubeClient.fromKubeConfig(kc);
    };
    // The RBAC is what it should be: namespace-only for pods.
    await waitFor(
      async () => (await c.apiAs(USER).get(`/api/v1/namespaces/${a.name}/pods`, { allowError: true })).status,
      {
        message: `${USER}'s Role to take effect`,
        until: (s) => s === 200,
      },
    );
    for (const path of ["/api/v1/pods", `/api/v1/namespaces/${outside.name}/pods`])
      assert.equal((await c.apiAs(USER).get(path, { allowError: true })).status, 403, path);
    kgql = await startKgql(await scopedClient(), { namespaces: [a.name, b.name], syncTimeoutMs: 20_000 });
    const synced = await kgql.gateway.factory.waitForCacheSync(30_000);
    assert.deepEqual(
      [...synced].filter(([, ok]) => !ok),
      [],
      "every kind syncs with namespace-only RBAC",
    );
  });
  after(async () => {
    await kgql?.close();
    await c.api.delete(`/apis/${RBAC}/v1/clusterrolebindings/${clusterRole}`, undefined, {
      allowError: true,
    });
    await c.api.delete(`/apis/${RBAC}/v1/clusterroles/${clusterRole}`, undefined, { allowError: true });
    await Promise.all([a?.delete(), b?.delete(), outside?.delete()]);
  });

  it("without --namespaces the same RBAC never syncs the namespaced kinds (the reason for scoped mode)", async () => {
    const unscoped = await startKgql(await scopedClient(), {});
    try {
      const pods = unscoped.gateway.informer("Pod");
      assert.equal(await pods.waitForSync(3000), false);
      assert.match(pods.status().lastError ?? "", /forbidden|403/i);
      assert.equal(await unscoped.gateway.informer("Node").waitForSync(10_000), true);
    } finally {
      await unscoped.close();
    }
  });

  it("answers from the scoped namespaces and refuses the others naming the scope", async () => {
    const res = await gql(
      kgql.url,
      `{ pods(labelSelector: "app=scoped") { nodes { namespace name node { name } } } namespaces { name } nodes { totalCount } }`,
    );
    assert.equal(res.errors, undefined, res.text);
    assert.deepEqual(
      res.data.pods.nodes.map((p: { namespace: string; name: string }) => `${p.namespace}/${p.name}`).sort(),
      [a.name, b.name].sort().map((ns) => `${ns}/first-${ns}`),
    );
    assert.equal(res.data.pods.nodes[0].node.name, c.nodes[0]);
    assert.deepEqual(
      res.data.namespaces.map((n: { name: string }) => n.name).sort(),
      [a.name, b.name].sort(),
    );
    assert.ok(res.data.nodes.totalCount >= 1);
    const refused = await gql(kgql.url, `{ pods(namespace: "${outside.name}") { totalCount } }`);
    assert.equal(refused.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    assert.match(
      refused.errors![0]!.message,
      new RegExp(`"${outside.name}" is outside this gateway's scope`),
    );
    const generic = await gql(
      kgql.url,
      `{ resources(group: "", version: "v1", resource: "serviceaccounts") { nodes { namespace name } } }`,
    );
    assert.equal(generic.errors, undefined, generic.text);
    assert.deepEqual(
      [...new Set(generic.data.resources.nodes.map((n: { namespace: string }) => n.namespace))].sort(),
      [a.name, b.name].sort(),
    );
  });

  it("follows changes in each namespace, and converges again after an apiserver restart", {
    timeout: 180_000,
  }, async () => {
    await pod(a.name, "second");
    await c.api.delete(`/api/v1/namespaces/${b.name}/pods/first-${b.name}`, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      gracePeriodSeconds: 0,
    });
    await pod(outside.name, "never-served");
    await waitFor(async () => [await served(a.name), await served(b.name)], {
      message: "the changes in both namespaces",
      until: ([inA, inB]) => !!inA?.includes("second") && !inB?.includes(`first-${b.name}`),
    });
    const informer = kgql.gateway.informer("Pod");
    const restartsBefore = informer.status().watchRestarts;
    await restartApiserver({ kill: true });
    await pod(b.name, "after-restart");
    await c.api.delete(`/api/v1/namespaces/${a.name}/pods/second`, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      gracePeriodSeconds: 0,
    });
    for (const ns of [a.name, b.name]) {
      await waitFor(async () => [await served(ns), await held(ns)], {
        message: `kgql's pods of ${ns} to equal the apiserver's after the restart`,
        until: ([mine, theirs]) => JSON.stringify([...(mine ?? [])].sort()) === JSON.stringify(theirs),
        timeoutMs: 90_000,
      });
    }
    assert.ok(informer.status().watchRestarts >= restartsBefore + 2, "each namespace's watch was reopened");
    assert.ok(![...informer.store.values()].some((p) => p.metadata.namespace === outside.name));
  });
});
