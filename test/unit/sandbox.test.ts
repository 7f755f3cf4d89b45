// The simulated apiserver's wire protocol, exercised with plain HTTP (not kgql's informers):
// discovery, objects and resourceVersions, paged lists with consistent snapshots, list RV
// semantics, watches (history, 410, bookmarks, timeouts, selectors), watch-list, faults, auth,
// HTTP writes, the demo seed and the churn.
import assert from "node:assert/strict";
import http from "node:http";
import { after, describe, it } from "node:test";
import type { KubeObject } from "../../src/informers/types.ts";
import { Churn } from "../../src/sandbox/churn.ts";
import { SandboxCluster, SandboxError, type SandboxOptions, seedDemo } from "../../src/sandbox/index.ts";
import { WIDGETS } from "../helpers/sandbox.ts";

// biome-ignore lint/suspicious/noExplicitAny: wire JSON is inspected freely
type Any = any;

const clusters: SandboxCluster[] = [];
after(async () => {
  for (const sim of clusters) await sim.stop();
});

async function cluster(opts: SandboxOptions = {}): Promise<SandboxCluster> {
  const sim = new SandboxCluster(opts);
  clusters.push(sim);
  await sim.start();
  return sim;
}

function pod(name: string, namespace = "default", labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels, uid: "", resourceVersion: "" },
    spec: { nodeName: "node-0", containers: [{ name: "c", image: "nginx" }] },
    status: { phase: "Running" },
  };
}

