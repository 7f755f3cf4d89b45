// Typed resources (--resources) on the real control plane, with real CRDs (test/fixtures/crds:
// Argo CD Application, cert-manager Certificate) and one installed while kgql runs: typed
// spec/status fields equal what the apiserver holds (int-or-string, preserve-unknown-fields,
// maps, nested arrays), selectors and pages, owners/children across typed and built-in kinds,
// RBAC per group/resource and the cost limit as for built-in kinds, a typed subscription that
// keeps streaming while CRDs are added and removed, and a clear error for a removed resource.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  type Json,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { type Collected, gql, startKgql, subscribe } from "../helpers/kgql.ts";

const cluster = await getCluster();
const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

const fixture = (file: string): Json =>
  parseYaml(readFileSync(new URL(`../fixtures/crds/${file}`, import.meta.url), "utf8"));

/**
 * Creates a CRD (kept if a run before left it, once that one is not being deleted any more)
 * and waits until the apiserver serves it.
 */
async function applyCrd(c: ClusterInfo, crd: Json): Promise<void> {
  await waitFor(
    async () => {
      const created = await c.api.post(CRDS, crd, { expect: [201, 409] });
      if (created.status === 201) return true;
      const existing = await c.api.get(`${CRDS}/${crd.metadata.name}`, { allowError: true });
      return existing.status === 200 && !existing.body.metadata.deletionTimestamp;
    },
    { message: `${crd.metadata.name} created`, until: Boolean, timeoutMs: 60_000 },
  );
  const v = crd.spec.versions.find((x: Json) => x.storage).name;
  await waitFor(
    async () =>
      (await c.api.get(`/apis/${crd.spec.group}/${v}/${crd.spec.names.plural}`, { allowError: true })).status,
    {
      message: `${crd.metadata.name} to be served`,
      until: (s) => s === 200,
      timeoutMs: 30_000,
    },
  );
}

