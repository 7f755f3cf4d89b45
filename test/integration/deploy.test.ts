// The deployment manifests render and are accepted by the real apiserver (server-side apply,
// dry run): ServiceAccount, least-privilege ClusterRole and binding, Deployment with probes, Service.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderManifests } from "../../deploy/render.ts";
import { getCluster, NO_CLUSTER_REASON, withNamespace } from "../helpers/cluster.ts";

const cluster = await getCluster();

const resourcePaths: Record<string, (ns: string, name: string) => string> = {
  ServiceAccount: (ns, n) => `/api/v1/namespaces/${ns}/serviceaccounts/${n}`,
  Service: (ns, n) => `/api/v1/namespaces/${ns}/services/${n}`,
  Deployment: (ns, n) => `/apis/apps/v1/namespaces/${ns}/deployments/${n}`,
  ClusterRole: (_ns, n) => `/apis/rbac.authorization.k8s.io/v1/clusterroles/${n}`,
  ClusterRoleBinding: (_ns, n) => `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${n}`,
};

describe("deployment manifests", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  it("render and pass a server-side-apply dry run on the real apiserver", async (t) => {
    const c = cluster!;
    const ns = await withNamespace(t);
    const docs = renderManifests({ namespace: ns.name, image: "registry.invalid/kgql:test" });
    assert.deepEqual(docs.map((d) => d.kind).sort(), [
      "ClusterRole",
      "ClusterRoleBinding",
      "Deployment",
      "Service",
      "ServiceAccount",
    ]);
    const deployment = docs.find((d) => d.kind === "Deployment");
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
    const role = docs.find((d) => d.kind === "ClusterRole");
    const verbs = new Set(role.rules.flatMap((r: { verbs: string[] }) => r.verbs));
    assert.deepEqual([...verbs].sort(), ["create", "get", "list", "watch"], "read-only plus the two reviews");
    for (const doc of docs) {
      const path = resourcePaths[doc.kind]!(ns.name, doc.metadata.name);
      const res = await c.api.patch(path, doc, {
        patchType: "apply",
        query: { dryRun: "All", fieldManager: "kgql-test", force: "true" },
        allowError: true,
      });
      assert.ok(
        [200, 201].includes(res.status),
        `${doc.kind}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`,
      );
    }
    // A dry run persists nothing.
    const sa = await c.api.get(`/api/v1/namespaces/${ns.name}/serviceaccounts/kgql`, { allowError: true });
    assert.equal(sa.status, 404);
  });

  it("--enable-mutations: the variable, and impersonation as kgql's only extra right", async (t) => {
    const c = cluster!;
    const ns = await withNamespace(t);
    const docs = renderManifests({ namespace: ns.name, enableMutations: true });
    const env = docs.find((d) => d.kind === "Deployment").spec.template.spec.containers[0].env;
    assert.ok(
      env.some(
        (e: { name: string; value: string }) => e.name === "KGQL_ENABLE_MUTATIONS" && e.value === "true",
      ),
    );
    const role = docs.find((d) => d.kind === "ClusterRole");
    const verbs = new Set(role.rules.flatMap((r: { verbs: string[] }) => r.verbs));
    assert.deepEqual(
      [...verbs].sort(),
      ["create", "get", "impersonate", "list", "watch"],
      "no write verb of its own",
    );
    const impersonated = role.rules
      .filter((r: { verbs: string[] }) => r.verbs.includes("impersonate"))
      .flatMap((r: { resources: string[] }) => r.resources)
      .sort();
    assert.deepEqual(impersonated, ["*", "groups", "serviceaccounts", "users"]);
    // Without the option, none of it.
    const plain = renderManifests({ namespace: ns.name });
    assert.ok(!JSON.stringify(plain).includes("impersonate"));
    assert.ok(!JSON.stringify(plain).includes("KGQL_ENABLE_MUTATIONS"));
    const res = await c.api.patch(resourcePaths.ClusterRole!(ns.name, role.metadata.name), role, {
      patchType: "apply",
      query: { dryRun: "All", fieldManager: "kgql-test", force: "true" },
      allowError: true,
    });
    assert.ok(
      [200, 201].includes(res.status),
      `HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`,
    );
  });
});