async function get(sim: SandboxCluster, path: string, init: RequestInit = {}) {
  const res = await fetch(`${sim.url}${path}`, init);
  const text = await res.text();
  let json: Any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const names = (list: Any) => list.items.map((o: Any) => o.metadata.name);

/** A watch read line by line with node:http, so tests see headers, events and how it ended. */
class Watch {
  events: Any[] = [];
  status: number | undefined;
  /** Ended with the terminating chunk (a clean close). */
  ended = false;
  /** The connection was cut before the stream ended. */
  aborted = false;
  error: Error | undefined;
  private readonly req: http.ClientRequest;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = http.get(url, { agent: false, headers }, (res) => {
      this.status = res.statusCode;
      res.setEncoding("utf8");
      let buf = "";
      res.on("data", (d: string) => {
        buf += d;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          this.events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      });
      res.on("end", () => {
        this.ended = true;
      });
      res.on("close", () => {
        if (!res.complete) this.aborted = true;
      });
      res.on("error", () => {});
    });
    this.req.on("error", (err) => {
      this.error = err;
    });
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }

  async until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.types())}`);
      }
      await sleep(5);
    }
  }

  close(): void {
    this.req.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("discovery and health", () => {
  it("serves /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>, /version and health", async () => {
    const sim = await cluster();
    const api = await get(sim, "/api");
    assert.equal(api.json.kind, "APIVersions");
    assert.deepEqual(api.json.versions, ["v1"]);
    const v1 = await get(sim, "/api/v1");
    assert.equal(v1.json.kind, "APIResourceList");
    assert.equal(v1.json.groupVersion, "v1");
    const pods = v1.json.resources.find((r: Any) => r.name === "pods");
    assert.deepEqual(
      { kind: pods.kind, namespaced: pods.namespaced, watch: pods.verbs.includes("watch") },
      { kind: "Pod", namespaced: true, watch: true },
    );
    assert.equal(v1.json.resources.find((r: Any) => r.name === "nodes").namespaced, false);
    for (const r of [
      "namespaces",
      "services",
      "endpoints",
      "configmaps",
      "secrets",
      "serviceaccounts",
      "events",
    ]) {
      assert.ok(
        v1.json.resources.some((x: Any) => x.name === r),
        r,
      );
    }
    const apis = await get(sim, "/apis");
    assert.equal(apis.json.kind, "APIGroupList");
    assert.deepEqual(apis.json.groups.map((g: Any) => g.name).sort(), [
      "apps",
      "batch",
      "discovery.k8s.io",
      "networking.k8s.io",
    ]);
    const apps = await get(sim, "/apis/apps/v1");
    assert.deepEqual(apps.json.resources.map((r: Any) => r.kind).sort(), [
      "DaemonSet",
      "Deployment",
      "ReplicaSet",
      "StatefulSet",
    ]);
    const group = await get(sim, "/apis/batch");
    assert.equal(group.json.kind, "APIGroup");
    assert.equal(group.json.preferredVersion.groupVersion, "batch/v1");
    assert.match((await get(sim, "/version")).json.gitVersion, /^v1\.\d+/);
    for (const p of ["/healthz", "/readyz", "/livez"]) {
      const r = await get(sim, p);
      assert.deepEqual([r.status, r.text], [200, "ok"], p);
    }
  });

  it("answers unknown resources with a NotFound Status, and serves registered resources (CRDs)", async () => {
    const sim = await cluster();
    const missing = await get(sim, "/apis/example.com/v1/widgets");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.kind, "Status");
    assert.equal(missing.json.reason, "NotFound");
    assert.equal((await get(sim, "/nothing-here")).status, 404);
    sim.registerResource(WIDGETS);
    sim.create("widgets.example.com", {
      metadata: { name: "w1", namespace: "ns1", uid: "", resourceVersion: "" },
      spec: { size: 3 },
    });
    const apis = await get(sim, "/apis");
    assert.ok(apis.json.groups.some((g: Any) => g.name === "example.com"));
    const list = await get(sim, "/apis/example.com/v1/namespaces/ns1/widgets");
    assert.equal(list.json.kind, "WidgetList");
    assert.equal(list.json.apiVersion, "example.com/v1");
    assert.deepEqual(names(list.json), ["w1"]);
    assert.equal(list.json.items[0].metadata.generation, 1);
    const one = await get(sim, "/apis/example.com/v1/namespaces/ns1/widgets/w1");
    assert.equal(one.json.kind, "Widget");
  });
});

describe("objects and resourceVersions", () => {
  it("dryRun=All answers as the write would (generateName, uid, namespace) and stores nothing", async () => {
    const sim = await cluster();
    const rv = sim.currentResourceVersion();
    const post = (path: string, body: unknown) =>
      get(sim, path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const made = await post("/api/v1/namespaces/default/configmaps?dryRun=All", {
      metadata: { generateName: "cm-" },
      data: { a: "b" },
    });
    assert.equal(made.status, 201, made.text);
    assert.match(made.json.metadata.name, /^cm-\w{5}$/);
    assert.equal(made.json.metadata.namespace, "default");
    assert.ok(made.json.metadata.uid);
    assert.deepEqual(sim.list("configmaps"), [], "nothing stored");
    sim.create("configmaps", { metadata: { name: "c", namespace: "default", uid: "", resourceVersion: "" } });
    const stored = sim.currentResourceVersion();
    const updated = await get(sim, "/api/v1/namespaces/default/configmaps/c?dryRun=All", {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ data: { x: "y" } }),
    });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.json.data.x, "y");
    assert.equal(updated.json.metadata.resourceVersion, stored);
    assert.equal(sim.get("configmaps", "default", "c")!.data, undefined, "not changed");
    assert.equal(sim.currentResourceVersion(), stored);
    assert.notEqual(rv, stored);
  });

  it("one RV sequence for all kinds; uid, creationTimestamp and generation set by the server", async () => {
    const sim = await cluster();
    const rv0 = Number(sim.currentResourceVersion());
    const p = sim.create("pods", pod("a"));
    const cm = sim.create("configmaps", {
      metadata: { name: "c", namespace: "default", uid: "", resourceVersion: "" },
    });
    const d = sim.create("deployments", {
      metadata: { name: "d", namespace: "default", uid: "", resourceVersion: "" },
      spec: { replicas: 1 },
    });
    assert.deepEqual(
      [p, cm, d].map((o) => Number(o.metadata.resourceVersion)),
      [rv0 + 1, rv0 + 2, rv0 + 3],
    );
    assert.equal(sim.currentResourceVersion(), String(rv0 + 3));
    assert.match(p.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(p.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(d.metadata.generation, 1);
    assert.equal(cm.metadata.generation, undefined);
    const status = sim.update("deployments", { ...d, status: { replicas: 1 } });
    assert.equal(status.metadata.generation, 1, "a status change keeps the generation");
    const scaled = sim.update("deployments", { ...status, spec: { replicas: 2 } });
    assert.equal(scaled.metadata.generation, 2);
    assert.equal(scaled.metadata.uid, d.metadata.uid);
    assert.equal(scaled.metadata.creationTimestamp, d.metadata.creationTimestamp);
    assert.throws(
      () => sim.update("deployments", { ...d, spec: { replicas: 3 } }),
      (err: unknown) => err instanceof SandboxError && err.code === 409 && err.status.reason === "Conflict",
    );
    assert.throws(
      () => sim.create("pods", pod("a")),
      (err: unknown) => (err as SandboxError).status?.reason === "AlreadyExists",
    );
    const gone = sim.delete("pods", "default", "a")!;
    assert.equal(Number(gone.metadata.resourceVersion), rv0 + 6);
    assert.equal(sim.get("pods", "default", "a"), undefined);
  });

  it("list items carry no kind/apiVersion, single objects do; 404 Status for a missing object", async () => {
    const sim = await cluster();
    sim.create("pods", pod("a"));
    const list = await get(sim, "/api/v1/namespaces/default/pods");
    assert.equal(list.json.kind, "PodList");
    assert.equal(list.json.apiVersion, "v1");
    assert.equal(list.json.metadata.resourceVersion, sim.currentResourceVersion());
    assert.equal(list.json.items[0].kind, undefined);
    assert.equal(list.json.items[0].apiVersion, undefined);
    assert.equal(list.json.items[0].metadata.name, "a");
    const one = await get(sim, "/api/v1/namespaces/default/pods/a");
    assert.deepEqual([one.json.kind, one.json.apiVersion], ["Pod", "v1"]);
    const missing = await get(sim, "/api/v1/namespaces/default/pods/zz");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.message, 'pods "zz" not found');
    assert.deepEqual(missing.json.details, { name: "zz", kind: "pods" });
  });

  it("filters lists by namespace, labelSelector and fieldSelector; rejects bad selectors", async () => {
    const sim = await cluster();
    sim.create("pods", pod("a", "ns1", { app: "web" }));
    sim.create("pods", pod("b", "ns1", { app: "db" }));
    sim.create("pods", pod("c", "ns2", { app: "web" }));
    assert.deepEqual(names((await get(sim, "/api/v1/pods?labelSelector=app%3Dweb")).json), ["a", "c"]);
    assert.deepEqual(names((await get(sim, "/api/v1/namespaces/ns1/pods?labelSelector=app!%3Dweb")).json), [
      "b",
    ]);
    assert.deepEqual(names((await get(sim, "/api/v1/pods?fieldSelector=metadata.name%3Dc")).json), ["c"]);
    assert.deepEqual(names((await get(sim, "/api/v1/pods?fieldSelector=metadata.namespace!%3Dns1")).json), [
      "c",
    ]);
    assert.deepEqual(names((await get(sim, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-0")).json), [
      "a",
      "b",
      "c",
    ]);
    const bad = await get(sim, "/api/v1/pods?fieldSelector=spec.foo%3Dx");
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /field label not supported: spec.foo/);
    assert.equal((await get(sim, "/api/v1/pods?labelSelector=app%20in%20(a")).status, 400);
  });
});

describe("paged lists", () => {
  it("limit + continue: every page reads the snapshot of the first, even while objects change", async () => {
    const sim = await cluster();
    for (let i = 0; i < 10; i++) sim.create("pods", pod(`p${i}`));
    const before = Object.fromEntries(
      sim.list("pods").map((p) => [p.metadata.name, p.metadata.resourceVersion]),
    );
    const first = await get(sim, "/api/v1/pods?limit=4&resourceVersion=0");
    assert.deepEqual(names(first.json), ["p0", "p1", "p2", "p3"]);
    assert.equal(first.json.metadata.remainingItemCount, 6);
    const snapshotRV = first.json.metadata.resourceVersion;
    // Changes after the first page: none may show up in the later pages.
    sim.delete("pods", "default", "p5");
    sim.create("pods", pod("p55"));
    sim.update("pods", { ...sim.get("pods", "default", "p6")!, status: { phase: "Failed" } });
    sim.create("configmaps", { metadata: { name: "x", namespace: "default", uid: "", resourceVersion: "" } });
    const second = await get(sim, `/api/v1/pods?limit=4&continue=${first.json.metadata.continue}`);
    assert.deepEqual(names(second.json), ["p4", "p5", "p6", "p7"]);
    assert.equal(second.json.metadata.resourceVersion, snapshotRV);
    assert.equal(second.json.metadata.remainingItemCount, 2);
    const p6 = second.json.items.find((o: Any) => o.metadata.name === "p6");
    assert.deepEqual([p6.metadata.resourceVersion, p6.status.phase], [before.p6, "Running"]);
    const third = await get(sim, `/api/v1/pods?limit=4&continue=${second.json.metadata.continue}`);
    assert.deepEqual(names(third.json), ["p8", "p9"]);
    assert.equal(third.json.metadata.continue, undefined);
    // A new list sees the changes.
    const now = await get(sim, "/api/v1/pods");
    assert.deepEqual(names(now.json), ["p0", "p1", "p2", "p3", "p4", "p55", "p6", "p7", "p8", "p9"]);
    // An object created after the snapshot, at the end, does not make another page.
    const half = await get(sim, "/api/v1/pods?limit=5");
    sim.create("pods", pod("pz"));
    const rest = await get(sim, `/api/v1/pods?limit=5&continue=${half.json.metadata.continue}`);
    assert.deepEqual(names(rest.json), ["p55", "p6", "p7", "p8", "p9"]);
    assert.equal(rest.json.metadata.continue, undefined);
  });

  it("pages within a namespace and with a label selector", async () => {
    const sim = await cluster();
    for (const ns of ["a", "b", "c"]) {
      for (let i = 0; i < 5; i++) sim.create("pods", pod(`p${i}`, ns, { even: String(i % 2 === 0) }));
    }
    const collect = async (path: string) => {
      const out: string[] = [];
      let cont = "";
      for (let pages = 0; pages < 20; pages++) {
        const r = await get(sim, `${path}${cont ? `&continue=${cont}` : ""}`);
        out.push(...r.json.items.map((o: Any) => `${o.metadata.namespace}/${o.metadata.name}`));
        cont = r.json.metadata.continue;
        if (!cont) return out;
      }
      throw new Error("too many pages");
    };
    assert.deepEqual(await collect("/api/v1/namespaces/b/pods?limit=2"), [
      "b/p0",
      "b/p1",
      "b/p2",
      "b/p3",
      "b/p4",
    ]);
    assert.deepEqual(await collect("/api/v1/pods?limit=2&labelSelector=even%3Dtrue"), [
      "a/p0",
      "a/p2",
      "a/p4",
      "b/p0",
      "b/p2",
      "b/p4",
      "c/p0",
      "c/p2",
      "c/p4",
    ]);
  });

  it("expired continue tokens get 410 Expired; malformed ones 400", async () => {
    const sim = await cluster();
    for (let i = 0; i < 5; i++) sim.create("pods", pod(`p${i}`));
    const first = await get(sim, "/api/v1/pods?limit=2");
    sim.faults.expireContinueTokens();
    const expired = await get(sim, `/api/v1/pods?limit=2&continue=${first.json.metadata.continue}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.json.reason, "Expired");
    assert.match(
      expired.json.message,
      /^The provided continue parameter is too old to display a consistent list result\./,
    );
    assert.ok(expired.json.metadata.continue, "offers a token to go on inconsistently");
    const rest = await get(sim, `/api/v1/pods?continue=${expired.json.metadata.continue}`);
    assert.deepEqual(names(rest.json), ["p2", "p3", "p4"]);
    // Compaction (as after etcd compaction) expires tokens too.
    const again = await get(sim, "/api/v1/pods?limit=2");
    sim.create("pods", pod("late"));
    sim.compact();
    assert.equal(
      (await get(sim, `/api/v1/pods?limit=2&continue=${again.json.metadata.continue}`)).status,
      410,
    );
    const garbage = await get(sim, "/api/v1/pods?continue=bm90LWEtdG9rZW4");
    assert.equal(garbage.status, 400);
    const withRV = await get(sim, `/api/v1/pods?resourceVersion=3&continue=${again.json.metadata.continue}`);
    assert.equal(withRV.status, 400);
    assert.match(withRV.json.message, /specifying resource version is not allowed when using continue/);
  });
});

