// The GraphQL API on the real control plane: topology answers equal what the apiserver says
// (before and after a rolling update, a scale change and deletion), queries cause zero API
// requests, and pod subscriptions follow a Deployment's life on SSE and WebSocket, through an
// apiserver restart.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  type Json,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  restartApiserver,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { type Collected, gql, startKgql, subscribe } from "../helpers/kgql.ts";

const cluster = await getCluster();

describe("GraphQL on the real control plane", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  let ns: TestNamespace;
  let kgql: GatewayServer;
  let client: KubeClient;
  let podSpec: Record<string, unknown>;
  before(async () => {
    ns = await withNamespace("query");
    client = await KubeClient.fromFile(c.kubeconfig);
    kgql = await startKgql(client);
    await kgql.gateway.factory.waitForCacheSync(20_000);
    podSpec = await kwokPodSpec(c);
  });
  after(async () => {
    await kgql.close();
    await ns.delete();
  });

  const base = () => `/namespaces/${ns.name}`;
  const deployment = (name: string, replicas: number, image = "registry.invalid/app:1") => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { ...podSpec, containers: [{ name: "app", image }] },
      },
    },
  });

  /** deployment -> replicasets -> pods (uids) from the apiserver. */
  async function apiTopology(name: string) {
    const dep = (await c.api.get(`/apis/apps/v1${base()}/deployments/${name}`, { allowError: true })).body;
    if (dep?.kind !== "Deployment") return null;
    const rss = ((await c.api.get(`/apis/apps/v1${base()}/replicasets`)).body.items as Json[]).filter((rs) =>
      rs.metadata.ownerReferences?.some((o: Json) => o.uid === dep.metadata.uid),
    );
    const pods = (await c.api.get(`/api/v1${base()}/pods`)).body.items as Json[];
    return {
      uid: dep.metadata.uid,
      replicaSets: rss
        .map((rs) => ({
          uid: rs.metadata.uid,
          pods: pods
            .filter((p) => p.metadata.ownerReferences?.some((o: Json) => o.uid === rs.metadata.uid))
            .map((p) => p.metadata.uid)
            .sort(),
        }))
        .sort((a, b) => (a.uid < b.uid ? -1 : 1)),
    };
  }

  async function kgqlTopology(name: string) {
    const r = await gql(
      kgql.url,
      `query($ns: String!, $n: String!) { deployment(namespace: $ns, name: $n) { uid replicaSets { uid pods { uid node { name } } } } }`,
      {
        ns: ns.name,
        n: name,
      },
    );
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const d = r.data.deployment;
    if (!d) return null;
    return {
      uid: d.uid,
      replicaSets: d.replicaSets
        .map((rs: Json) => ({ uid: rs.uid, pods: rs.pods.map((p: Json) => p.uid).sort() }))
        .sort((a: Json, b: Json) => (a.uid < b.uid ? -1 : 1)),
    };
  }

  async function converged(name: string, what: string) {
    await waitFor(async () => ({ api: await apiTopology(name), kgql: await kgqlTopology(name) }), {
      message: `kgql's topology of ${name} to equal the apiserver's (${what})`,
      until: (v) => JSON.stringify(v.api) === JSON.stringify(v.kgql),
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  }

  it("deployment -> replicasets -> pods -> node equals the apiserver through create, rolling update, scale, delete", async () => {
    await c.api.post(`/apis/apps/v1${base()}/deployments`, deployment("web", 3));
    await waitFor(async () => (await apiTopology("web"))?.replicaSets[0]?.pods.length, {
      message: "3 pods",
      until: (n) => n === 3,
    });
    await converged("web", "created");
    await c.api.patch(`/apis/apps/v1${base()}/deployments/web`, {
      spec: { template: { spec: { containers: [{ name: "app", image: "registry.invalid/app:2" }] } } },
    });
    await waitFor(async () => (await apiTopology("web"))?.replicaSets.length, {
      message: "a second ReplicaSet",
      until: (n) => n === 2,
    });
    await converged("web", "rolling update");
    await c.api.patch(`/apis/apps/v1${base()}/deployments/web`, { spec: { replicas: 5 } });
    await converged("web", "scaled to 5");
    const r = await gql(
      kgql.url,
      `query($ns: String!) { deployment(namespace: $ns, name: "web") { pods { node { name ready } phase } } }`,
      { ns: ns.name },
    );
    assert.ok(r.data.deployment.pods.every((p: Json) => p.node?.name === podSpec.nodeName));
    await c.api.delete(`/apis/apps/v1${base()}/deployments/web`, { propagationPolicy: "Background" });
    await waitFor(async () => (await kgqlTopology("web")) === null && (await apiTopology("web")) === null, {
      message: "deletion",
      until: Boolean,
    });
  });

  it("service -> pods and pod -> services equal the selector match on the apiserver", async () => {
    await c.api.post(`/apis/apps/v1${base()}/deployments`, deployment("api", 2));
    await c.api.post(`/api/v1${base()}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "api" },
      spec: { selector: { app: "api" }, ports: [{ port: 80 }] },
    });
    await waitFor(
      async () => {
        const api = (
          (await c.api.get(`/api/v1${base()}/pods`, { query: { labelSelector: "app=api" } })).body
            .items as Json[]
        )
          .map((p) => p.metadata.name)
          .sort();
        const r = await gql(
          kgql.url,
          `query($ns: String!) { service(namespace: $ns, name: "api") { pods { name services { name } } } }`,
          { ns: ns.name },
        );
        return { api, kgql: r.data.service?.pods ?? [] };
      },
      {
        message: "service -> pods",
        until: (v) =>
          v.api.length === 2 &&
          JSON.stringify(v.api) === JSON.stringify(v.kgql.map((p: Json) => p.name).sort()) &&
          v.kgql.every((p: Json) => p.services.length === 1 && p.services[0].name === "api"),
      },
    );
  });

  it("queries cause zero Kubernetes API requests (apiserver_request_total and kgql's own client)", async () => {
    const metrics = async () => {
      const text = (
        await c.api.request<string>("GET", "/metrics", undefined, { headers: { accept: "text/plain" } })
      ).body as unknown as string;
      const counts = new Map<string, number>();
      for (const line of String(text).split("\n")) {
        if (!line.startsWith("apiserver_request_total{")) continue;
        const verb = /verb="([A-Z]+)"/.exec(line)?.[1];
        const resource = /resource="([a-z]+)"/.exec(line)?.[1];
        if ((verb === "LIST" || verb === "GET" || verb === "WATCH") && resource) {
          const key = `${verb} ${resource}`;
          counts.set(key, (counts.get(key) ?? 0) + Number(line.split(" ").at(-1)));
        }
      }
      return counts;
    };
    const queried = [
      "deployments",
      "replicasets",
      "services",
      "configmaps",
      "secrets",
      "namespaces",
      "endpointslices",
      "ingresses",
    ];
    const runQueries = async () => {
      for (let i = 0; i < 30; i++) {
        const r = await gql(
          kgql.url,
          `{ deployments(first: 1000) { totalCount nodes { name replicaSets { pods { name node { name } services { name } configMaps { name } secrets { keys } } } } }
             services(first: 1000) { nodes { pods { name } ingresses { name } endpointSlices { name } } }
             namespaces { name } configMaps(first: 1000) { totalCount } secrets(first: 1000) { totalCount } }`,
        );
        assert.equal(r.errors, undefined);
      }
    };
    const clientBefore = { ...client.requestCounts };
    // Other clients also read these resources: kube-controller-manager's namespace controller
    // GETs each namespace earlier test files deleted and LISTs every kind in it until it is gone,
    // and controllers relist after the earlier apiserver restarts. So first let terminating
    // namespaces go; then a window in which the apiserver counted no LIST/GET for the queried
    // kinds at all, while kgql answered every query, is the proof. Up to 5 windows.
    await waitFor(
      async () =>
        ((await c.api.get("/api/v1/namespaces")).body.items as Json[]).filter(
          (n) => n.status?.phase === "Terminating",
        ).length,
      { message: "no namespace terminating", until: (n) => n === 0, timeoutMs: 60_000, intervalMs: 500 },
    );
    let increased: string[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = await metrics();
      // kgql (and kube-controller-manager) sync through watch-list: WATCH, not LIST.
      assert.ok((before.get("WATCH namespaces") ?? 0) > 0, "the apiserver's request counters were read");
      await runQueries();
      const after = await metrics();
      increased = queried.flatMap((resource) =>
        ["LIST", "GET"]
          .map((verb) => `${verb} ${resource}`)
          .filter((key) => (after.get(key) ?? 0) !== (before.get(key) ?? 0)),
      );
      if (increased.length === 0) break;
    }
    assert.deepEqual(
      increased,
      [],
      "apiserver LIST/GET requests for the queried resources during the queries",
    );
    assert.equal(client.requestCounts.list, clientBefore.list, "kgql made no list request");
    assert.equal(client.requestCounts.get, clientBefore.get, "kgql made no get request");
  });

  it("bad input on the real cluster: unknown resource and bad selector are GraphQL errors", async () => {
    const r1 = await gql(
      kgql.url,
      `{ resources(group: "example.com", version: "v1", resource: "widgets") { totalCount } }`,
    );
    assert.equal(r1.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
    const r2 = await gql(kgql.url, `{ pods(labelSelector: "app=") { totalCount } }`);
    assert.equal(r2.errors, undefined, "an empty value is valid syntax");
    const r3 = await gql(kgql.url, `{ pods(labelSelector: "=x") { totalCount } }`);
    assert.equal(r3.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  });

  /** A subscriber's view of pods, built only from the events it received. */
  function podView(transport: "sse" | "ws", selector: string) {
    const view = new Map<string, string>();
    const s: Collected = subscribe(
      transport,
      kgql.url,
      `subscription($ns: String!, $sel: String!) { podStream(namespace: $ns, labelSelector: $sel, initial: true) { type resourceVersion pod { name phase } } }`,
      { ns: ns.name, sel: selector },
    );
    const names = () => {
      for (const e of s.events.splice(0)) {
        if (e.type === "ADDED" || e.type === "MODIFIED") view.set(e.pod.name, e.pod.phase);
        if (e.type === "DELETED") view.delete(e.pod.name);
        if (e.type === "RESYNC") view.clear();
        if (e.type === "SYNCED") view.set("\u0000synced", "");
      }
      return [...view.keys()].filter((k) => k !== "\u0000synced").sort();
    };
    const synced = () => {
      names();
      return view.has("\u0000synced");
    };
    return { s, view, names, synced };
  }
  const apiPods = async (selector: string) =>
    ((await c.api.get(`/api/v1${base()}/pods`, { query: { labelSelector: selector } })).body.items as Json[])
      .map((p) => p.metadata.name)
      .sort();
  async function sameAsApi(v: ReturnType<typeof podView>, selector: string, what: string, count?: number) {
    await waitFor(async () => ({ view: v.names(), api: await apiPods(selector) }), {
      message: `subscriber's view equal to the apiserver (${what})`,
      until: (x) =>
        JSON.stringify(x.view) === JSON.stringify(x.api) && (count === undefined || x.api.length === count),
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  }

  for (const transport of ["sse", "ws"] as const) {
    it(`pod events over ${transport}: create, scale and delete a Deployment`, {
      timeout: 200_000,
    }, async () => {
      const name = `sub-${transport}`;
      const sel = `app=${name}`;
      const v = podView(transport, sel);
      try {
        await waitFor(v.synced, { message: "SYNCED", until: Boolean });
        await c.api.post(`/apis/apps/v1${base()}/deployments`, deployment(name, 3));
        await sameAsApi(v, sel, "created", 3);
        await c.api.patch(`/apis/apps/v1${base()}/deployments/${name}`, { spec: { replicas: 5 } });
        await sameAsApi(v, sel, "scaled to 5", 5);
        await c.api.patch(`/apis/apps/v1${base()}/deployments/${name}`, { spec: { replicas: 1 } });
        await sameAsApi(v, sel, "scaled to 1", 1);
        await c.api.delete(`/apis/apps/v1${base()}/deployments/${name}`, { propagationPolicy: "Background" });
        await sameAsApi(v, sel, "deleted", 0);
        assert.deepEqual(v.s.errors, []);
      } finally {
        v.s.stop();
      }
    });
  }

  it("subscriptions on both transports survive cluster:restart-apiserver, drained and killed", {
    timeout: 200_000,
  }, async () => {
    // Bare pods (no controller) so that only the apiserver, kwok and kgql are involved.
    const sel = "app=restart";
    const pod = (n: string) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: n, labels: { app: "restart" } },
      spec: podSpec,
    });
    const views = [podView("sse", sel), podView("ws", sel)];
    try {
      for (const v of views) await waitFor(v.synced, { message: "SYNCED", until: Boolean });
      await c.api.post(`/api/v1${base()}/pods`, pod("before"));
      for (const v of views) await sameAsApi(v, sel, "before the restart", 1);
      await restartApiserver();
      await c.api.post(`/api/v1${base()}/pods`, pod("after"));
      await c.api.delete(`/api/v1${base()}/pods/before`, { gracePeriodSeconds: 0 });
      for (const v of views) await sameAsApi(v, sel, "after the restart");
      await restartApiserver({ kill: true });
      await c.api.post(`/api/v1${base()}/pods`, pod("after-kill"));
      for (const v of views) await sameAsApi(v, sel, "after a killed apiserver", 2);
      for (const v of views) assert.deepEqual(v.s.errors, []);
    } finally {
      for (const v of views) v.s.stop();
    }
  });
});
