// --auth kubernetes with several clusters (simulated reviews; the real control planes are in
// test/integration/multi-cluster-auth.test.ts): each cluster reviews the caller's token and RBAC
// itself, so a token valid in one cluster reads that one only; a fleet query shows nothing of a
// cluster that refused the caller (no objects, no counts) and names it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../../src/informers/types.ts";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgql, subscribe } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";
import { clientFor, eventually, pod, type Reviews, startSandbox, withReviews } from "../helpers/sandbox.ts";

const namespace = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, uid: "", resourceVersion: "" },
});

async function cluster(pods: Record<string, number>): Promise<SandboxCluster> {
  const sim = await startSandbox();
  for (const [ns, n] of Object.entries(pods)) {
    sim.create("namespaces", namespace(ns));
    for (let i = 0; i < n; i++) sim.create("pods", pod(`${ns}-${i}`, ns));
  }
  return sim;
}

describe("--auth kubernetes with several clusters (simulated reviews)", () => {
  let east: SandboxCluster;
  let west: SandboxCluster;
  let kgql: GatewayServer;
  const log = captureLog();
  // Tokens are per cluster, as real ones are: "alice-east" is known to east only.
  const eastReviews: Reviews = {
    user: (t) => ({ "alice-east": { username: "alice" }, "bob-both": { username: "bob" } })[t],
    // alice may list pods in "a" only; bob nothing at all in east.
    allowed: (user, resource, ns) =>
      user === "alice" &&
      (resource === "pods" || resource === "namespaces") &&
      (ns === "a" || resource === "namespaces"),
  };
  const westReviews: Reviews = {
    user: (t) => ({ "alice-west": { username: "alice" }, "bob-both": { username: "bob" } })[t],
    // alice may list everything in west but configmaps.
    allowed: (user, resource) => !(user === "alice" && resource === "configmaps"),
  };
  before(async () => {
    east = await cluster({ a: 2, b: 3 });
    west = await cluster({ a: 60, w: 20 });
    for (let i = 0; i < 60; i++)
      west.create("configmaps", {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `cm-${i}`, namespace: "w", uid: "", resourceVersion: "" },
      });
    kgql = await startKgql(undefined as never, {
      auth: "kubernetes",
      // Above what alice may see in east (2 pods), below west's 80: sized whole, west's pods
      // would get alice's fleet query refused, telling her west's size.
      maxCost: 50,
      logger: log.logger,
      clusters: [
        { name: "east", client: withReviews(await clientFor(east), eastReviews) },
        { name: "west", client: withReviews(await clientFor(west), westReviews) },
      ],
    });
    for (const g of kgql.clusters.all()) await g.factory.waitForCacheSync(5000);
  });
  after(async () => {
    await kgql?.close();
    await east?.stop();
    await west?.stop();
  });
  const as = (token: string, query: string) => gql(kgql.url, query, undefined, { token });

  it("a token valid in one cluster reads that one; a fleet query leaves the other out and names it", async () => {
    const res = await as(
      "alice-east",
      `{ pods(cluster: "*") { totalCount forbiddenClusters unsyncedClusters nodes { cluster namespace name } } }`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.errors, undefined, res.text);
    assert.deepEqual(res.data.pods.forbiddenClusters, ["west"]);
    assert.deepEqual(res.data.pods.unsyncedClusters, []);
    assert.equal(res.data.pods.totalCount, 2, "east's namespace a only: nothing of west is counted");
    assert.ok(
      res.data.pods.nodes.every(
        (n: { cluster: string; namespace: string }) => n.cluster === "east" && n.namespace === "a",
      ),
    );
    assert.deepEqual(res.extensions?.clusterAccess, [
      {
        cluster: "west",
        code: "UNAUTHENTICATED",
        message: "invalid bearer token: the Kubernetes API did not accept it (unknown token)",
      },
    ]);
    const namespaces = await as("alice-east", `{ namespaces(cluster: "*") { cluster name } }`);
    assert.deepEqual(
      namespaces.data.namespaces.map((n: { cluster: string; name: string }) => `${n.cluster}/${n.name}`),
      ["east/a", "east/b"],
    );
    assert.deepEqual(
      (namespaces.extensions?.clusterAccess as { cluster: string }[] | undefined)?.map((r) => r.cluster),
      ["west"],
    );
  });

  it("a field about a cluster where the token is not valid fails alone, naming the cluster", async () => {
    const res = await as(
      "alice-east",
      `{ mine: pods(namespace: "a") { totalCount } theirs: pod(cluster: "west", namespace: "w", name: "w-0") { name } }`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.data.mine.totalCount, 2);
    assert.equal(res.data.theirs, null);
    assert.equal(res.errors?.length, 1);
    assert.deepEqual(res.errors![0]!.extensions, { code: "UNAUTHENTICATED", cluster: "west" });
    assert.match(res.errors![0]!.message, /^cluster "west": invalid bearer token/);
    assert.doesNotMatch(res.text, /w-0"/);
  });

  it("a cluster named by a variable's default is reviewed as that cluster, never with another's decisions", async () => {
    const q = `query($c: String = "west") { pods(cluster: $c, namespace: "a") { totalCount } }`;
    const res = await gql(kgql.url, q, undefined, { token: "alice-east" });
    // West is the one cluster it reads, and the token is not valid there.
    assert.equal(res.status, 401, res.text);
    assert.deepEqual(res.errors?.[0]?.extensions, { code: "UNAUTHENTICATED", clusters: ["west"] });
    assert.equal(res.data, undefined);
    const own = await gql(kgql.url, q, { c: "east" }, { token: "alice-east" });
    assert.equal(own.data.pods.totalCount, 2);
  });

  it("a token valid in none of the clusters read is HTTP 401", async () => {
    const west = await as("alice-west", `{ pods { totalCount } }`); // the default cluster is east
    assert.equal(west.status, 401);
    assert.equal(west.errors?.[0]?.extensions?.code, "UNAUTHENTICATED");
    assert.deepEqual(west.errors?.[0]?.extensions?.clusters, ["east"]);
    const nowhere = await as("nobody", `{ pods(cluster: "*") { totalCount } }`);
    assert.equal(nowhere.status, 401);
    assert.match(
      nowhere.errors![0]!.message,
      /not valid in any cluster this operation reads: "east", "west"/,
    );
    // Fields that read no cluster's caches are no way around it.
    const meta = await as("nobody", `{ clusters { name server } __typename }`);
    assert.equal(meta.status, 401);
    assert.equal(meta.data, undefined);
    const known = await as("alice-west", `{ clusters { name } }`);
    assert.deepEqual(known.data.clusters, [{ name: "east" }, { name: "west" }]);
    const missing = await gql(kgql.url, `{ pods(cluster: "west") { totalCount } }`);
    assert.equal(missing.status, 401);
    // The same token where it is valid.
    const ok = await as("alice-west", `{ pods(cluster: "west") { totalCount } }`);
    assert.equal(ok.data.pods.totalCount, 80);
  });

  it("a cluster where the caller may not list the kind is left out of a fleet query and named", async () => {
    const res = await as(
      "bob-both",
      `{ pods(cluster: "*", first: 5) { totalCount forbiddenClusters nodes { cluster } } }`,
    );
    assert.equal(res.errors, undefined, res.text);
    assert.deepEqual(res.data.pods.forbiddenClusters, ["east"]);
    assert.equal(res.data.pods.totalCount, 80);
    assert.ok(res.data.pods.nodes.every((n: { cluster: string }) => n.cluster === "west"));
    // Refused everywhere it asks: the refusal itself, as with one cluster.
    const only = await as("bob-both", `{ pods(cluster: "east") { totalCount } }`);
    assert.equal(only.errors?.[0]?.extensions?.code, "FORBIDDEN");
  });

  it("the cost estimate sizes a refusing cluster as empty, so a refusal never tells its size", async () => {
    // 2 visible pods in east, west's 80 not counted: within maxCost 50.
    const res = await as("alice-east", `{ pods(cluster: "*", first: 1000) { nodes { name } } }`);
    assert.equal(res.errors, undefined, res.text);
    // Where alice may read west, the same query is over the limit (80 pods there).
    const west = await as("alice-west", `{ pods(cluster: "west", first: 1000) { nodes { name } } }`);
    assert.equal(west.errors?.[0]?.extensions?.code, "LIMIT_EXCEEDED");
  });

  it("resources(...) in another cluster is decided there before the estimate: no count of it leaks", async () => {
    const q = (first: number) =>
      `{ resources(cluster: "west", group: "", version: "v1", resource: "configmaps", namespace: "w", first: ${first}) { totalCount nodes { name } } }`;
    // bob may list configmaps in west: this starts their informer there.
    const bob = await as("bob-both", q(10));
    assert.equal(bob.errors, undefined, bob.text);
    assert.equal(bob.data.resources.totalCount, 60);
    // alice may not: told so, not that 60 of them are over the cost limit.
    const alice = await as("alice-west", q(1000));
    assert.equal(alice.errors?.[0]?.extensions?.code, "FORBIDDEN", alice.text);
    assert.doesNotMatch(alice.text, /60/);
  });

  for (const transport of ["sse", "ws"] as const) {
    it(`subscriptions over ${transport} are reviewed by the cluster they stream from`, async () => {
      const query = `subscription { podEvents(cluster: "west", namespace: "w") { type pod { cluster name } } }`;
      const mine = subscribe(transport, kgql.url, query, undefined, { token: "alice-west" });
      const theirs = subscribe(transport, kgql.url, query, undefined, { token: "alice-east" });
      try {
        await eventually(() => theirs.done || theirs.errors.length > 0, "the refusal");
        assert.match(JSON.stringify(theirs.errors), /cluster \\"west\\": invalid bearer token/);
        assert.match(JSON.stringify(theirs.errors), /"cluster":"west"/);
        west.create("pods", pod(`live-${transport}`, "w"));
        await eventually(
          () => mine.events.some((e) => e.pod.name === `live-${transport}`),
          "the live event for the token valid in west",
        );
        assert.ok(mine.events.every((e) => e.pod.cluster === "west"));
        assert.deepEqual(theirs.events, []);
      } finally {
        mine.stop();
        theirs.stop();
      }
    });
  }

  it("the request line names the user a cluster authenticated", async () => {
    const res = await fetch(kgql.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer alice-west" },
      body: JSON.stringify({ query: `{ pods(cluster: "west", first: 1) { totalCount } }` }),
    });
    assert.equal(res.status, 200);
    const lines = await log.linesOf(res.headers.get("x-request-id"));
    assert.equal(lines.find((l) => l.msg === "request")?.user, "alice");
  });
});

