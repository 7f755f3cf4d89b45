// --auth kubernetes on the real control plane: callers are authenticated with TokenReview and see
// only what their RBAC lets them list, through every path (lists, gets, traversals, totalCount,
// subscriptions); Secret values never appear.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  installCrd,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { gql, startKgql, subscribe } from "../helpers/kgql.ts";

/** What a refused subscription gets (its errors, as JSON), from a real SSE client. */
async function refusal(url: string, token: string | undefined, query: string): Promise<string> {
  const stream = subscribe("sse", url, query, undefined, { token });
  try {
    await waitFor(() => stream.done || stream.errors.length > 0, { message: "the refusal", until: Boolean });
    return JSON.stringify(stream.errors);
  } finally {
    stream.stop();
  }
}

const cluster = await getCluster();

describe("RBAC on cached data (--auth kubernetes)", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  let a: TestNamespace;
  let b: TestNamespace;
  let kgql: GatewayServer;
  const secretValue = `s3cr3t-${Date.now()}`;
  // A CRD per run (CRDs are cluster-scoped; other runs may share the cluster).
  const group = `kgql-rbac-${randomBytes(3).toString("hex")}.example.com`;
  const crdName = `widgets.${group}`;
  /** A query as the caller with this token (none: unauthenticated). */
  const as = (token: string | undefined, query: string, variables?: Record<string, unknown>) =>
    gql(kgql.url, query, variables, { token });
  /** Creates a Role in namespace (without one, a ClusterRole) with these rules and binds alice to it. */
  const grantAlice = async (g: {
    namespace?: string;
    role: string;
    binding: string;
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  }) => {
    const rbac = "rbac.authorization.k8s.io";
    const base = `/apis/${rbac}/v1${g.namespace ? `/namespaces/${g.namespace}` : ""}`;
    const kind = g.namespace ? "Role" : "ClusterRole";
    await c.api.post(`${base}/${kind.toLowerCase()}s`, {
      apiVersion: `${rbac}/v1`,
      kind,
      metadata: { name: g.role },
      rules: g.rules,
    });
    await c.api.post(`${base}/${kind.toLowerCase()}bindings`, {
      apiVersion: `${rbac}/v1`,
      kind: `${kind}Binding`,
      metadata: { name: g.binding },
      roleRef: { apiGroup: rbac, kind, name: g.role },
      subjects: [{ kind: "User", name: "alice", apiGroup: rbac }],
    });
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
    await grantAlice({
      namespace: a.name,
      role: "reader",
      binding: "alice-reader",
      rules: [{ apiGroups: [""], resources: ["pods", "secrets"], verbs: ["get", "list", "watch"] }],
    });
    const crName = `kgql-test-node-reader-${a.name}`;
    await grantAlice({
      role: crName,
      binding: crName,
      rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }],
    });
    // A custom resource with a widget in each namespace; alice may list widgets in A only.
    await installCrd(c, { group, kind: "Widget", plural: "widgets", namespace: a.name });
    for (const ns of [a.name, b.name]) {
      await c.api.post(`/apis/${group}/v1/namespaces/${ns}/widgets`, {
        apiVersion: `${group}/v1`,
        kind: "Widget",
        metadata: { name: `widget-${ns}` },
      });
    }
    await grantAlice({
      namespace: a.name,
      role: "widget-reader",
      binding: "alice-widgets",
      rules: [{ apiGroups: [group], resources: ["widgets"], verbs: ["list", "watch"] }],
    });
    kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig), {
      auth: "kubernetes",
      recheckMs: 500,
      accessCacheTtlMs: 300,
      logger: process.env.KGQL_TEST_LOG
        ? {
            info() {},
            debug() {},
            warn: (f: object, m: string) =>
              process.stderr.write(`WARN ${m} ${JSON.stringify(f).slice(0, 3000)}\n`),
          }
        : undefined,
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
    await c.api.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`, undefined, {
      allowError: true,
    });
    await a.delete();
    await b.delete();
  });

  it("no token or a bad token: HTTP 401 with a clear message", async () => {
    const none = await as(undefined, "{ pods { totalCount } }");
    assert.equal(none.status, 401);
    assert.match(none.errors![0]!.message, /missing bearer token/);
    const bad = await as("not-a-token", "{ pods { totalCount } }");
    assert.equal(bad.status, 401);
    assert.match(bad.errors![0]!.message, /invalid bearer token/);
  });

  it("fuzz: 1,200 malformed requests with --auth kubernetes (bad tokens, bad bodies, deep queries, bad selectors and cursors): each a 4xx or a GraphQL error, and the server keeps serving", {
    timeout: 300_000,
  }, async () => {
    let seed = Number(process.env.KGQL_FUZZ_SEED ?? 99);
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const junk = () =>
      Array.from({ length: 1 + rand(40) }, () => String.fromCharCode(32 + rand(95))).join("");
    const query = (q: string, variables?: unknown) => JSON.stringify({ query: q, variables });
    // Bad credentials: each must get 401 (the token is checked before anything else).
    const badAuth: (() => string)[] = [
      () => `Bearer ${junk().replaceAll(" ", "")}x`,
      () => `Bearer ${c.adminToken.slice(0, 10 + rand(20))}${rand(1e6)}`,
      () => `Bearer ${c.adminToken}${"x".repeat(1 + rand(3))}`,
      () => `Bearer ${"A".repeat(1000 + rand(8000))}`,
      () => `Basic ${Buffer.from(`alice:${junk()}`).toString("base64")}`,
      () => "Bearer ",
      () => junk(),
    ];
    // Malformed requests from an authenticated caller: 4xx or a GraphQL error.
    const badBodies: (() => { body: string; headers?: Record<string, string> })[] = [
      () => ({ body: junk() }),
      () => ({ body: `{"query": ${JSON.stringify(junk())}}` }),
      () => ({ body: query(`{ pods(labelSelector: ${JSON.stringify(junk())}) { totalCount } }`) }),
      () => ({ body: query(`{ pods(after: ${JSON.stringify(junk())}) { nodes { name } } }`) }),
      () => ({ body: query(`{ pods(first: ${rand(100_000) - 50_000}) { totalCount } }`) }),
      () => ({
        body: query(
          `{ pods { nodes { ${"node { pods { ".repeat(3 + rand(20))}name${" } }".repeat(3 + rand(20))} } } }`,
        ),
      }),
      () => ({ body: query(`{ pod(namespace: ${JSON.stringify(junk())}, name: "x") { name } }`) }),
      () => ({
        body: query(
          `{ resources(group: ${JSON.stringify(junk())}, version: "v1", resource: "x") { totalCount } }`,
        ),
      }),
      () => ({ body: query("query($f: Int) { pods(first: $f) { totalCount } }", { f: junk() }) }),
      () => ({ body: "x".repeat(1_100_000) }),
      () => ({
        body: query("{ pods { totalCount } }"),
        headers: { "content-type": `application/x-${rand(1e9).toString(36)}` },
      }),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1200; i++) {
      const tokenCase = i % 2 === 0;
      const g = tokenCase ? { body: query("{ pods { totalCount } }") } : badBodies[rand(badBodies.length)]!();
      const authorization = tokenCase ? badAuth[rand(badAuth.length)]!() : `Bearer ${c.tokens.alice}`;
      const res = await fetch(kgql.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization, ...g.headers },
        body: g.body,
        signal: AbortSignal.timeout(20_000),
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const what = `request ${i} (${authorization.slice(0, 40)}): ${g.body.slice(0, 100)} -> HTTP ${res.status} ${text.slice(0, 200)}`;
      if (tokenCase) assert.equal(res.status, 401, what);
      else {
        assert.ok(res.status < 500, what);
        if (res.status === 200) {
          const json = JSON.parse(text);
          assert.ok(json.errors?.length || json.data, `${what}: neither data nor errors`);
        }
      }
    }
    assert.ok((statuses.get(401) ?? 0) === 600, JSON.stringify([...statuses]));
    const admin = await as(c.adminToken, "{ nodes { totalCount } }");
    assert.equal(admin.errors, undefined, "still serving");
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
    assert.match(deployments.errors![0]!.message, /cannot list deployments in any namespace/);
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

  it("custom resources: resources(...) follows the caller's RBAC on that group/resource", async () => {
    const widgets = `query($ns: String) { resources(group: "${group}", version: "v1", resource: "widgets", namespace: $ns) { totalCount nodes { namespace name } } }`;
    const alice = await as(c.tokens.alice, widgets);
    assert.equal(alice.errors, undefined, JSON.stringify(alice.errors));
    assert.deepEqual(
      alice.data.resources.nodes.map((w: { namespace: string }) => w.namespace),
      [a.name],
    );
    assert.equal(alice.data.resources.totalCount, 1);
    const elsewhere = await as(c.tokens.alice, widgets, { ns: b.name });
    assert.equal(elsewhere.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.match(
      elsewhere.errors[0].message,
      new RegExp(`user "alice" cannot list widgets.${group.replaceAll(".", "\\.")} in namespace "${b.name}"`),
    );
    const bob = await as(c.tokens.bob, widgets);
    assert.equal(bob.errors?.[0]?.extensions?.code, "FORBIDDEN");
    assert.match(bob.errors[0].message, /user "bob" cannot list widgets\..* in any namespace/);
    assert.equal(bob.data, null);
    const admin = await as(c.adminToken, widgets);
    assert.equal(admin.errors, undefined);
    assert.deepEqual(
      admin.data.resources.nodes.map((w: { namespace: string }) => w.namespace).sort(),
      [a.name, b.name].sort(),
    );
  });

  it("custom resources: resourceEvents streams only what the caller may list", async () => {
    const alice = subscribe(
      "sse",
      kgql.url,
      `subscription { resourceEvents(group: "${group}", version: "v1", resource: "widgets", initial: true) { type object { namespace name } } }`,
      undefined,
      { token: c.tokens.alice },
    );
    const events: { object: { namespace: string; name: string } | null; type: string }[] = alice.events;
    try {
      await waitFor(() => events.find((e) => e.type === "SYNCED"), { message: "SYNCED", until: Boolean });
      for (const ns of [b.name, a.name]) {
        await c.api.post(`/apis/${group}/v1/namespaces/${ns}/widgets`, {
          apiVersion: `${group}/v1`,
          kind: "Widget",
          metadata: { name: "live" },
        });
      }
      await waitFor(() => events.find((e) => e.object?.namespace === a.name && e.object.name === "live"), {
        message: "alice's live widget",
        until: Boolean,
      });
      const seen = events.filter((e) => e.object).map((e) => e.object!.namespace);
      assert.ok(seen.length >= 2 && seen.every((ns) => ns === a.name), JSON.stringify(events));
      const refused = await refusal(
        kgql.url,
        c.tokens.bob,
        `subscription { resourceEvents(group: "${group}", version: "v1", resource: "widgets") { type } }`,
      );
      assert.match(refused, /cannot list widgets\..* in any namespace/);
    } finally {
      alice.stop();
    }
  });

  it("auth cache hits and misses are in /metrics", async () => {
    const text = await (await fetch(kgql.url.replace("/graphql", "/metrics"))).text();
    for (const cache of ["token", "access"]) {
      for (const outcome of ["hits", "misses"]) {
        const m = new RegExp(`kgql_auth_cache_${outcome}_total\\{cache="${cache}"\\} (\\d+)`).exec(text);
        assert.ok(
          m && Number(m[1]) > 0,
          `kgql_auth_cache_${outcome}_total{cache="${cache}"} in ${text.slice(0, 200)}`,
        );
      }
    }
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
    const alice = subscribe(
      "sse",
      kgql.url,
      "subscription { podEvents { type pod { namespace name } } }",
      undefined,
      {
        token: c.tokens.alice,
      },
    );
    const events: { pod: { namespace: string; name: string } }[] = alice.events;
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
      const refused = await refusal(kgql.url, c.tokens.bob, "subscription { podEvents { type } }");
      assert.match(refused, /cannot list pods in any namespace/);
    } finally {
      alice.stop();
    }
  });
  it("a revoked permission ends an open subscription with a clear error", async () => {
    const alice = subscribe("sse", kgql.url, "subscription { podEvents { type } }", undefined, {
      token: c.tokens.alice,
    });
    // The end arrives as a payload with errors (then complete) or as an error.
    const ended = () => alice.done || alice.errors.length > 0;
    try {
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(
        ended(),
        false,
        `the stream is open while alice may list pods (${JSON.stringify(alice.errors)})`,
      );
      await c.api.delete(`/apis/rbac.authorization.k8s.io/v1/namespaces/${a.name}/rolebindings/alice-reader`);
      await waitFor(ended, {
        message: "the stream to end after the RoleBinding was deleted",
        until: Boolean,
        timeoutMs: 15_000,
      });
      assert.match(JSON.stringify(alice.errors), /user \\?"alice\\?" cannot list pods in any namespace/);
    } finally {
      alice.stop();
    }
  });
});