describe("list resourceVersion semantics", () => {
  it("an RV newer than the server's: 504 Timeout with the ResourceVersionTooLarge cause", async () => {
    const sim = await cluster();
    const cur = Number(sim.currentResourceVersion());
    const r = await get(sim, `/api/v1/pods?resourceVersion=${cur + 10}`);
    assert.equal(r.status, 504);
    assert.equal(r.json.reason, "Timeout");
    assert.match(r.json.message, new RegExp(`Too large resource version: ${cur + 10}, current: ${cur}`));
    assert.deepEqual(r.json.details.causes, [
      { reason: "ResourceVersionTooLarge", message: "Too large resource version" },
    ]);
  });

  it("a specific RV (NotOlderThan) is served whole, ignoring limit, like the watch cache", async () => {
    const sim = await cluster();
    for (let i = 0; i < 6; i++) sim.create("pods", pod(`p${i}`));
    const rv = Number(sim.currentResourceVersion()) - 2;
    for (const q of [
      `resourceVersion=${rv}&limit=2`,
      `resourceVersion=${rv}&resourceVersionMatch=NotOlderThan&limit=2`,
    ]) {
      const r = await get(sim, `/api/v1/pods?${q}`);
      assert.equal(r.json.items.length, 6, q);
      assert.equal(r.json.metadata.continue, undefined, q);
      assert.equal(r.json.metadata.resourceVersion, sim.currentResourceVersion(), q);
    }
    // resourceVersion "0" and "" honour limit.
    assert.equal((await get(sim, "/api/v1/pods?resourceVersion=0&limit=2")).json.items.length, 2);
    assert.equal((await get(sim, "/api/v1/pods?limit=2")).json.items.length, 2);
  });

  it("Exact reads the state at that RV from history; 410 once compacted; invalid combinations 422", async () => {
    const sim = await cluster();
    sim.create("pods", pod("a"));
    const rv = sim.currentResourceVersion();
    sim.create("pods", pod("b"));
    sim.delete("pods", "default", "a");
    const exact = await get(sim, `/api/v1/pods?resourceVersion=${rv}&resourceVersionMatch=Exact`);
    assert.deepEqual(names(exact.json), ["a"]);
    assert.equal(exact.json.metadata.resourceVersion, rv);
    sim.compact();
    const gone = await get(sim, `/api/v1/pods?resourceVersion=${rv}&resourceVersionMatch=Exact`);
    assert.equal(gone.status, 410);
    assert.equal(gone.json.reason, "Expired");
    const invalid = await get(sim, "/api/v1/pods?resourceVersion=0&resourceVersionMatch=Exact");
    assert.equal(invalid.status, 422);
    assert.equal(invalid.json.reason, "Invalid");
    assert.match(
      invalid.json.message,
      /^ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden/,
    );
  });
});