describe("--auth kubernetes with several clusters, one of them not answering its reviews", () => {
  it("a fleet query answers from the others within --sync-timeout and names the slow one", async () => {
    const fast = await cluster({ a: 2 });
    const slow = await cluster({ a: 3 });
    const all: Reviews = {
      user: (t) => (t === "carol" ? { username: "carol" } : undefined),
      allowed: () => true,
    };
    const hung = withReviews(await clientFor(slow), all);
    const post = hung.postJSON.bind(hung);
    // The slow cluster serves its objects but never answers a review (an overloaded apiserver).
    hung.postJSON = ((path: string, body: unknown) =>
      path.endsWith("reviews") ? new Promise(() => {}) : post(path, body)) as typeof hung.postJSON;
    const kgql = await startKgql(undefined as never, {
      auth: "kubernetes",
      syncTimeoutMs: 300,
      clusters: [
        { name: "fast", client: withReviews(await clientFor(fast), all) },
        { name: "slow", client: hung },
      ],
    });
    try {
      for (const g of kgql.clusters.all()) await g.factory.waitForCacheSync(5000);
      const t0 = Date.now();
      const res = await gql(kgql.url, `{ pods(cluster: "*") { totalCount forbiddenClusters } }`, undefined, {
        token: "carol",
      });
      assert.ok(Date.now() - t0 < 3000, `answered in ${Date.now() - t0} ms`);
      assert.equal(res.errors, undefined, res.text);
      assert.deepEqual(res.data.pods, { totalCount: 2, forbiddenClusters: ["slow"] });
      const access = res.extensions?.clusterAccess as { cluster: string; code: string; message: string }[];
      assert.deepEqual(
        access.map((r) => [r.cluster, r.code]),
        [["slow", "SERVICE_UNAVAILABLE"]],
      );
      assert.match(access[0]!.message, /did not answer the reviews within 0.3 s/);
    } finally {
      await kgql.close();
      await fast.stop();
      await slow.stop();
    }
  });
});
