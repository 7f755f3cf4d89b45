// --auth kubernetes on the real control plane: callers are authenticated with TokenReview and see
// only what their RBAC lets them list, through every path (lists, gets, traversals, totalCount,
// subscriptions); Secret values never appear.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "graphql-sse";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { startKgql } from "../helpers/kgql.ts";

const cluster = await getCluster();

describe("RBAC on cached data (--auth kubernetes)", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  let a: TestNamespace;
  let b: TestNamespace;
  let kgql: GatewayServer;
  const secretValue = `s3cr3t-${Date.now()}`;
  const as = async (token: string | undefined, query: string, variables?: Record<string, unknown>) => {
    const res = await fetch(kgql.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const text = await res.text();
    return { status: res.status, text, ...JSON.parse(text) };
  };

  before(async () => {
    a = await withNamespace("rbac-a");
    b = await withNamespace("rbac-b");
    const spec = await kwokPodSpec(c);
    for (const ns of [a.name, b.name]) {
      await c.api.post(`/api/v1/namespaces/${ns}/pods`, {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `pod-${ns}`, labels: { app: "x" } },
        spec,
      });
      await c.api.post(`/api/v1/namespaces/${ns}/secrets`, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "creds" },
        stringData: { password: secretValue },
      });
    }
    // alice: read pods and secrets in namespace A only; nodes cluster-wide (to test Node.pods).
    await c.api.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${a.name}/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "reader" },
      rules: [{ apiGroups: [""], resources: ["pods", "secrets"], verbs: ["get", "list", "watch"] }],
    });
    await c.api.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${a.name}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "alice-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
      subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }],
    });
    const crName = `kgql-test-node-reader-${a.name}`;
    await c.api.post(`/apis/rbac.authorization.k8s.io/v1/clusterroles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: crName },
      rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }],
    });
    await c.api.post(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: crName },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: crName },
      subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }],
    });
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), {
      auth: "kubernetes",
      recheckMs: 500,
      accessCacheTtlMs: 300,
    });
    await kgql.gateway.factory.waitForCacheSync(20_000);
    await waitFor(() => kgql.gateway.informer("Pod").store.has(`${b.name}/pod-${b.name}`), {
      message: "pods cached",
      until: Boolean,
    });
  });
  after(async () => {
    await kgql.close();
    const crName = `kgql-test-node-reader-${a.name}`;
    await c.api.delete(`/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crName}`, undefined, {
      allowError: true,
    });
    await c.api.delete(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${crName}`, undefined, {
      allowError: true,
    });
    await a.delete();
    await b.delete();
  });

  it("no token or a bad token: HTTP 401 with a clear message", async () => {
    const none = await as(undefined, "{ pods { totalCount } }");
    assert.equal(none.status, 401);
    assert.match(none.errors[0].message, /missing bearer token/);
    const bad = await as("not-a-token", "{ pods { totalCount } }");
    assert.equal(bad.status, 401);
    assert.match(bad.errors[0].message, /invalid bearer token/);
  });

  it("fuzz: 200 malformed or made-up tokens each get 401, and the server keeps serving", async () => {
    for (let i = 0; i < 200; i++) {
      const token =
        i % 2
          ? Math.random()
              .toString(36)
              .repeat(1 + (i % 5))
          : `${c.adminToken.slice(0, 10)}${i}`;
      const r = await as(token, "{ pods { totalCount } }");
      assert.equal(r.status, 401, `token ${token}`);
    }
    const admin = await as(c.adminToken, "{ nodes { totalCount } }");
    assert.equal(admin.errors, undefined);
  });

  it("a user bound in one namespace sees only it: lists, totalCount, gets, traversals", async () => {
    const alice = c.tokens.alice!;
    const r = await as(
      alice,
      `{ pods(first: 1000) { totalCount nodes { namespace name } } nodes { nodes { name pods { namespace } } } }`,
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const namespaces = new Set(r.data.pods.nodes.map((p: { namespace: string }) => p.namespace));
    assert.deepEqual([...namespaces], [a.name]);
    assert.equal(r.data.pods.totalCount, r.data.pods.nodes.length);
    const nodePods = r.data.nodes.nodes.flatMap((n: { pods: { namespace: string }[] }) =>
      n.pods.map((p) => p.namespace),
    );
    assert.ok(
      nodePods.length >= 1 && nodePods.every((ns: string) => ns === a.name),
      `Node.pods leaked: ${nodePods}`,
    );
    const other = await as(alice, `query($ns: String!) { pods(namespace: $ns) { totalCount } }`, {
      ns: b.name,
    });
    assert.equal(other.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.match(
      other.errors[0].message,
      new RegExp(`user "alice" cannot list pods in namespace "${b.name}"`),
    );
    const get = await as(
      alice,
      `query($ns: String!, $n: String!) { pod(namespace: $ns, name: $n) { name } }`,
      { ns: b.name, n: `pod-${b.name}` },
    );
    assert.equal(get.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const deployments = await as(alice, `{ deployments { totalCount } }`);
    assert.match(deployments.errors[0].message, /cannot list deployments in any namespace/);
  });

  it("a user with no binding sees nothing and is told why; the admin sees everything", async () => {
    const bob = await as(c.tokens.bob, `{ pods { totalCount } }`);
    assert.equal(bob.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.match(bob.errors[0].message, /user "bob" cannot list pods in any namespace/);
    assert.equal(bob.data, null);
    const admin = await as(
      c.adminToken,
      `query($a: String!, $b: String!) { a: pods(namespace: $a) { totalCount } b: pods(namespace: $b) { totalCount } }`,
      {
        a: a.name,
        b: b.name,
      },
    );
    assert.equal(admin.errors, undefined);
    assert.ok(admin.data.a.totalCount >= 1 && admin.data.b.totalCount >= 1);
  });

  it("Secret values never appear, for the admin or a user allowed to read secrets", async () => {
    for (const token of [c.adminToken, c.tokens.alice!]) {
      const r = await as(token, `{ secrets(first: 1000) { nodes { name keys raw annotations } } }`);
      assert.equal(r.errors, undefined);
      assert.ok(r.data.secrets.nodes.some((s: { keys: string[] }) => s.keys.includes("password")));
      assert.ok(
        !r.text.includes(secretValue) && !r.text.includes(Buffer.from(secretValue).toString("base64")),
      );
    }
  });

  it("subscriptions carry the caller's RBAC: alice's pod stream shows only namespace A", async () => {
    const events: { pod: { namespace: string; name: string } }[] = [];
    const client = createClient({
      url: kgql.url,
      headers: { authorization: `Bearer ${c.tokens.alice}` },
      retryAttempts: 0,
    });
    const stop = client.subscribe(
      { query: "subscription { podEvents { type pod { namespace name } } }" },
      { next: (v) => events.push((v.data as { podEvents: never }).podEvents), error() {}, complete() {} },
    );
    try {
      await new Promise((r) => setTimeout(r, 500));
      const spec = await kwokPodSpec(c);
      for (const ns of [b.name, a.name]) {
        await c.api.post(`/api/v1/namespaces/${ns}/pods`, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "live" },
          spec,
        });
      }
      await waitFor(() => events.find((e) => e.pod.namespace === a.name && e.pod.name === "live"), {
        message: "alice's event",
        until: Boolean,
      });
      assert.ok(
        events.every((e) => e.pod.namespace === a.name),
        JSON.stringify(events),
      );
      const bobStream = createClient({
        url: kgql.url,
        headers: { authorization: `Bearer ${c.tokens.bob}` },
        retryAttempts: 0,
      });
      const err = await new Promise<unknown>((resolve) => {
        bobStream.subscribe(
          { query: "subscription { podEvents { type } }" },
          { next: (v) => resolve(v), error: resolve, complete() {} },
        );
      });
      assert.match(JSON.stringify(err), /cannot list pods in any namespace/);
      bobStream.dispose();
    } finally {
      stop();
      client.dispose();
    }
  });
  it("a revoked permission ends an open subscription with a clear error", async () => {
    const client = createClient({
      url: kgql.url,
      headers: { authorization: `Bearer ${c.tokens.alice}` },
      retryAttempts: 0,
    });
    let ended: unknown;
    const stop = client.subscribe(
      { query: "subscription { podEvents { type } }" },
      {
        // The end arrives as a payload with errors (then complete) or as an error.
        next: (v) => {
          if (v.errors) ended = v.errors;
        },
        error: (e) => {
          ended = e;
        },
        complete: () => {
          ended ??= "completed without error";
        },
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(
        ended,
        undefined,
        `the stream is open while alice may list pods (${JSON.stringify(ended)})`,
      );
      await c.api.delete(`/apis/rbac.authorization.k8s.io/v1/namespaces/${a.name}/rolebindings/alice-reader`);
      await waitFor(() => ended, {
        message: "the stream to end after the RoleBinding was deleted",
        until: Boolean,
        timeoutMs: 15_000,
      });
      assert.match(JSON.stringify(ended), /user \\?"alice\\?" cannot list pods in any namespace/);
    } finally {
      stop();
      client.dispose();
    }
  });
});
