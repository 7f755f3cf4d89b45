// The Helm chart (deploy/helm/kgql), rendered by the real helm for each values example in
// deploy/helm/kgql/ci, is accepted object by object by the real apiserver (server-side apply,
// dry run), and its RBAC is the least the enabled features need.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CORE_KINDS } from "../../src/kinds.ts";
import { helmTemplate } from "../cluster/helm.ts";
import {
  type ClusterInfo,
  getCluster,
  type Json,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";

const cluster = await getCluster();
const chart = fileURLToPath(new URL("../../deploy/helm/kgql", import.meta.url));
const examples = readdirSync(`${chart}/ci`).filter((f) => f.endsWith(".yaml"));

// A ServiceMonitor is only accepted where its CRD is installed: a minimal one of our own, with
// the fields the chart sets typed, so a misspelled field is refused by the dry run.
const SERVICE_MONITOR_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "servicemonitors.monitoring.coreos.com" },
  spec: {
    group: "monitoring.coreos.com",
    scope: "Namespaced",
    names: {
      plural: "servicemonitors",
      singular: "servicemonitor",
      kind: "ServiceMonitor",
      listKind: "ServiceMonitorList",
    },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["selector", "endpoints"],
                properties: {
                  selector: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                  endpoints: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        port: { type: "string" },
                        path: { type: "string" },
                        interval: { type: "string" },
                        scrapeTimeout: { type: "string" },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

/** The REST path of an object, from the apiserver's discovery of its apiVersion. */
async function pathOf(c: ClusterInfo, doc: Json, discovered: Map<string, Json[]>): Promise<string> {
  const base = doc.apiVersion.includes("/") ? `/apis/${doc.apiVersion}` : `/api/${doc.apiVersion}`;
  if (!discovered.has(base)) discovered.set(base, (await c.api.get(base)).body.resources);
  const resource = discovered.get(base)!.find((r: Json) => r.kind === doc.kind && !r.name.includes("/"));
  assert.ok(resource, `${doc.apiVersion} ${doc.kind} is not served by the apiserver`);
  const ns = resource.namespaced ? `/namespaces/${doc.metadata.namespace}` : "";
  return `${base}${ns}/${resource.name}/${doc.metadata.name}`;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML documents
type Doc = any;
const ofKind = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind);
const one = (docs: Doc[], kind: string) => {
  const found = ofKind(docs, kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};
const resourcesIn = (rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[], verb: string) =>
  rules
    .filter((r) => r.verbs.includes(verb))
    .flatMap((r) => r.resources.map((res) => `${res}${r.apiGroups[0] ? `.${r.apiGroups[0]}` : ""}`))
    .sort();
const kindKey = (k: { resource: string; group: string }) => `${k.resource}${k.group ? `.${k.group}` : ""}`;

describe("helm chart", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  let release: TestNamespace;
  const scopedNamespaces: TestNamespace[] = [];
  const rendered = new Map<string, Doc[]>();

  before(async () => {
    const existing = await c.api.get(
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${SERVICE_MONITOR_CRD.metadata.name}`,
      { allowError: true },
    );
    if (existing.status === 404)
      await c.api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", SERVICE_MONITOR_CRD);
    release = await withNamespace("helm");
    // Scoped examples get fresh namespaces of their own, so runs never share one.
    scopedNamespaces.push(await withNamespace("helm-team-a"), await withNamespace("helm-team-b"));
    await waitFor(
      async () => (await c.api.get("/apis/monitoring.coreos.com/v1", { allowError: true })).status,
      {
        message: "the ServiceMonitor CRD to be served",
        until: (s) => s === 200,
        timeoutMs: 30_000,
      },
    );
  });
  after(async () => {
    for (const ns of [release, ...scopedNamespaces]) await ns?.delete();
  });

  async function render(example: string): Promise<Doc[]> {
    const cached = rendered.get(example);
    if (cached) return cached;
    const scoped = /^namespaces:/m.test(readFileSync(`${chart}/ci/${example}`, "utf8"));
    const docs = await helmTemplate(chart, {
      release: "kgql",
      namespace: release.name,
      valuesFiles: [`${chart}/ci/${example}`],
      setJson: scoped ? { namespaces: scopedNamespaces.map((n) => n.name) } : {},
    });
    rendered.set(example, docs);
    return docs;
  }

  it("has values examples for the default, scoped and highly available setups", () => {
    assert.deepEqual(examples.sort(), ["default.yaml", "ha.yaml", "scoped.yaml"]);
  });

  for (const example of examples) {
    it(`ci/${example}: every object passes a server-side-apply dry run`, async () => {
      const docs = await render(example);
      assert.ok(docs.length >= 5, `rendered ${docs.length} objects`);
      const discovered = new Map<string, Json[]>();
      for (const doc of docs) {
        const path = await pathOf(c, doc, discovered);
        const res = await c.api.patch(path, doc, {
          patchType: "apply",
          query: { dryRun: "All", fieldManager: "kgql-helm-test", force: "true", fieldValidation: "Strict" },
          allowError: true,
        });
        assert.ok(
          [200, 201].includes(res.status),
          `${doc.kind} ${doc.metadata.name}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`,
        );
      }
      // A dry run persists nothing.
      const deployment = one(docs, "Deployment");
      const got = await c.api.get(
        `/apis/apps/v1/namespaces/${release.name}/deployments/${deployment.metadata.name}`,
        { allowError: true },
      );
      assert.equal(got.status, 404);
    });
  }

  it("defaults: read access to exactly the cached kinds cluster-wide, the two reviews, nothing else", async () => {
    const docs = await render("default.yaml");
    assert.deepEqual(docs.map((d) => d.kind).sort(), [
      "ClusterRole",
      "ClusterRoleBinding",
      "Deployment",
      "Service",
      "ServiceAccount",
    ]);
    const role = one(docs, "ClusterRole");
    assert.deepEqual(resourcesIn(role.rules, "list"), CORE_KINDS.map(kindKey).sort());
    assert.deepEqual(resourcesIn(role.rules, "create"), [
      "subjectaccessreviews.authorization.k8s.io",
      "tokenreviews.authentication.k8s.io",
    ]);
    const verbs = new Set(role.rules.flatMap((r: { verbs: string[] }) => r.verbs));
    assert.deepEqual([...verbs].sort(), ["create", "get", "list", "watch"]);
    const deployment = one(docs, "Deployment");
    assert.equal(deployment.spec.replicas, 1);
    const env = Object.fromEntries(
      deployment.spec.template.spec.containers[0].env.map((e: Doc) => [e.name, e.value]),
    );
    assert.equal(env.KGQL_AUTH, "kubernetes");
    assert.equal(env.KGQL_NAMESPACES, undefined);
  });

  it("scoped: namespaced kinds only through a Role in each namespace, cluster-scoped ones cluster-wide", async () => {
    const docs = await render("scoped.yaml");
    const names = scopedNamespaces.map((n) => n.name).sort();
    const roles = ofKind(docs, "Role");
    assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), names);
    assert.deepEqual(
      ofKind(docs, "RoleBinding")
        .map((r) => r.metadata.namespace)
        .sort(),
      names,
    );
    const namespaced = CORE_KINDS.filter((k) => k.namespaced).map(kindKey);
    for (const role of roles)
      assert.deepEqual(resourcesIn(role.rules, "list"), [...namespaced, "widgets.example.com"].sort());
    const clusterRole = one(docs, "ClusterRole");
    // With typedResources, CRDs too: the typed schema follows them.
    assert.deepEqual(
      resourcesIn(clusterRole.rules, "list"),
      [
        ...CORE_KINDS.filter((k) => !k.namespaced).map(kindKey),
        "customresourcedefinitions.apiextensions.k8s.io",
      ].sort(),
    );
    assert.deepEqual(resourcesIn(clusterRole.rules, "watch"), resourcesIn(clusterRole.rules, "list"));
    const env = Object.fromEntries(
      one(docs, "Deployment").spec.template.spec.containers[0].env.map((e: Doc) => [e.name, e.value]),
    );
    assert.equal(env.KGQL_NAMESPACES, scopedNamespaces.map((n) => n.name).join(","));
    assert.equal(env.KGQL_DISABLE_UI, "true");
    assert.equal(env.KGQL_RESOURCES, "widgets.example.com");
  });

  it("ha: replicas, disruption budget, ServiceMonitor, NetworkPolicy, mutations' impersonation, clusters' kubeconfigs", async () => {
    const docs = await render("ha.yaml");
    const deployment = one(docs, "Deployment");
    assert.equal(deployment.spec.replicas, 3);
    assert.equal(one(docs, "PodDisruptionBudget").spec.minAvailable, 2);
    assert.equal(one(docs, "ServiceMonitor").spec.endpoints[0].path, "/metrics");
    const policy = one(docs, "NetworkPolicy");
    assert.deepEqual(policy.spec.policyTypes, ["Ingress", "Egress"]);
    const role = one(docs, "ClusterRole");
    assert.deepEqual(resourcesIn(role.rules, "impersonate"), [
      "*.authentication.k8s.io",
      "groups",
      "serviceaccounts",
      "users",
    ]);
    assert.deepEqual(
      resourcesIn(role.rules, "create"),
      ["subjectaccessreviews.authorization.k8s.io", "tokenreviews.authentication.k8s.io"],
      "no write access of its own",
    );
    assert.ok(resourcesIn(role.rules, "watch").includes("gadgets.example.org"));
    const container = deployment.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.value]));
    assert.equal(env.KGQL_CLUSTER, "east=/etc/kgql/clusters/east,west=/etc/kgql/clusters/west:admin@west");
    assert.equal(env.KGQL_ENABLE_MUTATIONS, "true");
    assert.equal(env.KGQL_CORS_ORIGIN, "https://portal.example,https://ops.example");
    assert.equal(env.KGQL_SYNC_TIMEOUT, "20");
    assert.equal(container.image, "registry.example/kgql:0.1.0-test");
    assert.equal(deployment.spec.template.spec.volumes[0].secret.secretName, "kgql-clusters");
  });

  it("refuses values that would serve the cluster unchecked or that name no kubeconfig Secret", async () => {
    await assert.rejects(
      helmTemplate(chart, { release: "kgql", namespace: release.name, setJson: { auth: "none" } }),
      /auth: none serves the whole cluster/,
    );
    await assert.rejects(
      helmTemplate(chart, {
        release: "kgql",
        namespace: release.name,
        setJson: { clusters: { list: [{ name: "east" }] } },
      }),
      /clusters.list needs clusters.secretName/,
    );
    await assert.rejects(
      helmTemplate(chart, {
        release: "kgql",
        namespace: release.name,
        setJson: { typedResources: ["widgets"] },
      }),
      /is not <resource>.<group>/,
    );
  });
});
