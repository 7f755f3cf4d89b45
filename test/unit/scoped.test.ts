// Scoped mode (--namespaces): namespaced kinds are watched one list+watch per namespace, merged
// into one store per kind; cluster-scoped kinds stay cluster-wide; other namespaces are refused.
// The real control plane with namespace-only RBAC is test/integration/scoped.test.ts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StoreDelta } from "../../src/informers/store.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import type { SandboxCluster } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { ResourceEventHub } from "../../src/subscriptions/hub.ts";
import type { StreamEvent } from "../../src/subscriptions/types.ts";
import { gql, startKgql, startKgqlOn } from "../helpers/kgql.ts";
import { clientFor, pod, startSandbox, withReviews } from "../helpers/sandbox.ts";

const namespace = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, uid: "", resourceVersion: "" },
});

describe("scoped mode (simulated)", () => {
  let sim: SandboxCluster;
  let kgql: GatewayServer;
  before(async () => {
    sim = await startSandbox();
    for (const ns of ["a", "b", "c"]) {
      sim.create("namespaces", namespace(ns));
      for (const name of ["p1", "p2"]) sim.create("pods", pod(`${ns}-${name}`, ns));
      sim.create("configmaps", {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${ns}-cm`, namespace: ns, uid: "", resourceVersion: "" },
      });
    }
    sim.create("nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node-0", uid: "", resourceVersion: "" },
    });
    kgql = await startKgqlOn(sim, { namespaces: ["a", "b"] });
  });
  after(async () => {
    await kgql?.close();
    await sim?.stop();
  });

  it("lists and watches namespaced kinds per namespace, never cluster-wide; cluster-scoped kinds cluster-wide", () => {
    const reads = sim.requests.filter((r) => r.method === "GET");
    const podPaths = new Set(reads.filter((r) => /\/pods$/.test(r.path)).map((r) => r.path));
    assert.deepEqual([...podPaths].sort(), ["/api/v1/namespaces/a/pods", "/api/v1/namespaces/b/pods"]);
    const namespacedWide = reads.filter(
      (r) =>
        /^\/(api\/v1|apis\/[^/]+\/v1)\/[a-z]+$/.test(r.path) &&
        !/\/(nodes|namespaces|persistentvolumes)$/.test(r.path),
    );
    assert.deepEqual(namespacedWide, [], "no namespaced kind is read cluster-wide");
    assert.ok(reads.some((r) => r.path === "/api/v1/nodes"));
    assert.ok(reads.some((r) => r.path === "/api/v1/namespaces"));
  });

  it("answers from the scoped namespaces, merged into one cache per kind", async () => {
    const res = await gql(
      kgql.url,
      `{ pods { totalCount nodes { namespace name } } namespaces { name pods { name } } nodes { totalCount } }`,
    );
    assert.equal(res.errors, undefined);
    assert.equal(res.data.pods.totalCount, 4);
    assert.deepEqual(
      res.data.pods.nodes.map((p: { namespace: string }) => p.namespace),
      ["a", "a", "b", "b"],
    );
    assert.deepEqual(
      res.data.namespaces.map((n: { name: string; pods: unknown[] }) => [n.name, n.pods.length]),
      [
        ["a", 2],
        ["b", 2],
      ],
      "namespaces shows the scoped namespaces only",
    );
    assert.equal(res.data.nodes.totalCount, 1);
  });

  it("refuses a namespace outside the scope with BAD_USER_INPUT naming the scope", async () => {
    for (const q of [
      `{ pods(namespace: "c") { totalCount } }`,
      `{ pod(namespace: "c", name: "c-p1") { name } }`,
      `{ namespace(name: "c") { name } }`,
      `{ pods(cluster: "*", namespace: "c") { totalCount } }`,
      `{ resources(group: "", version: "v1", resource: "configmaps", namespace: "c") { totalCount } }`,
    ]) {
      const res = await gql(kgql.url, q);
      assert.equal(res.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", q);
      assert.match(
        res.errors![0]!.message,
        /namespace "c" is outside this gateway's scope: it watches only "a", "b"/,
        q,
      );
      assert.deepEqual(res.errors![0]!.extensions!.namespaces, ["a", "b"]);
    }
    const inScope = await gql(kgql.url, `{ pods(namespace: "b") { totalCount } }`);
    assert.equal(inScope.data.pods.totalCount, 2);
  });

  it("resources(...) informers honour the scope too", async () => {
    const res = await gql(
      kgql.url,
      `{ resources(group: "", version: "v1", resource: "configmaps") { totalCount nodes { namespace } } }`,
    );
    assert.equal(res.errors, undefined);
    assert.deepEqual(
      res.data.resources.nodes.map((n: { namespace: string }) => n.namespace),
      ["a", "b"],
    );
    const paths = sim.requests.filter((r) => /configmaps$/.test(r.path)).map((r) => r.path);
    assert.ok(
      paths.length > 0 && paths.every((p) => /\/namespaces\/[ab]\/configmaps$/.test(p)),
      String(paths),
    );
  });

  it("follows changes in each namespace, and one namespace's relist leaves the other's objects", async () => {
    const informer = kgql.gateway.informer("Pod");
    const deleted: string[] = [];
    const unlisten = informer.addSyncListener((d) => {
      if (d.type === "DELETED") deleted.push(d.object.metadata.name);
    });
    try {
      sim.create("pods", pod("b-p3", "b"));
      sim.delete("pods", "a", "a-p2");
      sim.create("pods", pod("c-p3", "c")); // outside the scope: never cached
      await waitFor(() => informer.store.has("b/b-p3") && !informer.store.has("a/a-p2"));
      const relistsBefore = informer.status().relists;
      // Every watch gets 410: each namespace relists on its own.
      sim.faults.sendWatchError410();
      await waitFor(() => informer.status().relists >= relistsBefore + 2 && informer.hasSynced());
      assert.deepEqual([...informer.store.keys()].sort(), ["a/a-p1", "b/b-p1", "b/b-p2", "b/b-p3"]);
      assert.deepEqual(deleted, ["a-p2"], "no relist reported another namespace's objects deleted");
      const res = await gql(kgql.url, `{ pods { totalCount } }`);
      assert.equal(res.data.pods.totalCount, 4);
    } finally {
      unlisten();
    }
  });
});

describe("scoped mode with --auth kubernetes (simulated reviews)", () => {
  it("reviews the caller's access in the scoped namespaces only, and filters by it", async () => {
    const sim = await startSandbox();
    for (const ns of ["a", "b", "c"]) {
      sim.create("namespaces", namespace(ns));
      sim.create("pods", pod(`${ns}-p`, ns));
    }
    const reviewed = new Set<string>();
    const client = withReviews(await clientFor(sim), {
      user: (t) => (t === "alice" ? { username: "alice" } : undefined),
      allowed: (_user, resource, ns) => {
        if (resource === "pods") reviewed.add(ns);
        return resource === "pods" && (ns === "a" || ns === "c");
      },
    });
    const kgql = await startKgql(client, { auth: "kubernetes", namespaces: ["a", "b"] });
    try {
      await kgql.gateway.factory.waitForCacheSync(5000);
      const res = await gql(kgql.url, `{ pods { nodes { namespace name } } }`, undefined, { token: "alice" });
      assert.equal(res.errors, undefined, res.text);
      assert.deepEqual(res.data.pods.nodes, [{ namespace: "a", name: "a-p" }]);
      assert.deepEqual([...reviewed].sort(), ["", "a", "b"], "no review for a namespace outside the scope");
    } finally {
      await kgql.close();
      await sim.stop();
    }
  });
});

describe("scoped mode: subscriptions over namespaces whose events interleave", () => {
  it("an event older than the position reached is replayed on resume from there, never missed", async () => {
    // What a scoped informer looks like to the hub: one store fed by two namespaces' watches,
    // its position the newest of theirs; b's watch lags behind a's.
    const listeners = new Set<(d: StoreDelta) => void>();
    const informer = {
      lastSyncResourceVersion: "90",
      store: { values: () => [][Symbol.iterator]() },
      addSyncListener(l: (d: StoreDelta) => void) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const emit = (name: string, ns: string, rv: number) => {
      const object = pod(name, ns);
      object.metadata.resourceVersion = String(rv);
      informer.lastSyncResourceVersion = String(Math.max(rv, Number(informer.lastSyncResourceVersion)));
      for (const l of listeners) l({ type: "ADDED", object });
    };
    const hub = new ResourceEventHub(informer as never, { historySize: 100 });
    try {
      const names = (events: StreamEvent[]) =>
        events.map((e) => ("object" in e ? e.object.metadata.name : e.type));
      const first = hub.subscribe({ filter: () => true });
      emit("a-1", "a", 100);
      const received: StreamEvent[] = [];
      for await (const e of first) {
        received.push(e);
        break; // the client goes away after a-1
      }
      first.close();
      assert.deepEqual(names(received), ["a-1"]);
      emit("b-1", "b", 95); // b's watch delivers an older change after a's newer one
      const resumed: StreamEvent[] = [];
      const second = hub.subscribe({ filter: () => true, resumeFrom: received[0]!.resourceVersion });
      for await (const e of second) {
        resumed.push(e);
        if (e.type === "SYNCED") break;
      }
      second.close();
      assert.ok(names(resumed).includes("b-1"), `b-1 replayed: ${names(resumed)}`);
    } finally {
      hub.close();
    }
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
