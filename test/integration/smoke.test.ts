// The real control plane does what the other integration tests rely on: Deployments get
// ReplicaSets and Running pods (kube-controller-manager + kwok), scaling and garbage collection
// work, TLS is verified with the cluster CA, and RBAC denies restricted users.
import assert from "node:assert/strict";
import https from "node:https";
import { after, before, describe, it } from "node:test";
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

const cluster = await getCluster();

interface PodSummary {
  name: string;
  phase: string;
  ready: string;
  node: string;
  podIP: string;
  owner: string;
  terminating: boolean;
}

function summarize(pod: Json): PodSummary {
  return {
    name: pod.metadata.name,
    phase: pod.status?.phase ?? "",
    ready: pod.status?.conditions?.find((c: Json) => c.type === "Ready")?.status ?? "",
    node: pod.spec.nodeName ?? "",
    podIP: pod.status?.podIP ?? "",
    owner: pod.metadata.ownerReferences?.[0]?.uid ?? "",
    terminating: Boolean(pod.metadata.deletionTimestamp),
  };
}

describe("real control plane (smoke)", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  let c: ClusterInfo;
  let ns: TestNamespace;
  let other: TestNamespace;

  before(async () => {
    c = cluster!;
    ns = await withNamespace("smoke");
    other = await withNamespace("smoke-other");
  });
  after(async () => {
    await Promise.all([ns?.delete(), other?.delete()]);
  });

  it("verifies the apiserver's certificate with the cluster CA and knows who is calling", async () => {
    // Without the CA the self-signed serving cert is rejected.
    const err = await new Promise<Error>((resolve, reject) => {
      const req = https.get(`${c.server}/readyz`, (res) => {
        res.resume();
        reject(new Error(`expected a TLS error, got HTTP ${res.statusCode}`));
      });
      req.on("error", resolve);
    });
    assert.match((err as NodeJS.ErrnoException).code ?? "", /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);

    const ready = await c.api.get("/readyz");
    assert.equal(ready.status, 200);
    const version = await c.api.get("/version");
    assert.match(version.body.gitVersion, /^v1\.36\./);

    const review = { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" };
    const admin = await c.api.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", review);
    assert.equal(admin.body.status.userInfo.username, "kgql-admin");
    assert.ok(admin.body.status.userInfo.groups.includes("system:masters"));
    const alice = await c.apiAs("alice").post("/apis/authentication.k8s.io/v1/selfsubjectreviews", review);
    assert.equal(alice.body.status.userInfo.username, "alice");
    assert.ok(alice.body.status.userInfo.groups.includes("system:authenticated"));
    assert.ok(!alice.body.status.userInfo.groups.includes("system:masters"));
  });

  it("has a Ready kwok node", async () => {
    const node = (await c.api.get(`/api/v1/nodes/${c.nodes[0]}`)).body;
    assert.equal(node.metadata.annotations["kwok.x-k8s.io/node"], "fake");
    assert.equal(node.metadata.labels.type, "kwok");
    assert.equal(node.status.conditions.find((x: Json) => x.type === "Ready")?.status, "True");
  });

  it("runs a Deployment: ReplicaSet, Running pods, scale 3 -> 5 -> 1, garbage collection", async () => {
    const api = c.api;
    const base = `/apis/apps/v1/namespaces/${ns.name}`;
    const podSpec = await kwokPodSpec(c);
    const created = await api.post(`${base}/deployments`, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", labels: { app: "web" } },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: podSpec },
      },
    });
    assert.equal(created.status, 201);
    const deployUid: string = created.body.metadata.uid;

    const rs = await waitFor(
      async () =>
        (await api.get(`${base}/replicasets`, { query: { labelSelector: "app=web" } })).body.items as Json[],
      {
        message: "one ReplicaSet owned by deployment web",
        until: (items) => items.length === 1 && items[0].metadata.ownerReferences?.[0]?.uid === deployUid,
      },
    );
    const rsUid: string = rs[0].metadata.uid;
    assert.equal(rs[0].metadata.ownerReferences[0].kind, "Deployment");
    assert.equal(rs[0].metadata.ownerReferences[0].controller, true);

    const listPods = async () =>
      (
        (await api.get(`/api/v1/namespaces/${ns.name}/pods`, { query: { labelSelector: "app=web" } })).body
          .items as Json[]
      ).map(summarize);
    const runningPods = (n: number) => (pods: PodSummary[]) =>
      pods.length === n &&
      pods.every((p) => !p.terminating && p.phase === "Running" && p.ready === "True" && p.podIP !== "");
    const readyReplicas = async () => (await api.get(`${base}/deployments/web`)).body.status;

    let pods = await waitFor(listPods, {
      message: "3 Running, Ready pods of deployment web",
      until: runningPods(3),
    });
    for (const p of pods) {
      assert.equal(p.node, c.nodes[0]);
      assert.equal(p.owner, rsUid);
      assert.match(p.name, /^web-[a-z0-9]+-[a-z0-9]{5}$/);
    }
    await waitFor(readyReplicas, {
      message: "deployment web status to report 3 ready and available replicas",
      until: (s) => s?.readyReplicas === 3 && s?.availableReplicas === 3 && s?.replicas === 3,
    });

    await api.patch(`${base}/deployments/web`, { spec: { replicas: 5 } });
    pods = await waitFor(listPods, { message: "5 Running pods after scaling to 5", until: runningPods(5) });
    assert.equal(new Set(pods.map((p) => p.podIP)).size, 5, "each pod has its own IP");
    await waitFor(readyReplicas, {
      message: "deployment web status to report 5 ready replicas",
      until: (s) => s?.readyReplicas === 5,
    });

    // The scale subresource, as kubectl scale uses it.
    const scaled = await api.patch(`${base}/deployments/web/scale`, { spec: { replicas: 1 } });
    assert.equal(scaled.body.kind, "Scale");
    assert.equal(scaled.body.spec.replicas, 1);
    pods = await waitFor(listPods, {
      message: "exactly 1 pod (4 deleted) after scaling to 1",
      until: runningPods(1),
      timeoutMs: 60_000,
    });
    const rsAfter = (await api.get(`${base}/replicasets`, { query: { labelSelector: "app=web" } })).body
      .items;
    assert.equal(rsAfter.length, 1);
    assert.equal(rsAfter[0].metadata.uid, rsUid, "scaling does not create a new ReplicaSet");

    const del = await api.delete(`${base}/deployments/web`, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: "Background",
    });
    assert.equal(del.status, 200);
    await waitFor(async () => (await api.get(`${base}/deployments/web`, { allowError: true })).status, {
      message: "deployment web to be gone",
      until: (s) => s === 404,
    });
    await waitFor(
      async () =>
        (await api.get(`${base}/replicasets`, { query: { labelSelector: "app=web" } })).body.items.length,
      {
        message: "the garbage collector to delete ReplicaSet of web",
        until: (n) => n === 0,
        timeoutMs: 60_000,
      },
    );
    await waitFor(listPods, {
      message: "the pods of web to be garbage-collected",
      until: (p) => p.length === 0,
      timeoutMs: 60_000,
    });
  });

  it("denies a restricted user outside the namespace it is bound in", async () => {
    const api = c.api;
    await api.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.name}/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "pod-reader" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
    });
    await api.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns.name}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "alice-pod-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "alice" }],
    });
    await api.post(`/api/v1/namespaces/${ns.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "visible", labels: { app: "rbac" } },
      spec: await kwokPodSpec(c),
    });
    await api.post(`/api/v1/namespaces/${other.name}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "hidden", labels: { app: "rbac" } },
      spec: await kwokPodSpec(c),
    });

    const alice = c.apiAs("alice");
    // The RBAC authorizer reads bindings from its informer: allow a moment for it to see them.
    const allowed = await waitFor(
      () => alice.get(`/api/v1/namespaces/${ns.name}/pods`, { allowError: true }),
      {
        message: "alice to be allowed to list pods in her namespace",
        until: (r) => r.status === 200,
        timeoutMs: 10_000,
      },
    );
    assert.deepEqual(
      allowed.body.items.map((p: Json) => p.metadata.name),
      ["visible"],
    );

    const otherNs = await alice.get(`/api/v1/namespaces/${other.name}/pods`, { allowError: true });
    assert.equal(otherNs.status, 403);
    assert.equal(otherNs.body.reason, "Forbidden");
    assert.match(otherNs.body.message, /User "alice" cannot list resource "pods"/);
    assert.match(otherNs.body.message, new RegExp(`in the namespace "${other.name}"`));

    const clusterWide = await alice.get("/api/v1/pods", { allowError: true });
    assert.equal(clusterWide.status, 403);
    assert.match(clusterWide.body.message, /at the cluster scope/);

    const write = await alice.post(
      `/api/v1/namespaces/${ns.name}/pods`,
      { apiVersion: "v1", kind: "Pod", metadata: { name: "nope" }, spec: await kwokPodSpec(c) },
      { allowError: true },
    );
    assert.equal(write.status, 403, "get/list/watch does not include create");

    const bob = await c.apiAs("bob").get(`/api/v1/namespaces/${ns.name}/pods`, { allowError: true });
    assert.equal(bob.status, 403, "bob has no binding");

    const anonymous = await api.get(`/api/v1/namespaces/${ns.name}/pods`, { token: null, allowError: true });
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body.message, /system:anonymous/);
  });
});