/** A small CRD of this run's own group, with the schema shapes typed fields must handle. */
function gizmoCrd(group: string): Json {
  const obj = (properties: Json) => ({ type: "object", properties });
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `gizmos.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { plural: "gizmos", singular: "gizmo", kind: "Gizmo", listKind: "GizmoList" },
      versions: [
        {
          name: "v1beta1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: obj({
              spec: obj({
                port: { "x-kubernetes-int-or-string": true },
                "max-surge": { "x-kubernetes-int-or-string": true },
                matrix: {
                  type: "array",
                  items: { type: "array", items: obj({ cell: { type: "integer", format: "int32" } }) },
                },
                routes: { type: "object", additionalProperties: obj({ weight: { type: "integer" } }) },
                extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              }),
            }),
          },
        },
      ],
    },
  };
}

describe("typed resources on the real control plane", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  const group = `kgql-typed-${randomBytes(3).toString("hex")}.example.com`;
  const appCrd = fixture("argocd-application.yaml");
  const certCrd = fixture("cert-manager-certificate.yaml");
  let ns: TestNamespace;
  let ns2: TestNamespace;
  let kgql: GatewayServer;
  const admin = (query: string, variables?: Record<string, unknown>) =>
    gql(kgql.url, query, variables, { token: c.adminToken });
  const alice = (query: string, variables?: Record<string, unknown>) =>
    gql(kgql.url, query, variables, { token: c.tokens.alice });
  const appSpec = (project: string, repo: string) => ({
    project,
    destination: { server: "https://kubernetes.default.svc", namespace: "web" },
    source: {
      repoURL: repo,
      targetRevision: "HEAD",
      helm: { valuesObject: { replicas: 3, nested: { list: [1, "two"] } } },
      kustomize: { commonLabels: { team: "payments", tier: "web" } },
    },
    sources: [{ repoURL: `${repo}/a` }, { repoURL: `${repo}/b`, path: "charts/b" }],
    syncPolicy: { retry: { limit: 5, backoff: { duration: "5s", factor: 2 } } },
  });
  const application = (namespace: string, name: string, labels: Record<string, string>) =>
    c.api.post(`/apis/argoproj.io/v1alpha1/namespaces/${namespace}/applications`, {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Application",
      metadata: { name, labels },
      spec: appSpec("default", `https://git.example/${name}`),
      status: { health: { status: "Healthy" }, sync: { status: "Synced" } },
    });

  before(async () => {
    ns = await withNamespace("typed");
    ns2 = await withNamespace("typed-2");
    await applyCrd(c, appCrd);
    await applyCrd(c, certCrd);
    await application(ns.name, "web-1", { tier: "web" });
    await application(ns.name, "web-2", { tier: "web" });
    await application(ns.name, "db-1", { tier: "db" });
    await application(ns2.name, "other", { tier: "web" });
    await c.api.post(`/apis/cert-manager.io/v1/namespaces/${ns.name}/certificates`, {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: "site" },
      spec: {
        secretName: "site-tls",
        dnsNames: ["a.example", "b.example"],
        issuerRef: { name: "ca", kind: "Issuer" },
      },
    });
    // alice may list and watch applications in the first namespace only, and no certificates.
    const rbac = "rbac.authorization.k8s.io";
    await c.api.post(`/apis/${rbac}/v1/namespaces/${ns.name}/roles`, {
      apiVersion: `${rbac}/v1`,
      kind: "Role",
      metadata: { name: "apps" },
      rules: [{ apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["list", "watch"] }],
    });
    await c.api.post(`/apis/${rbac}/v1/namespaces/${ns.name}/rolebindings`, {
      apiVersion: `${rbac}/v1`,
      kind: "RoleBinding",
      metadata: { name: "alice-apps" },
      roleRef: { apiGroup: rbac, kind: "Role", name: "apps" },
      subjects: [{ kind: "User", name: "alice", apiGroup: rbac }],
    });
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), {
      auth: "kubernetes",
      accessCacheTtlMs: 300,
      resources: ["applications.argoproj.io", "cert-manager.io/v1/certificates", `gizmos.${group}`],
    });
    await kgql.gateway.factory.waitForCacheSync(20_000);
  });
  after(async () => {
    await kgql?.close();
    for (const name of [appCrd.metadata.name, certCrd.metadata.name, `gizmos.${group}`])
      await c.api.delete(`${CRDS}/${name}`, undefined, { allowError: true });
    await ns?.delete();
    await ns2?.delete();
  });

  it("typed spec/status fields, selectors and pages equal the apiserver's objects", async () => {
    const page = `query($ns: String, $after: String) {
      applications(namespace: $ns, labelSelector: "tier=web", first: 1, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes {
          __typename name namespace kind apiVersion labels
          spec {
            project destination { server namespace }
            source { repoURL helm { valuesObject } kustomize { commonLabels } }
            sources { repoURL path }
            syncPolicy { retry { limit backoff { duration factor } } }
          }
          status { health { status } sync { status } }
        }
      }
    }`;
    const first = await admin(page, { ns: ns.name });
    assert.equal(first.errors, undefined, JSON.stringify(first.errors));
    const conn = first.data.applications;
    assert.equal(conn.totalCount, 2);
    assert.equal(conn.pageInfo.hasNextPage, true);
    const second = await admin(page, { ns: ns.name, after: conn.pageInfo.endCursor });
    assert.equal(second.errors, undefined, JSON.stringify(second.errors));
    assert.equal(second.data.applications.pageInfo.hasNextPage, false);
    const nodes = [...conn.nodes, ...second.data.applications.nodes];
    assert.deepEqual(
      nodes.map((n: Json) => n.name),
      ["web-1", "web-2"],
    );
    const api = (await c.api.get(`/apis/argoproj.io/v1alpha1/namespaces/${ns.name}/applications/web-1`)).body;
    const web1 = nodes[0];
    assert.equal(web1.__typename, "Application");
    assert.equal(web1.apiVersion, "argoproj.io/v1alpha1");
    assert.equal(web1.kind, "Application");
    assert.deepEqual(web1.labels, api.metadata.labels);
    assert.deepEqual(web1.spec, {
      project: api.spec.project,
      destination: api.spec.destination,
      source: {
        repoURL: api.spec.source.repoURL,
        // preserve-unknown-fields and an additionalProperties map: JSON as stored
        helm: { valuesObject: api.spec.source.helm.valuesObject },
        kustomize: { commonLabels: api.spec.source.kustomize.commonLabels },
      },
      // an array of objects: a list of typed objects
      sources: api.spec.sources.map((s: Json) => ({ repoURL: s.repoURL, path: s.path ?? null })),
      syncPolicy: { retry: { limit: 5, backoff: { duration: "5s", factor: 2 } } },
    });
    assert.deepEqual(web1.status, { health: { status: "Healthy" }, sync: { status: "Synced" } });

    const one = await admin(
      `query($ns: String!) {
        certificate(namespace: $ns, name: "site") { name spec { secretName dnsNames issuerRef { name kind } } }
        namespace(name: $ns) { applications(labelSelector: "tier=db") { name } certificates { name } }
      }`,
      { ns: ns.name },
    );
    assert.equal(one.errors, undefined, JSON.stringify(one.errors));
    assert.deepEqual(one.data.certificate.spec, {
      secretName: "site-tls",
      dnsNames: ["a.example", "b.example"],
      issuerRef: { name: "ca", kind: "Issuer" },
    });
    assert.deepEqual(one.data.namespace, {
      applications: [{ name: "db-1" }],
      certificates: [{ name: "site" }],
    });
  });

  it("owners and children cross typed and built-in kinds, as typed objects", async () => {
    const app = (await c.api.get(`/apis/argoproj.io/v1alpha1/namespaces/${ns.name}/applications/web-1`)).body;
    await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "web-1-config",
        ownerReferences: [
          { apiVersion: "argoproj.io/v1alpha1", kind: "Application", name: "web-1", uid: app.metadata.uid },
        ],
      },
    });
    const r = await waitFor(
      () =>
        admin(
          `query($ns: String!) {
            configMap(namespace: $ns, name: "web-1-config") { owners { __typename name ... on Application { spec { project } } } }
            application(namespace: $ns, name: "web-1") { children { __typename name } }
          }`,
          { ns: ns.name },
        ),
      {
        message: "the configmap cached with its owner",
        until: (r) => r.data?.configMap?.owners?.length === 1,
      },
    );
    assert.deepEqual(r.data.configMap.owners, [
      { __typename: "Application", name: "web-1", spec: { project: "default" } },
    ]);
    assert.deepEqual(r.data.application.children, [{ __typename: "ConfigMap", name: "web-1-config" }]);
  });

  it("RBAC per group/resource: a restricted caller sees her namespace's objects and is refused the rest", async () => {
    const mine = await alice(`{ applications { nodes { namespace name } } }`);
    assert.equal(mine.errors, undefined, JSON.stringify(mine.errors));
    assert.deepEqual(mine.data.applications.nodes.map((n: Json) => `${n.namespace}/${n.name}`).sort(), [
      `${ns.name}/db-1`,
      `${ns.name}/web-1`,
      `${ns.name}/web-2`,
    ]);
    const other = await alice(`query($ns: String) { applications(namespace: $ns) { totalCount } }`, {
      ns: ns2.name,
    });
    assert.equal(other.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(other.errors));
    assert.match(other.errors![0]!.message, /cannot list applications\.argoproj\.io in namespace/);
    const certs = await alice(`{ certificates { totalCount } }`);
    assert.equal(certs.errors?.[0]?.extensions?.code, "FORBIDDEN", JSON.stringify(certs.errors));
    // Subscriptions are refused the same way, before the stream starts.
    const stream = subscribe("sse", kgql.url, `subscription { certificateEvents { type } }`, undefined, {
      token: c.tokens.alice,
    });
    try {
      await waitFor(() => stream.done || stream.errors.length > 0, {
        message: "the refusal",
        until: Boolean,
      });
      assert.match(JSON.stringify(stream.errors), /cannot list certificates\.cert-manager\.io.*FORBIDDEN/);
    } finally {
      stream.stop();
    }
    // A nested list of a typed resource is filtered, never an error or a leak.
    const nested = await alice(`query($ns: String!) { namespace(name: $ns) { certificates { name } } }`, {
      ns: ns.name,
    });
    assert.deepEqual(nested.data?.namespace ?? { certificates: [] }, { certificates: [] });
  });

  it("the cost limit sizes typed connections from their caches", async () => {
    const small = await startKgql(await KubeClient.fromFile(c.kubeconfig), {
      maxCost: 2,
      resources: ["applications.argoproj.io"],
    });
    try {
      const big = await gql(small.url, `{ applications(first: 10) { nodes { name } } }`);
      assert.equal(big.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED", JSON.stringify(big));
      assert.match(big.errors![0]!.message, /estimated cost of 4 exceeds the limit of 2/);
      const narrow = await gql(
        small.url,
        `query($ns: String) { applications(namespace: $ns, first: 10) { nodes { name } } }`,
        {
          ns: ns2.name,
        },
      );
      assert.equal(narrow.errors, undefined, JSON.stringify(narrow.errors));
      assert.deepEqual(narrow.data.applications.nodes, [{ name: "other" }]);
      // A typed subscription's initial state counts too, before its stream starts.
      const stream = subscribe(
        "sse",
        small.url,
        `subscription { applicationEvents(initial: true) { object { name } } }`,
      );
      try {
        await waitFor(() => stream.done || stream.errors.length > 0, {
          message: "the refusal",
          until: Boolean,
        });
        assert.match(JSON.stringify(stream.errors), /subscription too expensive.*LIMIT_EXCEEDED/);
      } finally {
        stream.stop();
      }
    } finally {
      await small.close();
    }
  });

  it("all: every served resource that is not a built-in kind, typed through shared definitions ($ref)", async () => {
    const everything = await startKgql(await KubeClient.fromFile(c.kubeconfig), { resources: ["all"] });
    try {
      await c.api.post(`/apis/policy/v1/namespaces/${ns.name}/poddisruptionbudgets`, {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "pdb" },
        spec: { minAvailable: "50%", selector: { matchLabels: { app: "web" } } },
      });
      const r = await waitFor(
        () =>
          gql(
            everything.url,
            `query($ns: String) {
              podDisruptionBudgets(namespace: $ns) { nodes { name spec { minAvailable selector { matchLabels } } } }
              applications(namespace: $ns) { totalCount }
            }`,
            { ns: ns.name },
          ),
        {
          message: "the PodDisruptionBudget typed",
          until: (r) => r.data?.podDisruptionBudgets?.nodes?.length === 1,
        },
      );
      assert.equal(r.errors, undefined, JSON.stringify(r.errors));
      assert.deepEqual(r.data.podDisruptionBudgets.nodes[0], {
        name: "pdb",
        spec: { minAvailable: "50%", selector: { matchLabels: { app: "web" } } },
      });
      assert.equal(r.data.applications.totalCount, 3);
      // Built-in kinds keep their own types, and Secrets stay built-in (never typed with values).
      const builtIn = await gql(everything.url, `{ __type(name: "Secret") { fields { name } } }`);
      const fields = builtIn.data.__type.fields.map((f: Json) => f.name);
      assert.ok(fields.includes("keys") && !fields.includes("data"), fields.join(","));
    } finally {
      await everything.close();
    }
  });

  describe("while a client is subscribed", () => {
    let stream: Collected;
    const modified = async (name: string, project: string) => {
      await c.api.patch(`/apis/argoproj.io/v1alpha1/namespaces/${ns.name}/applications/${name}`, {
        spec: { project },
      });
      await waitFor(
        () => stream.events.find((e) => e.type === "MODIFIED" && e.object?.spec?.project === project),
        {
          message: `MODIFIED ${name} with project ${project} on the open stream`,
          until: Boolean,
          timeoutMs: 15_000,
        },
      );
      assert.equal(stream.done, false, JSON.stringify(stream.errors));
      assert.deepEqual(stream.errors, []);
    };
    before(async () => {
      stream = subscribe(
        "ws",
        kgql.url,
        `subscription($ns: String) { applicationEvents(namespace: $ns, initial: true) { type resourceVersion object { name spec { project source { repoURL } } } } }`,
        { ns: ns.name },
        { token: c.adminToken },
      );
      await waitFor(() => stream.events.some((e) => e.type === "SYNCED") || stream.done, {
        message: "the initial state and SYNCED",
        until: Boolean,
      });
    });
    after(() => stream?.stop());

    it("a typed subscription streams the initial state, then changes", async () => {
      assert.deepEqual(stream.errors, []);
      const initial = stream.events.filter((e) => e.type === "ADDED").map((e) => e.object.name);
      assert.deepEqual(initial.sort(), ["db-1", "web-1", "web-2"]);
      await modified("web-1", "first-change");
    });

    it("a CRD installed, then changed, while subscribed becomes typed fields; the open stream goes on", async () => {
      const before = await admin(`{ gizmos { totalCount } }`);
      assert.equal(before.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED", JSON.stringify(before));
      await applyCrd(c, gizmoCrd(group));
      await c.api.post(`/apis/${group}/v1beta1/namespaces/${ns.name}/gizmos`, {
        apiVersion: `${group}/v1beta1`,
        kind: "Gizmo",
        metadata: { name: "g" },
        spec: {
          port: 8080,
          "max-surge": "25%",
          matrix: [[{ cell: 1 }, { cell: 2 }], [{ cell: 3 }]],
          routes: { blue: { weight: 90 }, green: { weight: 10 } },
          extra: { anything: ["goes", 1] },
        },
      });
      const r = await waitFor(
        () =>
          admin(
            `query($ns: String) { gizmos(namespace: $ns) { nodes { __typename name spec { port max_surge matrix { cell } routes extra } } } }`,
            { ns: ns.name },
          ),
        {
          message: "gizmos served as typed fields",
          until: (r) => r.data?.gizmos?.nodes?.length === 1,
          timeoutMs: 30_000,
        },
      );
      assert.deepEqual(r.data.gizmos.nodes[0], {
        __typename: "Gizmo",
        name: "g",
        spec: {
          port: 8080,
          max_surge: "25%",
          matrix: [[{ cell: 1 }, { cell: 2 }], [{ cell: 3 }]],
          routes: { blue: { weight: 90 }, green: { weight: 10 } },
          extra: { anything: ["goes", 1] },
        },
      });
      // The CRD changed (a property added): the new field is served, without a restart.
      const crd = (await c.api.get(`${CRDS}/gizmos.${group}`)).body;
      crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.color = { type: "string" };
      await c.api.put(`${CRDS}/gizmos.${group}`, crd);
      const colorQuery = `query($ns: String) { gizmos(namespace: $ns) { nodes { spec { color port } } } }`;
      await waitFor(() => admin(colorQuery, { ns: ns.name }), {
        message: "the added property in the schema",
        until: (r) => r.errors === undefined,
        timeoutMs: 30_000,
      });
      // Written once the new schema is served (kube-apiserver's watch may deliver objects
      // written while it switches pruned of the new property, until they change again).
      await c.api.patch(`/apis/${group}/v1beta1/namespaces/${ns.name}/gizmos/g`, { spec: { color: "teal" } });
      const changed = await waitFor(() => admin(colorQuery, { ns: ns.name }), {
        message: "the added property's value",
        until: (r) => r.data?.gizmos?.nodes?.[0]?.spec?.color === "teal",
        timeoutMs: 15_000,
      });
      assert.deepEqual(changed.data.gizmos.nodes[0].spec, { color: "teal", port: 8080 });
      await modified("web-2", "after-gizmos");
    });

    it("a CRD removed: its fields are gone with a clear error; the open stream goes on", async () => {
      const ok = await admin(`{ certificates { totalCount } }`);
      assert.equal(ok.errors, undefined, JSON.stringify(ok.errors));
      // A stream of the resource removed ends, saying why.
      const certs = subscribe(
        "sse",
        kgql.url,
        `subscription($ns: String) { certificateEvents(namespace: $ns, initial: true) { type object { name } } }`,
        { ns: ns.name },
        { token: c.adminToken },
      );
      await waitFor(() => certs.events.some((e) => e.type === "SYNCED"), {
        message: "certificates synced",
        until: Boolean,
      });
      await c.api.delete(`${CRDS}/${certCrd.metadata.name}`);
      const r = await waitFor(() => admin(`{ certificates { totalCount } }`), {
        message: "certificates to be refused",
        until: (r) => (r.errors?.length ?? 0) > 0,
        timeoutMs: 30_000,
      });
      assert.equal(r.errors![0]!.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
      const messages = r.errors!.map((e) => e.message).join("\n");
      assert.match(
        messages,
        /certificates: certificates\.cert-manager\.io is no longer served by the cluster/,
      );
      await waitFor(() => certs.errors.length > 0 || certs.done, {
        message: "the certificate stream to end",
        until: Boolean,
      });
      certs.stop();
      assert.match(
        JSON.stringify(certs.errors),
        /certificates\.cert-manager\.io \(cert-manager\.io\/v1\) is no longer served by the cluster.*RESOURCE_REMOVED/,
      );
      // Its cache is dropped, not left retrying a resource that is gone.
      await waitFor(() => admin(`{ cacheStatus { group resource } }`), {
        message: "certificates gone from cacheStatus",
        until: (r) => !r.data.cacheStatus.some((s: Json) => s.group === "cert-manager.io"),
      });
      await modified("db-1", "after-removal");
    });
  });
});
