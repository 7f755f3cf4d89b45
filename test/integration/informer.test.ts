// Informers against the real kube-apiserver: initial sync, live events, resume after an
// apiserver restart, 410 on resume, a cut connection and a stalled one (through a TCP proxy),
// and a convergence test under a random sequence of changes and faults.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient } from "../../src/informers/client.ts";
import { type ResourceInfo, SharedInformer } from "../../src/informers/shared-informer.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { kindByResource } from "../../src/kinds.ts";
import {
  type ClusterInfo,
  getCluster,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  restartApiserver,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";

const cluster = await getCluster();

/** A client whose traffic goes through the proxy (the cert names 127.0.0.1, so TLS verifies). */
async function clientVia(c: ClusterInfo, proxy?: TcpProxy): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfig);
  if (proxy) {
    const server = `https://127.0.0.1:${proxy.port}`;
    kc.loadFromOptions({
      clusters: kc.clusters.map((cl) => ({ ...cl, server })),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  return KubeClient.fromKubeConfig(kc);
}

/** Records per key the sequence of delivered event types. */
function eventLog(informer: SharedInformer) {
  const byKey = new Map<string, string[]>();
  const push = (o: KubeObject, type: string) => {
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    const list = byKey.get(key);
    if (list) list.push(type);
    else byKey.set(key, [type]);
  };
  informer.addEventHandler({
    onAdd: (o) => push(o, "ADDED"),
    onUpdate: (_old, o) => push(o, "MODIFIED"),
    onDelete: (o) => push(o, "DELETED"),
  });
  return byKey;
}

/** "key@rv" of every object, sorted, for cache/server equality. */
const keyRVs = (objects: Iterable<KubeObject>) =>
  [...objects].map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`).sort();

// Both ways of syncing, each through every scenario: watch-list (the informer's default) and
// paged list then watch (servers without watch-list, and --disable-watch-list).
for (const useWatchList of [true, false]) {
  describe(`informers on the real control plane (${useWatchList ? "watch-list" : "list+watch"})`, {
    skip: cluster ? false : NO_CLUSTER_REASON,
  }, () => {
    const c = cluster!;
    let ns: TestNamespace;
    let proxy: TcpProxy;
    const informers: SharedInformer[] = [];

    before(async () => {
      ns = await withNamespace("informer");
      const server = new URL(c.server);
      proxy = new TcpProxy(server.hostname, Number(server.port));
      await proxy.start();
    });
    after(async () => {
      await Promise.all(informers.map((i) => i.stop()));
      await proxy.stop();
      await ns.delete();
    });

    async function informer(resource: string, opts: { viaProxy?: boolean; stallTimeoutMs?: number } = {}) {
      const info: ResourceInfo = kindByResource(resource)!;
      const inf = new SharedInformer({
        client: await clientVia(c, opts.viaProxy === false ? undefined : proxy),
        resource: info,
        namespace: ns.name,
        reflector: {
          useWatchList,
          backoff: { initialMs: 100, capMs: 1000 },
          stallTimeoutMs: opts.stallTimeoutMs ?? 3000,
        },
      });
      informers.push(inf);
      return inf;
    }
    const serverList = async (path: string) =>
      ((await c.api.get(`/api/v1/namespaces/${ns.name}/${path}`)).body.items as KubeObject[]).map((o) => ({
        ...o,
        metadata: { ...o.metadata, namespace: ns.name },
      }));
    const cm = (name: string, data: Record<string, string> = {}) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name },
      data,
    });

    it("syncs initially, then applies live creates, updates and deletes", async () => {
      for (const n of ["a", "b", "c"])
        await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, cm(`init-${n}`));
      const inf = await informer("configmaps", { viaProxy: false });
      inf.start();
      assert.equal(await inf.waitForSync(10_000), true);
      assert.equal(
        inf.status().usingWatchList,
        useWatchList,
        "the apiserver serves watch-list (gate WatchList)",
      );
      assert.deepEqual(keyRVs(inf.store.values()), keyRVs(await serverList("configmaps")));
      const events = eventLog(inf);
      await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, cm("live", { v: "1" }));
      await c.api.put(`/api/v1/namespaces/${ns.name}/configmaps/live`, cm("live", { v: "2" }));
      await c.api.delete(`/api/v1/namespaces/${ns.name}/configmaps/init-a`);
      await waitFor(
        async () => keyRVs(inf.store.values()).join() === keyRVs(await serverList("configmaps")).join(),
        {
          message: "the cache to follow live changes",
          until: Boolean,
          timeoutMs: 10_000,
        },
      );
      await waitFor(() => events.get(`${ns.name}/live`)?.join(), {
        message: "ADDED then MODIFIED for live",
        until: (v) => v === "ADDED,MODIFIED",
      });
      assert.equal(
        inf.store.get(`${ns.name}/live`)?.data && (inf.store.get(`${ns.name}/live`)!.data as { v: string }).v,
        "2",
      );
      assert.ok(events.get(`${ns.name}/init-a`)?.includes("DELETED"));
      assert.equal(inf.status().lists, 1, "no relist during normal operation");
    });

    it("resumes after cluster:restart-apiserver; an expired RV on resume is a 410 followed by a relist", async () => {
      const inf = await informer("configmaps", { viaProxy: false });
      const events = eventLog(inf);
      inf.start();
      await inf.waitForSync(10_000);
      // Move etcd's revision past the informer's RV so the restarted watch cache starts later.
      await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, cm("before-restart"));
      await waitFor(() => inf.store.has(`${ns.name}/before-restart`), {
        message: "the event before restart",
        until: Boolean,
      });
      await c.api.post(`/api/v1/namespaces/default/configmaps`, cm(`bump-${Date.now()}`));
      // Killed (not drained): the informer only sees dropped and refused connections, so it
      // resumes its watch from the old RV, which the new watch cache no longer has: 410.
      await restartApiserver({ kill: true });
      await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, cm("after-restart"));
      await waitFor(
        async () => keyRVs(inf.store.values()).join() === keyRVs(await serverList("configmaps")).join(),
        {
          message: "the cache to equal the server after the restart",
          until: Boolean,
          timeoutMs: 30_000,
        },
      );
      const st = inf.status();
      assert.ok(st.watchRestarts >= 1, `the watch was reopened (${JSON.stringify(st)})`);
      assert.ok(st.expired >= 1 && st.relists >= 1, `a 410 led to a relist (${JSON.stringify(st)})`);
      assert.deepEqual(events.get(`${ns.name}/after-restart`), ["ADDED"]);
      assert.deepEqual(
        events.get(`${ns.name}/before-restart`),
        ["ADDED"],
        "nothing re-announced by the relist",
      );
    });

    it("the apiserver answers a watch from a too-old RV with an ERROR 410 inside HTTP 200", async () => {
      const res = await c.api.stream("GET", `/api/v1/namespaces/${ns.name}/configmaps`, {
        query: { watch: 1, resourceVersion: "1" },
      });
      assert.equal(res.statusCode, 200);
      let text = "";
      for await (const chunk of res) text += chunk;
      const event = JSON.parse(text.trim().split("\n")[0]!);
      assert.equal(event.type, "ERROR");
      assert.equal(event.object.code, 410);
    });

    it("a connection cut by a TCP proxy: re-watch from the last RV, no relist, nothing missed", async () => {
      const inf = await informer("configmaps");
      const events = eventLog(inf);
      inf.start();
      await inf.waitForSync(10_000);
      await waitFor(() => inf.status().watchHealthy, { message: "a healthy watch", until: Boolean });
      const before = inf.status();
      proxy.cutAll();
      await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, cm("during-cut"));
      await waitFor(() => events.get(`${ns.name}/during-cut`), {
        message: "the event made during the cut",
        until: Boolean,
      });
      const st = inf.status();
      assert.equal(st.lists, before.lists, "no relist after a cut");
      assert.ok(st.watchRestarts > before.watchRestarts);
    });

    it("a stalled connection (proxy stops forwarding) is detected and the watch resumes", async () => {
      const inf = await informer("configmaps", { stallTimeoutMs: 1500 });
      const events = eventLog(inf);
      inf.start();
      await inf.waitForSync(10_000);
      await waitFor(() => inf.status().watchHealthy, { message: "a healthy watch", until: Boolean });
      proxy.stall(true);
      await c.api.post(`/api/v1/namespaces/${ns.name}/configmaps`, cm("during-stall"));
      await waitFor(() => inf.status().stalls, {
        message: "stall detection",
        until: (n) => n >= 1,
        timeoutMs: 10_000,
      });
      proxy.stall(false);
      proxy.cutAll(); // connections opened while stalled are stuck mid-handshake
      await waitFor(() => events.get(`${ns.name}/during-stall`), {
        message: "the event made during the stall",
        until: Boolean,
        timeoutMs: 15_000,
      });
      assert.equal(inf.status().relists, 0);
    });

    it("converges under random changes interleaved with cuts, stalls and apiserver restarts", {
      timeout: 300_000,
    }, async () => {
      const seed = Number(process.env.KGQL_CONVERGENCE_SEED ?? Date.now() % 100_000);
      let state = seed;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state % n;
      };
      const cycles = Number(process.env.KGQL_CONVERGENCE_CYCLES ?? 20);
      const kinds = ["configmaps", "pods", "deployments", "replicasets"] as const;
      const infs = new Map<string, SharedInformer>();
      const logs = new Map<string, Map<string, string[]>>();
      for (const k of kinds) {
        const inf = await informer(k, { stallTimeoutMs: 1500 });
        logs.set(k, eventLog(inf));
        infs.set(k, inf);
        inf.start();
      }
      for (const inf of infs.values()) assert.equal(await inf.waitForSync(15_000), true);
      const podSpec = await kwokPodSpec(c);
      const base = `/namespaces/${ns.name}`;
      const deploy = (name: string, replicas: number) => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: podSpec },
        },
      });
      const faults: string[] = [];
      for (let cycle = 0; cycle < cycles; cycle++) {
        for (let op = 0; op < 4; op++) {
          const n = rand(6);
          const name = `conv-${n}`;
          switch (rand(5)) {
            case 0:
              await c.api.post(`/api/v1${base}/configmaps`, cm(name, { v: String(cycle) }), {
                allowError: true,
              });
              break;
            case 1:
              await c.api.patch(
                `/api/v1${base}/configmaps/${name}`,
                { data: { v: `${cycle}-${op}` } },
                { allowError: true },
              );
              break;
            case 2:
              await c.api.delete(`/api/v1${base}/configmaps/${name}`, undefined, { allowError: true });
              break;
            case 3: {
              const d = `dep-${rand(3)}`;
              const created = await c.api.post(`/apis/apps/v1${base}/deployments`, deploy(d, 1 + rand(3)), {
                allowError: true,
              });
              if (created.status === 409) {
                await c.api.patch(
                  `/apis/apps/v1${base}/deployments/${d}`,
                  { spec: { replicas: rand(4) } },
                  { allowError: true },
                );
              }
              break;
            }
            case 4:
              await c.api.delete(
                `/apis/apps/v1${base}/deployments/dep-${rand(3)}`,
                { propagationPolicy: "Background" },
                { allowError: true },
              );
              break;
          }
        }
        const fault = cycle % 5 === 4 ? "restart" : ["cut", "stall", "none"][rand(3)]!;
        faults.push(fault);
        if (fault === "cut") proxy.cutAll();
        else if (fault === "stall") {
          proxy.stall(true);
          await new Promise((r) => setTimeout(r, 1800));
          proxy.stall(false);
          proxy.cutAll();
        } else if (fault === "restart") await restartApiserver();
        await new Promise((r) => setTimeout(r, 200 + rand(500)));
      }
      // Settle: every cache equals a fresh list from the apiserver (same keys, same RVs).
      const paths: Record<string, string> = {
        configmaps: `/api/v1${base}/configmaps`,
        pods: `/api/v1${base}/pods`,
        deployments: `/apis/apps/v1${base}/deployments`,
        replicasets: `/apis/apps/v1${base}/replicasets`,
      };
      for (const k of kinds) {
        const inf = infs.get(k)!;
        const fresh = async () =>
          keyRVs(
            ((await c.api.get(paths[k]!)).body.items as KubeObject[]).map((o) => ({
              ...o,
              metadata: { ...o.metadata, namespace: ns.name },
            })),
          );
        await waitFor(async () => ({ cache: keyRVs(inf.store.values()), server: await fresh() }), {
          message: `${k}: cache equal to the apiserver (seed ${seed}, faults ${faults.join(",")})`,
          until: (v) => v.cache.join() === v.server.join(),
          timeoutMs: 60_000,
          intervalMs: 500,
        });
        const final = new Set(keyRVs(inf.store.values()).map((s) => s.split("@")[0]));
        // Handlers drain their queues after the store is updated: let them catch up first.
        const lastTypes = () =>
          [...logs.get(k)!].filter(([key, t]) => (t.at(-1) !== "DELETED") !== final.has(key!));
        await waitFor(lastTypes, {
          message: `${k}: handlers to catch up`,
          until: (v) => v.length === 0,
          timeoutMs: 10_000,
        });
        for (const [key, types] of logs.get(k)!) {
          let present = false;
          for (const t of types) {
            if (t === "ADDED")
              assert.ok(!present, `${k} ${key}: ADDED twice without DELETED between (${types}) seed ${seed}`);
            if (t === "DELETED")
              assert.ok(present, `${k} ${key}: DELETED while absent (${types}) seed ${seed}`);
            if (t === "MODIFIED")
              assert.ok(present, `${k} ${key}: MODIFIED while absent (${types}) seed ${seed}`);
            present = t !== "DELETED";
          }
          assert.equal(
            present,
            final.has(key),
            `${k} ${key}: events (${types}) disagree with the final cache; seed ${seed}`,
          );
        }
        for (const key of final)
          assert.ok(logs.get(k)!.has(key!), `${k} ${key}: cached but never reported ADDED`);
      }
      assert.equal(faults.length, cycles);
      assert.ok(faults.filter((f) => f === "restart").length >= Math.floor(cycles / 5));
    });
  });
}
