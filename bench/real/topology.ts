// The benchmark's cluster topology on the real control plane, created or reused:
// N namespaces (bench-0 ...), in each D Deployments of 50 replicas (app-0 ...), each with one
// ReplicaSet and 50 pods bound round-robin to the kwok nodes (kwok turns them Running and
// Ready), one headless Service per Deployment (app-<j>, 50 pods) and one per namespace (web,
// every pod of the namespace). Everything is labelled kgql.bench=true.
//
// A topology already there with the right size is reused as is; one of another size is resized
// (extra Deployments, Services and namespaces deleted, missing ones created).
import type { KubeApi } from "../../test/cluster/kube-api.ts";

export const REPLICAS = 50;
export const BENCH_LABEL = "kgql.bench";

export interface Layout {
  namespaces: string[];
  deploymentsPerNamespace: number;
  /** Pods the layout has: namespaces x deployments x 50. */
  pods: number;
}

export function layoutFor(pods: number, namespaceCount: number): Layout {
  const deploymentsPerNamespace = Math.max(1, Math.round(pods / (namespaceCount * REPLICAS)));
  return {
    namespaces: Array.from({ length: namespaceCount }, (_, i) => `bench-${i}`),
    deploymentsPerNamespace,
    pods: namespaceCount * deploymentsPerNamespace * REPLICAS,
  };
}

export const deploymentName = (j: number) => `app-${j}`;

export interface TopologyResult {
  /** True when nothing had to be created or deleted. */
  reused: boolean;
  /** Wall time until every pod was Running and Ready. */
  ms: number;
  created: { namespaces: number; deployments: number; services: number };
  deleted: { namespaces: number; deployments: number; services: number };
}

