// Generic access on the real control plane: a CustomResourceDefinition installed while kgql
// runs is listed by apiResources and served by resources(...) exactly as the apiserver lists it;
// owner traversal crosses from core kinds to the custom resource and back; every kind's root
// list equals the apiserver's list; bad arguments are GraphQL errors, never 500s.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import { CORE_KINDS } from "../../src/kinds.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  installCrd,
  type Json,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { gql, startKgql } from "../helpers/kgql.ts";

const cluster = await getCluster();

describe("generic resources on the real control plane", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  // A group per run: CRDs are cluster-scoped and other runs may share the cluster.
  const group = `kgql-${randomBytes(3).toString("hex")}.example.com`;
  const crdName = `gadgets.${group}`;
  let ns: TestNamespace;
  let kgql: GatewayServer;
  before(async () => {
    ns = await withNamespace("query-generic");
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig));
    await kgql.gateway.factory.waitForCacheSync(20_000);
  });
  after(async () => {
    await kgql.close();
    await c.api.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`, undefined, {
      allowError: true,
    });
    await ns.delete();
  });
  const q = (query: string, variables?: Record<string, unknown>) => gql(kgql.url, query, variables);

  it("every core kind's root list equals the apiserver's list (uids and resourceVersions)", async () => {
    for (const k of CORE_KINDS) {
      if (k.kind === "Namespace" || k.kind === "Event") continue; // events churn on their own
      const prefix = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
      await waitFor(
        async () => {
          const api = ((await c.api.get(`${prefix}/${k.resource}`)).body.items as Json[])
            .map((o) => `${o.metadata.uid}@${o.metadata.resourceVersion}`)
            .sort();
          const ours: string[] = [];
          let after: string | null = null;
          do {
            const r = await q(
              `query($after: String) { ${k.listField}(first: 1000, after: $after) { pageInfo { hasNextPage endCursor } nodes { uid resourceVersion } } }`,
              { after },
            );
            assert.equal(r.errors, undefined, JSON.stringify(r.errors));
            const page = r.data[k.listField];
            ours.push(...page.nodes.map((o: Json) => `${o.uid}@${o.resourceVersion}`));
            after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
          } while (after);
          return { api, ours: ours.sort() };
        },
        {
          message: `${k.listField} to equal the apiserver's ${k.resource}`,
          until: (v) => JSON.stringify(v.api) === JSON.stringify(v.ours),
          timeoutMs: 20_000,
          intervalMs: 200,
        },
      );
    }
  });

  it("a CRD installed while kgql runs: apiResources, resources(...), owners and children", async () => {
    await installCrd(c, { group, kind: "Gadget", plural: "gadgets", namespace: ns.name });
    const base = `/apis/${group}/v1/namespaces/${ns.name}/gadgets`;
    const cm = (
      await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "gadget-owner" },
      })
    ).body as Json;
    const gadget = (
      await c.api.post(base, {
        apiVersion: `${group}/v1`,
        kind: "Gadget",
        metadata: {
          name: "g1",
          labels: { tier: "gold" },
          ownerReferences: [
            { apiVersion: "v1", kind: "ConfigMap", name: "gadget-owner", uid: cm.metadata.uid },
          ],
        },
        spec: { size: 3 },
      })
    ).body as Json;
    await c.api.post(`/api/v1/namespaces/${ns.name}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "gadget-secret",
        ownerReferences: [
          { apiVersion: `${group}/v1`, kind: "Gadget", name: "g1", uid: gadget.metadata.uid },
        ],
      },
      stringData: { token: "gadget-secret-value-7f3a" },
    });

    // Discovery is refreshed on a miss: apiResources lists the CRD once resources(...) found it.
    const query = `query($g: String!, $ns: String!) {
      resources(group: $g, version: "v1", resource: "gadgets", namespace: $ns, labelSelector: "tier in (gold)") {
        totalCount nodes { __typename kind apiVersion name uid raw owners { __typename kind name } children { __typename kind name } } } }`;
    const r = await waitFor(async () => q(query, { g: group, ns: ns.name }), {
      message: "resources(...) to serve the gadget with its owner and child",
      until: (x) => x.data?.resources?.nodes?.[0]?.children?.length === 1,
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const node = r.data.resources.nodes[0];
    assert.equal(r.data.resources.totalCount, 1);
    assert.equal(node.__typename, "GenericResource");
    assert.equal(node.kind, "Gadget");
    assert.equal(node.apiVersion, `${group}/v1`);
    assert.equal(node.uid, gadget.metadata.uid);
    assert.deepEqual(node.raw.spec, { size: 3 });
    assert.deepEqual(node.owners, [{ __typename: "ConfigMap", kind: "ConfigMap", name: "gadget-owner" }]);
    assert.deepEqual(node.children, [{ __typename: "Secret", kind: "Secret", name: "gadget-secret" }]);
    assert.ok(!r.text.includes("gadget-secret-value-7f3a"));

    const back = await q(
      `query($ns: String!) { secret(namespace: $ns, name: "gadget-secret") { owners { __typename kind name ... on GenericResource { apiVersion } } } configMap(namespace: $ns, name: "gadget-owner") { children { kind name } } }`,
      { ns: ns.name },
    );
    assert.equal(back.errors, undefined, JSON.stringify(back.errors));
    assert.deepEqual(back.data.secret.owners, [
      { __typename: "GenericResource", kind: "Gadget", name: "g1", apiVersion: `${group}/v1` },
    ]);
    assert.deepEqual(back.data.configMap.children, [{ kind: "Gadget", name: "g1" }]);

    const apis = await q(`{ apiResources { group version resource kind namespaced } }`);
    assert.ok(
      apis.data.apiResources.some(
        (a: Json) => a.group === group && a.resource === "gadgets" && a.kind === "Gadget" && a.namespaced,
      ),
    );
    // The answer follows the apiserver: a deleted gadget disappears.
    await c.api.delete(`${base}/g1`);
    await waitFor(async () => q(query, { g: group, ns: ns.name }), {
      message: "the gadget to disappear",
      until: (x) => x.data?.resources?.totalCount === 0,
      timeoutMs: 30_000,
      intervalMs: 250,
    });
  });

  it("bad arguments are GraphQL errors with a code and a message that says what to fix", async () => {
    const cases: [string, string, RegExp][] = [
      [
        `{ resources(group: "nope.example.com", version: "v1", resource: "things") { totalCount } }`,
        "BAD_USER_INPUT",
        /things/,
      ],
      [
        `{ resources(group: "", version: "v1", resource: "nodes", namespace: "default") { totalCount } }`,
        "BAD_USER_INPUT",
        /cluster-scoped/,
      ],
      [`{ pods(namespace: "no-such-namespace-here") { totalCount } }`, "BAD_USER_INPUT", /does not exist/],
      [`{ pods(first: 100000) { totalCount } }`, "BAD_USER_INPUT", /maximum page size/],
      [`{ pods(after: "bm90IGEgY3Vyc29y") { totalCount } }`, "BAD_USER_INPUT", /invalid cursor/],
      [`{ pods(labelSelector: "a,,b") { totalCount } }`, "BAD_USER_INPUT", /label selector/],
    ];
    for (const [query, code, message] of cases) {
      const r = await q(query);
      assert.equal(r.status, 200, query);
      assert.equal(r.errors?.[0]?.extensions?.code, code, `${query}: ${JSON.stringify(r.errors)}`);
      assert.match(r.errors![0]!.message, message, query);
    }
  });
});