describe("watch", () => {
  it("from an RV: replays history in order, then live events; scoped to resource and namespace", async () => {
    const sim = await cluster();
    sim.create("pods", pod("old"));
    const rv = sim.currentResourceVersion();
    const a = sim.create("pods", pod("a"));
    sim.create("configmaps", {
      metadata: { name: "cm", namespace: "default", uid: "", resourceVersion: "" },
    });
    sim.create("pods", pod("elsewhere", "other"));
    sim.update("pods", { ...a, status: { phase: "Failed" } });
    sim.delete("pods", "default", "a");
    const w = new Watch(`${sim.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}`);
    try {
      await w.until(() => w.events.length === 3, "the replay");
      assert.equal(w.status, 200);
      assert.deepEqual(w.types(), ["ADDED", "MODIFIED", "DELETED"]);
      assert.deepEqual(
        w.events.map((e) => [e.object.kind, e.object.apiVersion, e.object.metadata.name]),
        [
          ["Pod", "v1", "a"],
          ["Pod", "v1", "a"],
          ["Pod", "v1", "a"],
        ],
      );
      const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
      assert.ok(rvs[0]! > Number(rv) && rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!, `increasing RVs ${rvs}`);
      assert.equal(w.events[1].object.status.phase, "Failed");
      sim.create("pods", pod("live"));
      sim.create("pods", pod("not-here", "other"));
      await w.until(() => w.events.length === 4, "the live event");
      assert.deepEqual([w.events[3].type, w.events[3].object.metadata.name], ["ADDED", "live"]);
      await sleep(20);
      assert.equal(w.events.length, 4, "nothing from another namespace");
    } finally {
      w.close();
    }
  });

  it("resourceVersion 0 or unset: synthetic ADDED for current objects, then live", async () => {
    const sim = await cluster();
    sim.create("pods", pod("a"));
    sim.create("pods", pod("b"));
    for (const q of ["watch=1&resourceVersion=0", "watch=1"]) {
      const w = new Watch(`${sim.url}/api/v1/pods?${q}`);
      try {
        await w.until(() => w.events.length === 2, "initial ADDED events");
        assert.deepEqual(
          w.events.map((e) => `${e.type} ${e.object.metadata.name}`),
          ["ADDED a", "ADDED b"],
          q,
        );
        sim.update("pods", { ...sim.get("pods", "default", "a")!, status: { phase: "Succeeded" } });
        await w.until(() => w.events.length === 3, "a live event");
        assert.equal(w.events[2].type, "MODIFIED");
      } finally {
        w.close();
      }
    }
  });

  it("an RV older than history: HTTP 200, one ERROR event with a 410 Expired Status, then the end", async () => {
    const sim = await cluster({ historyLimit: 3 });
    for (let i = 0; i < 6; i++) sim.create("pods", pod(`p${i}`));
    const w = new Watch(`${sim.url}/api/v1/pods?watch=1&resourceVersion=2`);
    await w.until(() => w.ended, "the end of the stream");
    assert.equal(w.status, 200);
    assert.equal(w.events.length, 1);
    const { type, object } = w.events[0];
    assert.equal(type, "ERROR");
    assert.deepEqual(
      { kind: object.kind, status: object.status, reason: object.reason, code: object.code },
      { kind: "Status", status: "Failure", reason: "Expired", code: 410 },
    );
    const floor = Number(sim.currentResourceVersion()) - 3;
    assert.equal(object.message, `too old resource version: 2 (${floor})`);
    // The oldest RV still in history works.
    const ok = new Watch(`${sim.url}/api/v1/pods?watch=1&resourceVersion=${floor}`);
    try {
      await ok.until(() => ok.events.length === 3, "the last three changes");
      assert.deepEqual(ok.types(), ["ADDED", "ADDED", "ADDED"]);
    } finally {
      ok.close();
    }
  });

  it("with a label selector an object leaving it is DELETED and one entering it ADDED", async () => {
    const sim = await cluster();
    const a = sim.create("pods", pod("a", "default", { app: "web" }));
    const w = new Watch(
      `${sim.url}/api/v1/pods?watch=1&labelSelector=app%3Dweb&resourceVersion=${a.metadata.resourceVersion}`,
    );
    try {
      await w.until(() => w.status === 200, "headers");
      const moved = sim.update("pods", { ...a, metadata: { ...a.metadata, labels: { app: "db" } } });
      sim.update("pods", { ...moved, metadata: { ...moved.metadata, labels: { app: "web" } } });
      await w.until(() => w.events.length === 2, "two events");
      assert.deepEqual(w.types(), ["DELETED", "ADDED"]);
      assert.equal(w.events[0].object.metadata.resourceVersion, moved.metadata.resourceVersion);
      assert.deepEqual(
        w.events[0].object.metadata.labels,
        { app: "web" },
        "DELETED carries the last matching state",
      );
    } finally {
      w.close();
    }
  });

  it("allowWatchBookmarks: periodic BOOKMARKs with the current RV; timeoutSeconds ends the stream cleanly", async () => {
    const sim = await cluster({ bookmarkIntervalMs: 100 });
    const p = sim.create("pods", pod("a"));
    const started = Date.now();
    const w = new Watch(
      `${sim.url}/api/v1/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=${p.metadata.resourceVersion}`,
    );
    const plain = new Watch(
      `${sim.url}/api/v1/pods?watch=1&timeoutSeconds=1&resourceVersion=${p.metadata.resourceVersion}`,
    );
    try {
      await w.until(() => w.events.length >= 2, "two bookmarks");
      sim.create("configmaps", {
        metadata: { name: "bump", namespace: "default", uid: "", resourceVersion: "" },
      });
      await w.until(() => w.ended, "the deadline", 3000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 950 && elapsed < 2000, `ended after ${elapsed} ms`);
      assert.equal(w.aborted, false);
      assert.ok(w.events.every((e) => e.type === "BOOKMARK"));
      const last = w.events.at(-1);
      assert.deepEqual(last.object, {
        kind: "Pod",
        apiVersion: "v1",
        metadata: { resourceVersion: sim.currentResourceVersion() },
      });
      await plain.until(() => plain.ended, "the plain watch's deadline");
      assert.equal(plain.events.length, 0, "no bookmarks unless asked for");
    } finally {
      w.close();
      plain.close();
    }
  });

  it("watch-list: ADDED for every object, a BOOKMARK annotated initial-events-end, then live events", async () => {
    const sim = await cluster();
    sim.create("pods", pod("a"));
    sim.create("pods", pod("b", "other"));
    const w = new Watch(
      `${sim.url}/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=`,
    );
    try {
      await w.until(() => w.events.length === 3, "initial events and the bookmark");
      assert.deepEqual(
        w.events.map((e) => `${e.type} ${e.object.metadata.name ?? ""}`),
        ["ADDED a", "ADDED b", "BOOKMARK "],
      );
      assert.deepEqual(w.events[2].object.metadata, {
        resourceVersion: sim.currentResourceVersion(),
        annotations: { "k8s.io/initial-events-end": "true" },
      });
      sim.delete("pods", "default", "a");
      await w.until(() => w.events.length === 4, "a live event");
      assert.equal(w.events[3].type, "DELETED");
    } finally {
      w.close();
    }
    const tooLarge = await get(
      sim,
      `/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=${Number(sim.currentResourceVersion()) + 5}`,
    );
    assert.equal(tooLarge.status, 504);
    const noMatch = await get(sim, "/api/v1/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true");
    assert.equal(noMatch.status, 422);
    assert.match(
      noMatch.json.message,
      /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/,
    );
  });

  it("watch-list of many objects: live events during the initial stream come after the end bookmark", async () => {
    const sim = await cluster();
    for (let i = 0; i < 3000; i++) sim.create("pods", pod(`p${String(i).padStart(4, "0")}`));
    const w = new Watch(
      `${sim.url}/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
    );
    try {
      await w.until(() => w.status === 200, "headers");
      sim.create("pods", pod("live"));
      sim.delete("pods", "default", "p0000");
      await w.until(() => w.events.length === 3003, "3000 ADDED, the bookmark and two live events", 5000);
      const bookmark = w.events.findIndex((e) => e.type === "BOOKMARK");
      assert.equal(bookmark, 3000);
      assert.deepEqual(
        w.events.slice(3001).map((e) => `${e.type} ${e.object.metadata.name}`),
        ["ADDED live", "DELETED p0000"],
      );
    } finally {
      w.close();
    }
  });

  it("supportsWatchList=false: watch-list is rejected with 422 Invalid naming sendInitialEvents", async () => {
    const sim = await cluster({ supportsWatchList: false });
    const r = await get(
      sim,
      "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    );
    assert.equal(r.status, 422);
    assert.equal(r.json.reason, "Invalid");
    assert.equal(
      r.json.message,
      'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
    );
    assert.equal(r.json.details.causes[0].field, "sendInitialEvents");
    // A plain watch still works.
    const w = new Watch(`${sim.url}/api/v1/pods?watch=1`);
    try {
      await w.until(() => w.status === 200, "a plain watch");
    } finally {
      w.close();
    }
  });
});

describe("faults", () => {
  it("failNext: the next N matching requests fail (429 with Retry-After), others pass", async () => {
    const sim = await cluster();
    sim.faults.failNext({ status: 429, verb: "list", resource: "pods", count: 2, retryAfterSeconds: 3 });
    const cms = await get(sim, "/api/v1/configmaps");
    assert.equal(cms.status, 200, "another resource is not affected");
    const first = await get(sim, "/api/v1/pods");
    assert.equal(first.status, 429);
    assert.equal(first.headers.get("retry-after"), "3");
    assert.deepEqual(
      [first.json.reason, first.json.code, first.json.details.retryAfterSeconds],
      ["TooManyRequests", 429, 3],
    );
    assert.equal((await get(sim, "/api/v1/pods?limit=1")).status, 429);
    assert.equal((await get(sim, "/api/v1/pods")).status, 200, "only two");
    for (const code of [410, 500, 503]) {
      sim.faults.failNext({ status: code, verb: "watch" });
      assert.equal((await get(sim, "/api/v1/pods")).status, 200, "a list is not a watch");
      const w = await get(sim, "/api/v1/pods?watch=1");
      assert.equal(w.status, code);
      assert.equal(w.json.kind, "Status");
    }
  });

  it("dropWatches cuts the connections; refuseConnections gives ECONNREFUSED until lifted, on the same port", async () => {
    const sim = await cluster();
    const w = new Watch(`${sim.url}/api/v1/pods?watch=1`);
    await w.until(() => w.status === 200, "the watch");
    sim.faults.dropWatches();
    await w.until(() => w.aborted, "the cut");
    assert.equal(w.ended, false, "no clean end");
    const url = sim.url;
    await sim.faults.refuseConnections(true);
    await assert.rejects(fetch(`${url}/api/v1/pods`), (err: Any) => err.cause?.code === "ECONNREFUSED");
    await sim.faults.refuseConnections(false);
    assert.equal(sim.url, url);
    assert.equal((await get(sim, "/api/v1/pods")).status, 200);
  });

  it("stallWatches: open and new watches go silent but stay open; after it, new watches work", async () => {
    const sim = await cluster({ bookmarkIntervalMs: 20 });
    const open = new Watch(`${sim.url}/api/v1/pods?watch=1&allowWatchBookmarks=true`);
    await open.until(() => open.events.length > 0, "a first bookmark");
    sim.faults.stallWatches(true);
    const n = open.events.length;
    const late = new Watch(`${sim.url}/api/v1/pods?watch=1`);
    sim.create("pods", pod("unseen"));
    await sleep(150);
    assert.equal(open.events.length, n, "no events or bookmarks while stalled");
    assert.equal(open.ended || open.aborted, false, "still open");
    assert.equal(late.status, undefined, "a new watch does not even get headers");
    sim.faults.stallWatches(false);
    sim.create("pods", pod("after"));
    const fresh = new Watch(`${sim.url}/api/v1/pods?watch=1`);
    try {
      await fresh.until(() => fresh.events.length === 2, "the fresh watch");
      await sleep(50);
      assert.equal(open.events.length, n, "a stalled connection stays stalled");
    } finally {
      open.close();
      late.close();
      fresh.close();
    }
  });

  it("sendWatchError410: ERROR 410 into open watches, which end; resuming from older RVs fails too", async () => {
    const sim = await cluster();
    const p = sim.create("pods", pod("a"));
    const w = new Watch(`${sim.url}/api/v1/pods?watch=1&resourceVersion=${p.metadata.resourceVersion}`);
    await w.until(() => w.status === 200, "the watch");
    sim.create("pods", pod("b"));
    await w.until(() => w.events.length === 1, "b");
    sim.faults.sendWatchError410();
    await w.until(() => w.ended, "the end");
    assert.deepEqual(
      w.events.map((e) => [e.type, e.object.code, e.object.reason]),
      [
        ["ADDED", undefined, undefined],
        ["ERROR", 410, "Expired"],
      ],
    );
    const again = new Watch(`${sim.url}/api/v1/pods?watch=1&resourceVersion=${p.metadata.resourceVersion}`);
    await again.until(() => again.ended, "the resumed watch to end");
    assert.equal(again.events[0].type, "ERROR");
    assert.equal(again.events[0].object.code, 410);
  });

  it("records every request with its query", async () => {
    const sim = await cluster();
    await get(sim, "/api/v1/pods?limit=500&resourceVersion=0");
    const w = new Watch(`${sim.url}/api/v1/pods?watch=1&resourceVersion=7&allowWatchBookmarks=true`);
    await w.until(() => w.status === 200, "the watch");
    w.close();
    const pods = sim.requests.filter((r) => r.path === "/api/v1/pods");
    assert.deepEqual(
      pods.map((r) => [r.method, r.query]),
      [
        ["GET", { limit: "500", resourceVersion: "0" }],
        ["GET", { watch: "1", resourceVersion: "7", allowWatchBookmarks: "true" }],
      ],
    );
    assert.ok(pods.every((r) => typeof r.time === "number"));
  });
});

describe("access and writes", () => {
  it("a bearer token guards the API (401 Status without it); the kubeconfig carries it", async () => {
    const sim = await cluster({ token: "s3cr3t" });
    const denied = await get(sim, "/api/v1/pods");
    assert.equal(denied.status, 401);
    assert.equal(denied.json.reason, "Unauthorized");
    assert.equal(
      (await get(sim, "/api/v1/pods", { headers: { authorization: "Bearer wrong" } })).status,
      401,
    );
    assert.equal(
      (await get(sim, "/api/v1/pods", { headers: { authorization: "Bearer s3cr3t" } })).status,
      200,
    );
    assert.equal((await get(sim, "/healthz")).status, 200, "health needs no credentials");
    const kc = sim.kubeconfig();
    assert.match(kc, new RegExp(`server: ${sim.url}\n`));
    assert.match(kc, /token: "s3cr3t"/);
    assert.match(kc, /current-context: sandbox/);
  });

  it("POST creates, PUT updates (409 on a stale RV), PATCH merges, DELETE deletes; watches see it all", async () => {
    const sim = await cluster();
    const w = new Watch(`${sim.url}/api/v1/namespaces/ns1/configmaps?watch=1`);
    try {
      await w.until(() => w.status === 200, "the watch");
      const json = (method: string, body: unknown, type = "application/json") => ({
        method,
        body: JSON.stringify(body),
        headers: { "content-type": type },
      });
      const created = await get(
        sim,
        "/api/v1/namespaces/ns1/configmaps",
        json("POST", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } }),
      );
      assert.equal(created.status, 201);
      assert.equal(created.json.metadata.namespace, "ns1");
      const stale = { ...created.json, data: { a: "2" } };
      const updated = await get(sim, "/api/v1/namespaces/ns1/configmaps/c", json("PUT", stale));
      assert.equal(updated.status, 200);
      const conflict = await get(sim, "/api/v1/namespaces/ns1/configmaps/c", json("PUT", stale));
      assert.equal(conflict.status, 409);
      assert.equal(conflict.json.reason, "Conflict");
      const patched = await get(
        sim,
        "/api/v1/namespaces/ns1/configmaps/c",
        json("PATCH", { data: { b: "3", a: null } }, "application/merge-patch+json"),
      );
      assert.deepEqual(patched.json.data, { b: "3" });
      const deleted = await get(sim, "/api/v1/namespaces/ns1/configmaps/c", { method: "DELETE" });
      assert.equal(deleted.status, 200);
      assert.equal((await get(sim, "/api/v1/namespaces/ns1/configmaps/c", { method: "DELETE" })).status, 404);
      await w.until(() => w.events.length === 4, "four events");
      assert.deepEqual(w.types(), ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
    } finally {
      w.close();
    }
  });
});

describe("demo seed and churn", () => {
  it("seedDemo: expected counts and a consistent topology", () => {
    const sim = new SandboxCluster();
    seedDemo(sim, { namespaces: 3, nodes: 4, deploymentsPerNamespace: 2, replicas: 3, seed: 1 });
    const byUid = new Map<string, KubeObject>();
    for (const r of sim.resources.list()) for (const o of sim.list(r)) byUid.set(o.metadata.uid, o);
    assert.deepEqual(
      sim.list("namespaces").map((n) => n.metadata.name),
      ["default", "team-1", "team-2"],
    );
    assert.equal(sim.list("nodes").length, 4);
    assert.equal(sim.list("deployments").length, 6);
    assert.equal(sim.list("replicasets").length, 6);
    // Per namespace: 2 x 3 deployment pods, a StatefulSet pod, a DaemonSet pod and a Job pod.
    assert.equal(sim.list("pods").length, 3 * (2 * 3 + 3));
    const nodes = new Set(sim.list("nodes").map((n) => n.metadata.name));
    for (const p of sim.list("pods")) {
      const owner = byUid.get(p.metadata.ownerReferences![0]!.uid);
      assert.ok(owner, `owner of ${p.metadata.name}`);
      assert.equal(owner.metadata.namespace, p.metadata.namespace);
      assert.ok(nodes.has((p.spec as Any).nodeName), `node of ${p.metadata.name}`);
      if (owner.kind === "ReplicaSet") {
        assert.equal(p.metadata.labels!["pod-template-hash"], owner.metadata.labels!["pod-template-hash"]);
        assert.ok(owner.metadata.name.endsWith(`-${p.metadata.labels!["pod-template-hash"]}`));
        const dep = byUid.get(owner.metadata.ownerReferences![0]!.uid)!;
        assert.equal(dep.kind, "Deployment");
        assert.equal(owner.metadata.ownerReferences![0]!.controller, true);
        assert.equal((p.status as Any).phase, "Running");
        assert.ok((p.status as Any).conditions.some((c: Any) => c.type === "Ready" && c.status === "True"));
        assert.equal(typeof (p.status as Any).containerStatuses[0].restartCount, "number");
      }
    }
    for (const svc of sim.list("services")) {
      const selector = (svc.spec as Any).selector as Record<string, string>;
      const selected = sim
        .list("pods", svc.metadata.namespace)
        .filter((p) => Object.entries(selector).every(([k, v]) => p.metadata.labels?.[k] === v));
      assert.ok(selected.length > 0, `service ${svc.metadata.name} selects pods`);
    }
    for (const slice of sim.list("endpointslices")) {
      for (const e of slice.endpoints as Any[])
        assert.ok(byUid.has(e.targetRef.uid), "endpoint targets exist");
    }
    for (const ev of sim.list("events")) {
      assert.ok(byUid.has((ev.involvedObject as Any).uid), `event ${ev.metadata.name} is about an object`);
    }
    assert.ok(sim.list("events").some((e) => e.reason === "Scheduled"));
    for (const s of sim.list("secrets")) assert.equal(s.type, "Opaque");
    const pvc = sim.get("persistentvolumeclaims", "team-1", "data")!;
    assert.equal(
      sim.get("persistentvolumes", undefined, (pvc.spec as Any).volumeName)?.kind,
      "PersistentVolume",
    );
    for (const k of [
      "statefulsets",
      "daemonsets",
      "jobs",
      "cronjobs",
      "ingresses",
      "serviceaccounts",
      "configmaps",
    ]) {
      assert.ok(sim.list(k).length >= 3, k);
    }
  });

  it("seedDemo is deterministic for a seed", () => {
    const a = new SandboxCluster();
    const b = new SandboxCluster();
    const c = new SandboxCluster();
    seedDemo(a, { seed: 5 });
    seedDemo(b, { seed: 5 });
    seedDemo(c, { seed: 6 });
    const dump = (s: SandboxCluster) => JSON.stringify(s.resources.list().map((r) => s.list(r)));
    assert.equal(dump(a), dump(b));
    assert.notEqual(dump(a), dump(c));
  });

  it("seeds 10k pods in well under the time a benchmark allows", () => {
    const sim = new SandboxCluster();
    const t0 = performance.now();
    seedDemo(sim, { namespaces: 10, nodes: 20, deploymentsPerNamespace: 20, replicas: 50 });
    const ms = performance.now() - t0;
    assert.equal(sim.list("pods").length, 10 * (20 * 50 + 3));
    assert.ok(ms < 5000, `seeding took ${Math.round(ms)} ms`);
  });

  it("churn keeps the topology consistent and is deterministic for a seed", () => {
    const run = () => {
      const sim = new SandboxCluster();
      seedDemo(sim, { namespaces: 2, nodes: 3, deploymentsPerNamespace: 3, replicas: 2 });
      const churn = new Churn(sim, 11);
      for (let i = 0; i < 150; i++) churn.tick();
      return sim;
    };
    const sim = run();
    const rsUids = new Set(sim.list("replicasets").map((r) => r.metadata.uid));
    for (const p of sim.list("pods")) {
      const ref = p.metadata.ownerReferences![0]!;
      if (ref.kind === "ReplicaSet") assert.ok(rsUids.has(ref.uid), `owner of ${p.metadata.name} exists`);
    }
    let changed = 0;
    for (const dep of sim.list("deployments")) {
      const spec = dep.spec as Any;
      const current = sim
        .list("replicasets", dep.metadata.namespace)
        .filter((r) => r.metadata.ownerReferences![0]!.uid === dep.metadata.uid)
        .sort(
          (x, y) =>
            Number(y.metadata.annotations!["deployment.kubernetes.io/revision"]) -
            Number(x.metadata.annotations!["deployment.kubernetes.io/revision"]),
        )[0]!;
      const pods = sim
        .list("pods", dep.metadata.namespace)
        .filter(
          (p) =>
            p.metadata.ownerReferences![0]!.uid === current.metadata.uid && !p.metadata.deletionTimestamp,
        );
      assert.equal((current.spec as Any).replicas, spec.replicas, dep.metadata.name);
      assert.equal(pods.length, spec.replicas, `pods of ${dep.metadata.name}`);
      assert.ok(
        pods.every((p) => (p.spec as Any).containers[0].image === spec.template.spec.containers[0].image),
      );
      if ((dep.metadata.generation ?? 1) > 1) changed++;
    }
    assert.ok(changed > 0, "some deployments were scaled or rolled out");
    const again = run();
    assert.deepEqual(
      again.list("pods").map((p) => p.metadata.name),
      sim.list("pods").map((p) => p.metadata.name),
    );
  });
});