type Log = (line: string) => void;

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function ensureTopology(
  api: KubeApi,
  layout: Layout,
  nodes: string[],
  log: Log,
): Promise<TopologyResult> {
  const t0 = performance.now();
  const created = { namespaces: 0, deployments: 0, services: 0 };
  const deleted = { namespaces: 0, deployments: 0, services: 0 };
  const want = new Set(layout.namespaces);

  // Namespaces: delete bench namespaces outside the layout, create missing ones.
  const existing = (await api.get("/api/v1/namespaces", { query: { labelSelector: `${BENCH_LABEL}=true` } }))
    .body.items as { metadata: { name: string } }[];
  for (const ns of existing) {
    if (want.has(ns.metadata.name)) continue;
    await api.delete(`/api/v1/namespaces/${ns.metadata.name}`, undefined, { expect: [200, 202, 404] });
    deleted.namespaces++;
  }
  const have = new Set(existing.map((n) => n.metadata.name));
  for (const name of layout.namespaces) {
    if (have.has(name)) continue;
    const r = await api.post(
      "/api/v1/namespaces",
      { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { [BENCH_LABEL]: "true" } } },
      { expect: [201, 409] },
    );
    if (r.status === 201) created.namespaces++;
  }
  // Pods need the namespace's default service account (created by kube-controller-manager).
  for (const ns of layout.namespaces) {
    for (let i = 0; ; i++) {
      const r = await api.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`, { allowError: true });
      if (r.status === 200) break;
      if (i > 600) throw new Error(`no default service account in ${ns} after 60 s`);
      await sleep(100);
    }
  }

  // kwok pods: bound to a node (no scheduler runs), tolerating its taints if it has any.
  const taints = ((await api.get(`/api/v1/nodes/${nodes[0]}`)).body.spec?.taints ?? []) as {
    key: string;
    effect: string;
  }[];
  const tolerations = taints.map((t) => ({ key: t.key, operator: "Exists", effect: t.effect }));

  const D = layout.deploymentsPerNamespace;
  const toCreate: { kind: "deployment" | "service"; ns: string; body: object }[] = [];
  for (const [nsIndex, ns] of layout.namespaces.entries()) {
    const deps = (
      await api.get(`/apis/apps/v1/namespaces/${ns}/deployments`, {
        query: { labelSelector: `${BENCH_LABEL}=true` },
      })
    ).body.items as { metadata: { name: string } }[];
    const svcs = (
      await api.get(`/api/v1/namespaces/${ns}/services`, { query: { labelSelector: `${BENCH_LABEL}=true` } })
    ).body.items as { metadata: { name: string } }[];
    const wantDeps = new Set(Array.from({ length: D }, (_, j) => deploymentName(j)));
    const wantSvcs = new Set([...wantDeps, "web"]);
    for (const d of deps) {
      if (wantDeps.has(d.metadata.name)) continue;
      await api.delete(
        `/apis/apps/v1/namespaces/${ns}/deployments/${d.metadata.name}`,
        { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" },
        { expect: [200, 202, 404] },
      );
      deleted.deployments++;
    }
    for (const s of svcs) {
      if (wantSvcs.has(s.metadata.name)) continue;
      await api.delete(`/api/v1/namespaces/${ns}/services/${s.metadata.name}`, undefined, {
        expect: [200, 202, 404],
      });
      deleted.services++;
    }
    const haveDeps = new Set(deps.map((d) => d.metadata.name));
    const haveSvcs = new Set(svcs.map((s) => s.metadata.name));
    const service = (name: string, selector: Record<string, string>) => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, labels: { [BENCH_LABEL]: "true" } },
      // Headless: the apiserver's ClusterIP range is a /24.
      spec: { clusterIP: "None", selector, ports: [{ name: "http", port: 80, targetPort: 8080 }] },
    });
    if (!haveSvcs.has("web")) toCreate.push({ kind: "service", ns, body: service("web", { tier: "web" }) });
    for (let j = 0; j < D; j++) {
      const name = deploymentName(j);
      const node = nodes[(nsIndex * D + j) % nodes.length]!;
      if (!haveSvcs.has(name)) toCreate.push({ kind: "service", ns, body: service(name, { app: name }) });
      if (haveDeps.has(name)) continue;
      toCreate.push({
        kind: "deployment",
        ns,
        body: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name, labels: { [BENCH_LABEL]: "true" } },
          spec: {
            replicas: REPLICAS,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name, tier: "web", [BENCH_LABEL]: "true" } },
              spec: {
                nodeName: node,
                terminationGracePeriodSeconds: 0,
                containers: [
                  {
                    name: "app",
                    image: "registry.invalid/kgql-bench:1",
                    ports: [{ containerPort: 8080 }],
                    env: [{ name: "APP", value: name }],
                  },
                ],
                ...(tolerations.length ? { tolerations } : {}),
              },
            },
          },
        },
      });
    }
  }
  await pool(toCreate, 8, async (c) => {
    const path =
      c.kind === "deployment"
        ? `/apis/apps/v1/namespaces/${c.ns}/deployments`
        : `/api/v1/namespaces/${c.ns}/services`;
    const r = await api.post(path, c.body, { expect: [201, 409] });
    if (r.status === 201) created[c.kind === "deployment" ? "deployments" : "services"]++;
  });
  const changed = [...Object.values(created), ...Object.values(deleted)].some((n) => n > 0);
  if (changed) {
    log(
      `topology: created ${created.namespaces} namespaces, ${created.deployments} deployments, ${created.services} services; ` +
        `deleted ${deleted.namespaces} namespaces, ${deleted.deployments} deployments, ${deleted.services} services`,
    );
  }

  // Wait until every Deployment has all replicas ready and exactly the layout's pods exist
  // (none left terminating), and no bench namespace is still being deleted.
  let last = "";
  let lastLog = 0;
  for (;;) {
    const state = await observe(api, layout);
    if (state.done) break;
    if (state.summary !== last && performance.now() - lastLog > 5000) {
      log(`topology: waiting: ${state.summary}`);
      last = state.summary;
      lastLog = performance.now();
    }
    if (performance.now() - t0 > 25 * 60_000)
      throw new Error(`topology not ready after 25 min: ${state.summary}`);
    await sleep(changed ? 2000 : 500);
  }
  const ms = performance.now() - t0;
  log(
    `topology: ${layout.namespaces.length} namespaces, ${layout.namespaces.length * D} deployments, ${layout.pods} pods Running and Ready` +
      (changed ? ` after ${(ms / 1000).toFixed(1)} s` : " (reused)"),
  );
  return { reused: !changed, ms, created, deleted };
}

async function observe(api: KubeApi, layout: Layout): Promise<{ done: boolean; summary: string }> {
  const D = layout.deploymentsPerNamespace;
  const deps = (
    await api.get("/apis/apps/v1/deployments", { query: { labelSelector: `${BENCH_LABEL}=true` } })
  ).body.items as {
    metadata: { namespace: string; generation?: number };
    status?: {
      readyReplicas?: number;
      updatedReplicas?: number;
      replicas?: number;
      observedGeneration?: number;
    };
  }[];
  const ready = deps.filter(
    (d) =>
      (d.status?.readyReplicas ?? 0) === REPLICAS &&
      (d.status?.updatedReplicas ?? 0) === REPLICAS &&
      (d.status?.replicas ?? 0) === REPLICAS &&
      (d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 1),
  ).length;
  // Pods per namespace, terminating ones included (limit=1 and remainingItemCount: cheap).
  let pods = 0;
  for (const ns of layout.namespaces) {
    const r = await api.get(`/api/v1/namespaces/${ns}/pods`, { query: { limit: 1 } });
    pods += r.body.items.length + Number(r.body.metadata.remainingItemCount ?? 0);
  }
  const podsElsewhere = await (async () => {
    const r = await api.get("/api/v1/pods", { query: { limit: 1 } });
    // The two counts are not one snapshot: while pods go away this can dip below 0.
    return Math.max(0, r.body.items.length + Number(r.body.metadata.remainingItemCount ?? 0) - pods);
  })();
  const terminatingNamespaces = (
    (await api.get("/api/v1/namespaces", { query: { labelSelector: `${BENCH_LABEL}=true` } })).body.items as {
      status?: { phase?: string };
    }[]
  ).filter((n) => n.status?.phase === "Terminating").length;
  const wantDeps = layout.namespaces.length * D;
  const done =
    deps.length === wantDeps &&
    ready === wantDeps &&
    pods === layout.pods &&
    podsElsewhere === 0 &&
    terminatingNamespaces === 0;
  return {
    done,
    summary: `${ready}/${wantDeps} deployments ready (${deps.length} exist), ${pods}/${layout.pods} pods in the bench namespaces, ${podsElsewhere} elsewhere, ${terminatingNamespaces} namespaces terminating`,
  };
}
