// Mutations on the real control plane (--auth kubernetes --enable-mutations): each is sent as
// the caller (impersonated: alice's Roles decide, bob has none), answered from kgql's cache once
// it holds the write (the next query agrees), with dryRun storing nothing, a stale
// resourceVersion a CONFLICT, bad input BAD_USER_INPUT, and one audit line each.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { renderManifests } from "../../deploy/render.ts";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { kubeconfigYaml, kwokNodeAnnotation } from "../cluster/cluster.ts";
import {
  type ClusterInfo,
  getCluster,
  type Json,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { gql, startKgql } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";

const cluster = await getCluster();
const RBAC = "rbac.authorization.k8s.io";

describe("mutations (--auth kubernetes --enable-mutations)", {
  skip: cluster ? false : NO_CLUSTER_REASON,
}, () => {
  const c = cluster as ClusterInfo;
  const log = captureLog();
  let ns: TestNamespace;
  let kgql: GatewayServer;
  let podSpec: Record<string, unknown>;
  const suffix = randomBytes(3).toString("hex");
  /** A node of this run's own (kwok runs its pods), so draining it disturbs nothing else. */
  const nodeName = `kgql-mut-${suffix}`;
  const clusterRole = `kgql-mutations-${suffix}`;
  const as = (user: "alice" | "bob", query: string, variables?: Record<string, unknown>) =>
    gql(kgql.url, query, variables, { token: c.tokens[user] });
  const api = (path: string) => `/apis/apps/v1/namespaces/${ns.name}${path}`;

  const deployment = (name: string, replicas: number) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec },
    },
  });
  /** The audit lines written so far for a mutation field. */
  const audits = (action: string) => log.lines.filter((l) => l.audit === "mutation" && l.action === action);

  before(async () => {
    ns = await withNamespace("mutations");
    podSpec = await kwokPodSpec(c);
    await c.api.post(api("/deployments"), deployment("web", 1));
    await c.api.post(`/apis/batch/v1/namespaces/${ns.name}/cronjobs`, {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "tick" },
      spec: {
        schedule: "0 0 1 1 *",
        jobTemplate: { spec: { template: { spec: { ...podSpec, restartPolicy: "Never" } } } },
      },
    });
    // alice may write these in the test namespace, and cordon and drain nodes; bob nothing.
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/roles`, {
      apiVersion: `${RBAC}/v1`,
      kind: "Role",
      metadata: { name: "writer" },
      rules: [
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch"] },
        { apiGroups: ["batch"], resources: ["cronjobs"], verbs: ["get", "list", "watch", "patch"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "delete"] },
        { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
        {
          apiGroups: [""],
          resources: ["configmaps"],
          verbs: ["get", "list", "watch", "create", "patch", "delete"],
        },
      ],
    });
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: "RoleBinding",
      metadata: { name: "alice-writer" },
      roleRef: { apiGroup: RBAC, kind: "Role", name: "writer" },
      subjects: [{ kind: "User", name: "alice", apiGroup: RBAC }],
    });
    await c.api.post(`/apis/${RBAC}/v1/clusterroles`, {
      apiVersion: `${RBAC}/v1`,
      kind: "ClusterRole",
      metadata: { name: clusterRole },
      rules: [
        { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch", "patch"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      ],
    });
    await c.api.post(`/apis/${RBAC}/v1/clusterrolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: clusterRole },
      roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: clusterRole },
      subjects: [{ kind: "User", name: "alice", apiGroup: RBAC }],
    });
    const template = (await c.api.get(`/api/v1/nodes/${c.nodes[0]}`)).body;
    await c.api.post("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: nodeName,
        annotations: { [kwokNodeAnnotation.key]: kwokNodeAnnotation.value },
        labels: { ...template.metadata.labels, "kubernetes.io/hostname": nodeName, "kgql-drain": suffix },
      },
      spec: {},
    });
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), {
      auth: "kubernetes",
      enableMutations: true,
      accessCacheTtlMs: 300,
      logger: log.logger,
    });
    await kgql.gateway.factory.waitForCacheSync(20_000);
    await waitFor(() => kgql.gateway.informer("Deployment").store.has(`${ns.name}/web`), {
      message: "the deployment cached",
      until: Boolean,
    });
  });
  after(async () => {
    await kgql?.close();
    // alice's grants go at once: a namespace takes a while to delete, and other test files
    // check exactly what alice may see.
    await c.api.delete(`/apis/${RBAC}/v1/namespaces/${ns?.name}/rolebindings/alice-writer`, undefined, {
      allowError: true,
    });
    await c.api.delete(`/apis/${RBAC}/v1/clusterrolebindings/${clusterRole}`, undefined, {
      allowError: true,
    });
    await c.api.delete(`/apis/${RBAC}/v1/clusterroles/${clusterRole}`, undefined, { allowError: true });
    // The node's pods go before it: without the node nothing would finish their termination.
    const onNode = await c.api.get("/api/v1/pods", {
      query: { fieldSelector: `spec.nodeName=${nodeName}` },
      allowError: true,
    });
    for (const p of (onNode.body?.items ?? []) as Json[])
      await c.api.delete(
        `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`,
        { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 },
        { allowError: true },
      );
    await c.api.delete(`/api/v1/nodes/${nodeName}`, undefined, { allowError: true });
    await ns?.delete();
  });

  const SCALE = `mutation($ns: String!, $n: String!, $r: Int!, $rv: String, $dry: Boolean) {
    scaleDeployment(namespace: $ns, name: $n, replicas: $r, resourceVersion: $rv, dryRun: $dry) {
      name replicas resourceVersion
    }
  }`;

  it("scaleDeployment as alice: the answer and the very next query are the apiserver's new state", async () => {
    const before = (await c.api.get(api("/deployments/web"))).body;
    const r = await as("alice", SCALE, { ns: ns.name, n: "web", r: 3 });
    assert.equal(r.errors, undefined, r.text);
    assert.equal(r.data.scaleDeployment.replicas, 3);
    // The write's own resourceVersion or later (the controller may have updated the status already).
    const answered = Number(r.data.scaleDeployment.resourceVersion);
    assert.ok(answered > Number(before.metadata.resourceVersion), "the answer is after the write");
    const stored = (await c.api.get(api("/deployments/web"))).body;
    assert.equal(stored.spec.replicas, 3);
    assert.ok(Number(stored.metadata.resourceVersion) >= answered);
    // Read-your-writes: the cache already holds the write when the mutation answers.
    const cached = kgql.gateway.get("Deployment", ns.name, "web")!;
    assert.ok(Number(cached.metadata.resourceVersion) >= answered, "cached at or past the answer");
    assert.equal((cached.spec as { replicas: number }).replicas, 3);
    const next = await as("alice", `{ deployment(namespace: "${ns.name}", name: "web") { replicas } }`);
    assert.equal(next.data.deployment.replicas, 3, next.text);
    // The controllers act on it (kwok runs the pods), and kgql follows.
    await waitFor(
      async () =>
        (await as("alice", `{ pods(namespace: "${ns.name}", labelSelector: "app=web") { totalCount } }`))
          .data,
      { message: "3 pods of web in kgql", until: (d) => d?.pods.totalCount === 3, timeoutMs: 30_000 },
    );
    const line = audits("scaleDeployment").at(-1)!;
    assert.equal(line.user, "alice");
    assert.equal(line.verb, "patch");
    assert.equal(line.resource, "deployments.apps");
    assert.equal(line.namespace, ns.name);
    assert.equal(line.name, "web");
    assert.equal(line.dryRun, false);
    assert.equal(line.result, "ok");
    assert.equal(line.cluster, "default");
  });

  it("bob, with no RBAC of his own, is refused with FORBIDDEN naming verb, resource and namespace", async () => {
    const before = (await c.api.get(api("/deployments/web"))).body;
    const r = await as("bob", SCALE, { ns: ns.name, n: "web", r: 5 });
    assert.equal(r.data, null);
    const err = r.errors![0]!;
    assert.equal(err.extensions?.code, "FORBIDDEN", r.text);
    assert.equal(err.extensions?.verb, "patch");
    assert.equal(err.extensions?.resource, "deployments.apps");
    assert.equal(err.extensions?.namespace, ns.name);
    assert.match(err.message, /user "bob" cannot patch deployments\.apps "web" in namespace/);
    const afterwards = (await c.api.get(api("/deployments/web"))).body;
    assert.equal(afterwards.metadata.resourceVersion, before.metadata.resourceVersion, "nothing written");
    const line = audits("scaleDeployment").at(-1)!;
    assert.equal(line.user, "bob");
    assert.equal(line.result, "FORBIDDEN");
    // Every other action is the caller's too.
    const refusals: [string, string, string][] = [
      [
        `mutation { restartDeployment(namespace: "${ns.name}", name: "web") { name } }`,
        "patch",
        "deployments.apps",
      ],
      [
        `mutation { suspendCronJob(namespace: "${ns.name}", name: "tick") { name } }`,
        "patch",
        "cronjobs.batch",
      ],
      [`mutation { deletePod(namespace: "${ns.name}", name: "any") { deleted } }`, "delete", "pods"],
      [`mutation { cordonNode(name: "${nodeName}") { name } }`, "patch", "nodes"],
      [`mutation { drainNode(name: "${nodeName}") { evicted { name } } }`, "patch", "nodes"],
      [
        `mutation { applyManifest(namespace: "${ns.name}", manifest: {apiVersion: "v1", kind: "ConfigMap", metadata: {name: "x"}}) { name } }`,
        "patch",
        "configmaps",
      ],
    ];
    for (const [query, verb, resource] of refusals) {
      const res = await as("bob", query);
      assert.equal(res.errors?.[0]?.extensions?.code, "FORBIDDEN", `${query}: ${res.text}`);
      assert.equal(res.errors?.[0]?.extensions?.verb, verb, query);
      assert.equal(res.errors?.[0]?.extensions?.resource, resource, query);
    }
  });

  it("dryRun answers with the server's result and leaves the object as it was", async () => {
    const before = (await c.api.get(api("/deployments/web"))).body;
    const r = await as("alice", SCALE, { ns: ns.name, n: "web", r: 7, dry: true });
    assert.equal(r.errors, undefined, r.text);
    assert.equal(r.data.scaleDeployment.replicas, 7);
    const afterwards = (await c.api.get(api("/deployments/web"))).body;
    assert.equal(afterwards.spec.replicas, before.spec.replicas);
    assert.equal(afterwards.metadata.resourceVersion, before.metadata.resourceVersion);
    const cached = await as("alice", `{ deployment(namespace: "${ns.name}", name: "web") { replicas } }`);
    assert.equal(cached.data.deployment.replicas, before.spec.replicas);
    assert.equal(audits("scaleDeployment").at(-1)!.dryRun, true);
    // A dry-run delete deletes nothing (an object of the test's own: kube-root-ca.crt is the
    // controller-manager's, created and replaced on its own schedule).
    const kept = await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "kept" },
      data: { a: "b" },
    });
    const del = await as(
      "alice",
      `mutation($ns: String!) { deleteResource(version: "v1", resource: "configmaps", namespace: $ns, name: "kept", dryRun: true) { deleted name } }`,
      { ns: ns.name },
    );
    assert.equal(del.errors, undefined, del.text);
    assert.equal(del.data.deleteResource.deleted, false);
    const still = await c.api.get(`/api/v1/namespaces/${ns.name}/configmaps/kept`);
    assert.equal(still.body.metadata.uid, kept.body.metadata.uid);
    assert.equal(still.body.metadata.deletionTimestamp, undefined);
  });

  it("a stale resourceVersion is a CONFLICT, and nothing is written", async () => {
    const before = (await c.api.get(api("/deployments/web"))).body;
    const stale = String(Number(before.metadata.resourceVersion) - 1);
    const r = await as("alice", SCALE, { ns: ns.name, n: "web", r: 2, rv: stale });
    assert.equal(r.errors?.[0]?.extensions?.code, "CONFLICT", r.text);
    assert.match(r.errors![0]!.message, /conflict: deployments\.apps "web" .* was not written/);
    assert.equal((await c.api.get(api("/deployments/web"))).body.spec.replicas, before.spec.replicas);
    // The current one passes.
    const ok = await as("alice", SCALE, { ns: ns.name, n: "web", r: 2, rv: before.metadata.resourceVersion });
    assert.equal(ok.errors, undefined, ok.text);
    assert.equal(ok.data.scaleDeployment.replicas, 2);
  });

  it("bad input: kgql's own checks, the apiserver's validation, a missing object", async () => {
    const negative = await as("alice", SCALE, { ns: ns.name, n: "web", r: -1 });
    assert.equal(negative.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", negative.text);
    const missing = await as("alice", SCALE, { ns: ns.name, n: "nope", r: 1 });
    assert.equal(missing.errors?.[0]?.extensions?.code, "NOT_FOUND", missing.text);
    const invalid = await as(
      "alice",
      `mutation($ns: String!) { applyManifest(namespace: $ns, manifest: {apiVersion: "v1", kind: "ConfigMap", metadata: {name: "Not_A_Name"}}) { name } }`,
      { ns: ns.name },
    );
    assert.equal(invalid.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", invalid.text);
    assert.match(invalid.errors![0]!.message, /Not_A_Name/);
    // A manifest whose field does not fit the schema: the apiserver says 500 for it, still the
    // caller's to fix (not SERVICE_UNAVAILABLE, which says retry).
    const mistyped = await as(
      "alice",
      `mutation($ns: String!) { applyManifest(namespace: $ns, manifest: {apiVersion: "v1", kind: "ConfigMap", metadata: {name: "typed"}, data: {a: 5}}) { name } }`,
      { ns: ns.name },
    );
    assert.equal(mistyped.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", mistyped.text);
    assert.match(mistyped.errors![0]!.message, /\.data\.a: expected string/);
    const noKind = await as(
      "alice",
      `mutation { applyManifest(yaml: "apiVersion: v1\\nkind: Nope\\nmetadata: {name: x}") { name } }`,
    );
    assert.match(noKind.errors?.[0]?.message ?? "", /serves no kind Nope in v1/, noKind.text);
    const broken = await as("alice", `mutation { applyManifest(yaml: "a: [") { name } }`);
    assert.equal(broken.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", broken.text);
    const both = await as("alice", `mutation { applyManifest { name } }`);
    assert.match(both.errors?.[0]?.message ?? "", /manifest \(JSON\) or as yaml/, both.text);
    const resource = await as(
      "alice",
      `mutation { deleteResource(version: "v1", resource: "podz", namespace: "x", name: "y") { deleted } }`,
    );
    assert.match(resource.errors?.[0]?.message ?? "", /Did you mean: v1\/pods/, resource.text);
  });

  it("restartDeployment stamps the pod template like kubectl, and the controller rolls the pods", async () => {
    const before = (await c.api.get(api("/deployments/web"))).body;
    const r = await as(
      "alice",
      `mutation($ns: String!) { restartDeployment(namespace: $ns, name: "web") { raw resourceVersion } }`,
      { ns: ns.name },
    );
    assert.equal(r.errors, undefined, r.text);
    const stamp =
      r.data.restartDeployment.raw.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"];
    assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.notEqual(r.data.restartDeployment.resourceVersion, before.metadata.resourceVersion);
    await waitFor(
      async () => (await c.api.get(`/apis/apps/v1/namespaces/${ns.name}/replicasets`)).body.items.length,
      {
        message: "a second ReplicaSet",
        until: (n) => n === 2,
        timeoutMs: 30_000,
      },
    );
  });

  it("suspendCronJob pauses and resumes", async () => {
    const q = `mutation($ns: String!, $s: Boolean!) { suspendCronJob(namespace: $ns, name: "tick", suspend: $s) { raw } }`;
    const r = await as("alice", q, { ns: ns.name, s: true });
    assert.equal(r.errors, undefined, r.text);
    assert.equal(r.data.suspendCronJob.raw.spec.suspend, true);
    assert.equal(
      (await c.api.get(`/apis/batch/v1/namespaces/${ns.name}/cronjobs/tick`)).body.spec.suspend,
      true,
    );
    const back = await as("alice", q, { ns: ns.name, s: false });
    assert.equal(back.data.suspendCronJob.raw.spec.suspend, false, back.text);
  });

  it("deletePod answers once the cache no longer holds it (or holds it terminating)", async () => {
    await c.api.post(`/api/v1/namespaces/${ns.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "lonely" },
      spec: podSpec,
    });
    await waitFor(() => kgql.gateway.informer("Pod").store.has(`${ns.name}/lonely`), {
      message: "the pod cached",
      until: Boolean,
    });
    const r = await as(
      "alice",
      `mutation($ns: String!) { deletePod(namespace: $ns, name: "lonely", gracePeriodSeconds: 0) { deleted name uid object { resourceVersion } } }`,
      { ns: ns.name },
    );
    assert.equal(r.errors, undefined, r.text);
    const cached = kgql.gateway.informer("Pod").store.get(`${ns.name}/lonely`);
    if (r.data.deletePod.deleted) assert.equal(cached, undefined);
    else assert.ok(cached?.metadata.deletionTimestamp, "terminating in the cache");
    const next = await as("alice", `{ pod(namespace: "${ns.name}", name: "lonely") { name } }`);
    if (r.data.deletePod.deleted) assert.equal(next.data.pod, null);
    const again = await as(
      "alice",
      `mutation { deletePod(namespace: "${ns.name}", name: "never") { deleted } }`,
    );
    assert.equal(again.errors?.[0]?.extensions?.code, "NOT_FOUND", again.text);
  });

  it("applyManifest: server-side apply from YAML, a field manager conflict, force, dry run, then deleteResource", async () => {
    const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n`;
    const APPLY = `mutation($ns: String, $yaml: String, $m: JSONObject, $fm: String, $force: Boolean, $dry: Boolean) {
      applyManifest(namespace: $ns, yaml: $yaml, manifest: $m, fieldManager: $fm, force: $force, dryRun: $dry) {
        __typename name resourceVersion raw
      }
    }`;
    const r = await as("alice", APPLY, { ns: ns.name, yaml });
    assert.equal(r.errors, undefined, r.text);
    assert.equal(r.data.applyManifest.__typename, "ConfigMap");
    assert.deepEqual(r.data.applyManifest.raw.data, { color: "blue" });
    const stored = (await c.api.get(`/api/v1/namespaces/${ns.name}/configmaps/settings`)).body;
    assert.equal(r.data.applyManifest.resourceVersion, stored.metadata.resourceVersion);
    const next = await as(
      "alice",
      `{ configMap(namespace: "${ns.name}", name: "settings") { resourceVersion } }`,
    );
    assert.equal(next.data.configMap.resourceVersion, stored.metadata.resourceVersion, next.text);
    // Another manager setting the same field conflicts, unless it forces.
    const manifest = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: ns.name },
      data: { color: "red" },
    };
    const conflict = await as("alice", APPLY, { m: manifest, fm: "portal" });
    assert.equal(conflict.errors?.[0]?.extensions?.code, "CONFLICT", conflict.text);
    assert.match(conflict.errors![0]!.message, /force: true/);
    const dry = await as("alice", APPLY, { m: manifest, fm: "portal", force: true, dry: true });
    assert.deepEqual(dry.data.applyManifest.raw.data, { color: "red" }, dry.text);
    assert.deepEqual((await c.api.get(`/api/v1/namespaces/${ns.name}/configmaps/settings`)).body.data, {
      color: "blue",
    });
    const forced = await as("alice", APPLY, { m: manifest, fm: "portal", force: true });
    assert.deepEqual(forced.data.applyManifest.raw.data, { color: "red" }, forced.text);
    const line = audits("applyManifest").at(-1)!;
    assert.deepEqual(
      [line.user, line.verb, line.resource, line.name, line.result],
      ["alice", "patch", "configmaps", "settings", "ok"],
    );
    // A dry-run apply of a new object creates nothing.
    const ghost = await as("alice", APPLY, {
      ns: ns.name,
      yaml: yaml.replace("settings", "ghost"),
      dry: true,
    });
    assert.equal(ghost.errors, undefined, ghost.text);
    assert.equal(ghost.data.applyManifest.resourceVersion, "", "never stored: no resourceVersion");
    assert.equal(
      (await c.api.get(`/api/v1/namespaces/${ns.name}/configmaps/ghost`, { allowError: true })).status,
      404,
    );
    const del = await as(
      "alice",
      `mutation($ns: String!) { deleteResource(version: "v1", resource: "configmaps", namespace: $ns, name: "settings") { deleted object { name } } }`,
      { ns: ns.name },
    );
    assert.deepEqual(del.data?.deleteResource, { deleted: true, object: null }, del.text);
    const gone = await as("alice", `{ configMap(namespace: "${ns.name}", name: "settings") { name } }`);
    assert.equal(gone.data.configMap, null, gone.text);
  });

  it("cordon, drain (evicting, skipping DaemonSet pods, refusing what a disruption budget protects) and uncordon", async () => {
    const onNode = { ...podSpec, nodeName };
    for (const name of ["a", "b"]) {
      await c.api.post(`/api/v1/namespaces/${ns.name}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `drain-${name}`, labels: { drain: name } },
        spec: onNode,
      });
    }
    // drain-b is protected: its budget allows no disruption.
    await c.api.post(`/apis/policy/v1/namespaces/${ns.name}/poddisruptionbudgets`, {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: "keep-b" },
      spec: { minAvailable: 1, selector: { matchLabels: { drain: "b" } } },
    });
    const ds = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agent" },
      spec: {
        selector: { matchLabels: { app: "agent" } },
        template: {
          metadata: { labels: { app: "agent" } },
          spec: {
            containers: [{ name: "agent", image: "registry.invalid/agent:1" }],
            nodeSelector: { "kgql-drain": suffix },
            tolerations: [{ operator: "Exists" }],
          },
        },
      },
    };
    await c.api.post(api("/daemonsets"), ds);
    // The test control plane has no scheduler: bind the DaemonSet's pod to the node as it would.
    const agent = await waitFor(
      async () =>
        (
          (await c.api.get(`/api/v1/namespaces/${ns.name}/pods`, { query: { labelSelector: "app=agent" } }))
            .body.items as Json[]
        )[0],
      { message: "the DaemonSet's pod", until: Boolean, timeoutMs: 30_000 },
    );
    const agentName = (agent as Json).metadata.name;
    await c.api.post(`/api/v1/namespaces/${ns.name}/pods/${agentName}/binding`, {
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: agentName },
      target: { apiVersion: "v1", kind: "Node", name: nodeName },
    });
    // Running pods, and a budget that has seen drain-b healthy (otherwise it allows nothing anyway).
    await waitFor(
      async () => {
        const pods = (
          await c.api.get(`/api/v1/pods`, { query: { fieldSelector: `spec.nodeName=${nodeName}` } })
        ).body.items as Json[];
        const pdb = (await c.api.get(`/apis/policy/v1/namespaces/${ns.name}/poddisruptionbudgets/keep-b`))
          .body;
        return (
          pods.filter((p: Json) => p.status.phase === "Running").length === 3 &&
          pdb.status?.currentHealthy === 1
        );
      },
      { message: "3 running pods on the node and the budget's status", until: Boolean, timeoutMs: 60_000 },
    );
    const dry = await as(
      "alice",
      `mutation { drainNode(name: "${nodeName}", dryRun: true) { node { raw } evicted { name } } }`,
    );
    assert.equal(dry.errors, undefined, dry.text);
    assert.equal(
      (await c.api.get(`/api/v1/nodes/${nodeName}`)).body.spec.unschedulable,
      undefined,
      "dry run: not cordoned",
    );
    assert.equal(
      (await c.api.get(`/api/v1/namespaces/${ns.name}/pods/drain-a`)).body.metadata.deletionTimestamp,
      undefined,
    );

    const r = await as(
      "alice",
      `mutation { drainNode(name: "${nodeName}") {
        node { name raw }
        evicted { namespace name }
        refused { name code reason }
        skipped { name reason }
      } }`,
    );
    assert.equal(r.errors, undefined, r.text);
    const d = r.data.drainNode;
    assert.equal(d.node.raw.spec.unschedulable, true);
    assert.deepEqual(d.evicted, [{ namespace: ns.name, name: "drain-a" }]);
    assert.equal(d.refused.length, 1, r.text);
    assert.equal(d.refused[0].name, "drain-b");
    assert.match(d.refused[0].reason, /disruption budget/);
    assert.equal(d.skipped.length, 1);
    assert.match(d.skipped[0].name, /^agent-/);
    assert.match(d.skipped[0].reason, /DaemonSet/);
    // Read-your-writes: the evicted pod is gone from kgql's cache, or terminating.
    const cached = kgql.gateway.informer("Pod").store.get(`${ns.name}/drain-a`);
    assert.ok(!cached || cached.metadata.deletionTimestamp, "drain-a gone or terminating in the cache");
    const node = await as("alice", `{ node(name: "${nodeName}") { raw } }`);
    assert.equal(node.data.node.raw.spec.unschedulable, true);

    const un = await as("alice", `mutation { uncordonNode(name: "${nodeName}") { raw } }`);
    assert.equal(un.errors, undefined, un.text);
    assert.equal(un.data.uncordonNode.raw.spec.unschedulable, undefined);
    const cordon = await as("alice", `mutation { cordonNode(name: "${nodeName}") { raw } }`);
    assert.equal(cordon.data.cordonNode.raw.spec.unschedulable, true, cordon.text);
  });
});

describe("mutations off (the default)", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  it("a mutation is a validation error that names --enable-mutations", async () => {
    const c = cluster as ClusterInfo;
    const kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig));
    try {
      const r = await gql(
        kgql.url,
        `mutation { scaleDeployment(namespace: "a", name: "b", replicas: 1) { name } }`,
      );
      assert.match(r.errors?.[0]?.message ?? "", /--enable-mutations/, r.text);
    } finally {
      await kgql.close();
    }
  });
});

describe("mutations with kgql's deployed RBAC (render.ts --enable-mutations): impersonation is all it needs", {
  skip: cluster ? false : NO_CLUSTER_REASON,
}, () => {
  const c = cluster as ClusterInfo;
  let ns: TestNamespace;
  let kgql: GatewayServer;
  let docs: Json[];
  let kgqlToken: string;
  let dir: string;

  before(async () => {
    ns = await withNamespace("mutations-sa");
    // kgql's own objects as deployed: its service account, ClusterRole (read + reviews +
    // impersonate) and binding, in this namespace.
    docs = renderManifests({ namespace: ns.name, enableMutations: true });
    const sa = docs.find((d) => d.kind === "ServiceAccount")!;
    await c.api.post(`/api/v1/namespaces/${ns.name}/serviceaccounts`, sa);
    await c.api.post(
      `/apis/${RBAC}/v1/clusterroles`,
      docs.find((d) => d.kind === "ClusterRole"),
    );
    await c.api.post(
      `/apis/${RBAC}/v1/clusterrolebindings`,
      docs.find((d) => d.kind === "ClusterRoleBinding"),
    );
    kgqlToken = (
      await c.api.post(`/api/v1/namespaces/${ns.name}/serviceaccounts/${sa.metadata.name}/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 },
      })
    ).body.status.token;
    dir = mkdtempSync(join(tmpdir(), "kgql-sa-"));
    writeFileSync(join(dir, "kubeconfig"), kubeconfigYaml(c.server, c.ca, "kgql", kgqlToken));
    await c.api.post(`/apis/apps/v1/namespaces/${ns.name}/deployments`, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: await kwokPodSpec(c) },
      },
    });
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/roles`, {
      apiVersion: `${RBAC}/v1`,
      kind: "Role",
      metadata: { name: "scaler" },
      rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch"] }],
    });
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: "RoleBinding",
      metadata: { name: "alice-scaler" },
      roleRef: { apiGroup: RBAC, kind: "Role", name: "scaler" },
      subjects: [{ kind: "User", name: "alice", apiGroup: RBAC }],
    });
    kgql = await startKgql(await KubeClient.fromFile(join(dir, "kubeconfig")), {
      auth: "kubernetes",
      enableMutations: true,
    });
    await kgql.gateway.factory.waitForCacheSync(20_000);
  });
  after(async () => {
    await kgql?.close();
    await c.api.delete(`/apis/${RBAC}/v1/namespaces/${ns?.name}/rolebindings/alice-scaler`, undefined, {
      allowError: true,
    });
    for (const kind of ["clusterrolebindings", "clusterroles"])
      await c.api.delete(`/apis/${RBAC}/v1/${kind}/kgql-${ns.name}`, undefined, { allowError: true });
    await ns?.delete();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const SCALE = `mutation($ns: String!) { scaleDeployment(namespace: $ns, name: "web", replicas: 2) { replicas } }`;

  it("kgql may not write itself, yet alice's scale goes through as alice", async () => {
    const own = await c.api
      .as(kgqlToken)
      .patch(
        `/apis/apps/v1/namespaces/${ns.name}/deployments/web`,
        { spec: { replicas: 9 } },
        { allowError: true },
      );
    assert.equal(own.status, 403, "kgql's service account has no write verb");
    const r = await gql(kgql.url, SCALE, { ns: ns.name }, { token: c.tokens.alice });
    assert.equal(r.errors, undefined, r.text);
    assert.equal(r.data.scaleDeployment.replicas, 2);
    const stored = (await c.api.get(`/apis/apps/v1/namespaces/${ns.name}/deployments/web`)).body;
    assert.equal(stored.spec.replicas, 2);
    // The caller's RBAC decides, not kgql's: bob, with none, is refused.
    const bob = await gql(kgql.url, SCALE, { ns: ns.name }, { token: c.tokens.bob });
    assert.equal(bob.errors?.[0]?.extensions?.code, "FORBIDDEN", bob.text);
  });

  it("a service account caller is impersonated with its groups, uid and extras", async () => {
    await c.api.post(`/api/v1/namespaces/${ns.name}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "deployer" },
    });
    // Bound through its group only: the impersonated groups must reach the apiserver.
    await c.api.post(`/apis/${RBAC}/v1/namespaces/${ns.name}/rolebindings`, {
      apiVersion: `${RBAC}/v1`,
      kind: "RoleBinding",
      metadata: { name: "service-accounts-scale" },
      roleRef: { apiGroup: RBAC, kind: "Role", name: "scaler" },
      subjects: [{ kind: "Group", name: `system:serviceaccounts:${ns.name}`, apiGroup: RBAC }],
    });
    // A bound token: its TokenReview has a uid and extras (the credential id), impersonated too.
    const token = (
      await c.api.post(`/api/v1/namespaces/${ns.name}/serviceaccounts/deployer/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 },
      })
    ).body.status.token;
    const q = `mutation($ns: String!) { scaleDeployment(namespace: $ns, name: "web", replicas: 3) { replicas } }`;
    const r = await waitFor(() => gql(kgql.url, q, { ns: ns.name }, { token }), {
      message: "the deployer's scale (its RoleBinding applied)",
      until: (res) => res.errors === undefined,
      timeoutMs: 10_000,
      intervalMs: 250,
    });
    assert.equal(r.data.scaleDeployment.replicas, 3, r.text);
  });

  it("without the impersonation rules, a mutation says what kgql's service account lacks", async () => {
    const plain = renderManifests({ namespace: ns.name }).find((d) => d.kind === "ClusterRole");
    await c.api.put(`/apis/${RBAC}/v1/clusterroles/${plain.metadata.name}`, plain);
    const r = await waitFor(() => gql(kgql.url, SCALE, { ns: ns.name }, { token: c.tokens.alice }), {
      message: "the impersonation rules to be gone",
      until: (res) => res.errors?.[0]?.extensions?.code === "SERVICE_UNAVAILABLE",
      timeoutMs: 15_000,
      intervalMs: 250,
    });
    assert.match(r.errors![0]!.message, /kgql may not impersonate user "alice".*mutations\.enabled/);
  });
});

describe("read-your-writes when kgql's cache cannot catch up", {
  skip: cluster ? false : NO_CLUSTER_REASON,
}, () => {
  it("the write is done, the answer is CACHE_TIMEOUT within the request timeout", async (t) => {
    const c = cluster as ClusterInfo;
    const ns = await withNamespace(t);
    await c.api.post(`/apis/apps/v1/namespaces/${ns.name}/deployments`, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: await kwokPodSpec(c) },
      },
    });
    const kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), {
      enableMutations: true,
      requestTimeoutMs: 1500,
    });
    t.after(() => kgql.close());
    await kgql.gateway.factory.waitForCacheSync(20_000);
    const informer = kgql.gateway.informer("Deployment");
    await waitFor(() => informer.store.has(`${ns.name}/web`), {
      message: "the deployment cached",
      until: Boolean,
    });
    // The Deployment watch ends: the cache keeps its last state and never sees the write.
    await informer.stop();
    const started = Date.now();
    const r = await gql(
      kgql.url,
      `mutation($ns: String!) { scaleDeployment(namespace: $ns, name: "web", replicas: 2) { replicas } }`,
      { ns: ns.name },
    );
    const err = r.errors?.[0];
    assert.equal(err?.extensions?.code, "CACHE_TIMEOUT", r.text);
    assert.equal(err?.extensions?.written, true);
    assert.match(err!.message, /was written \(resourceVersion \d+\).*do not repeat it/);
    assert.ok(Date.now() - started < 5000, "bounded by the request timeout");
    const stored = (await c.api.get(`/apis/apps/v1/namespaces/${ns.name}/deployments/web`)).body;
    assert.equal(stored.spec.replicas, 2, "the write itself happened");
  });
});
