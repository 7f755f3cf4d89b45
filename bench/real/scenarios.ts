// The query shapes, sent unchanged to kgql and to the direct baseline, and their expected answers
// computed from a fresh list of everything from the apiserver (see check.ts for normalisation).
import type { KubeApi } from "../../test/cluster/kube-api.ts";
import { canonical } from "../lib/check.ts";
import { deploymentName, type Layout } from "./topology.ts";

// biome-ignore lint/suspicious/noExplicitAny: apiserver JSON
type Any = Record<string, any>;

export interface Scenario {
  id: string;
  title: string;
  /** "list" and "topology" scenarios carry the 50x goal. */
  kind: "get" | "list" | "topology";
  query: string;
  /** The canonical expected `data`. */
  expected: string;
  /** Pods in the answer. */
  pods: number;
}

/** Everything the expected answers are computed from. */
export interface Snapshot {
  namespaces: Any[];
  pods: Any[];
  deployments: Any[];
  replicaSets: Any[];
  services: Any[];
}

async function listAll(api: KubeApi, path: string): Promise<Any[]> {
  const items: Any[] = [];
  let cont: string | undefined;
  do {
    const r = await api.get(path, { query: { limit: 2000, continue: cont }, timeoutMs: 120_000 });
    items.push(...r.body.items);
    cont = r.body.metadata.continue || undefined;
  } while (cont);
  return items;
}

export async function snapshot(api: KubeApi): Promise<Snapshot> {
  const [namespaces, pods, deployments, replicaSets, services] = await Promise.all([
    listAll(api, "/api/v1/namespaces"),
    listAll(api, "/api/v1/pods"),
    listAll(api, "/apis/apps/v1/deployments"),
    listAll(api, "/apis/apps/v1/replicasets"),
    listAll(api, "/api/v1/services"),
  ]);
  return { namespaces, pods, deployments, replicaSets, services };
}

type PodField = "name" | "namespace" | "phase" | "nodeName" | "ready" | "restartCount";

function podView(p: Any, fields: PodField[]): Record<string, unknown> {
  const all: Record<PodField, unknown> = {
    name: p.metadata.name,
    namespace: p.metadata.namespace ?? null,
    phase: p.status?.phase ?? null,
    nodeName: p.spec?.nodeName ?? null,
    ready: ((p.status?.conditions ?? []) as Any[]).some((c) => c.type === "Ready" && c.status === "True"),
    restartCount: ((p.status?.containerStatuses ?? []) as Any[]).reduce(
      (n, c) => n + (c.restartCount ?? 0),
      0,
    ),
  };
  return Object.fromEntries(fields.map((f) => [f, all[f]]));
}

const key = (o: Any) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
const byKey = (a: Any, b: Any) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

export function buildScenarios(snap: Snapshot, layout: Layout): Scenario[] {
  const ns = layout.namespaces[Math.floor(layout.namespaces.length / 2)]!;
  const dep = deploymentName(0);
  const podsByOwner = new Map<string, Any[]>();
  for (const p of snap.pods) {
    for (const r of (p.metadata.ownerReferences ?? []) as Any[]) {
      const list = podsByOwner.get(r.uid) ?? [];
      list.push(p);
      podsByOwner.set(r.uid, list);
    }
  }
  const rsByOwner = new Map<string, Any[]>();
  for (const rs of snap.replicaSets) {
    for (const r of (rs.metadata.ownerReferences ?? []) as Any[]) {
      const list = rsByOwner.get(r.uid) ?? [];
      list.push(rs);
      rsByOwner.set(r.uid, list);
    }
  }
  const podsIn = (namespace: string) =>
    snap.pods.filter((p) => p.metadata.namespace === namespace).sort(byKey);
  const matches = (p: Any, sel: Record<string, string>) =>
    Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => p.metadata.labels?.[k] === v);
  const find = (list: Any[], namespace: string, name: string) => {
    const o = list.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
    if (!o) throw new Error(`${namespace}/${name} is not in the cluster`);
    return o;
  };

  const deployment = find(snap.deployments, ns, dep);
  const depPods = (rsByOwner.get(deployment.metadata.uid) ?? []).flatMap(
    (rs) => podsByOwner.get(rs.metadata.uid) ?? [],
  );
  const onePod = depPods.sort(byKey)[0];
  if (!onePod) throw new Error(`deployment ${ns}/${dep} has no pods`);

  const scenarios: Scenario[] = [];
  const add = (s: Omit<Scenario, "expected"> & { data: unknown }) => {
    const { data, ...rest } = s;
    scenarios.push({ ...rest, expected: canonical(data) });
  };

  // one pod
  {
    const fields: PodField[] = ["name", "namespace", "phase", "nodeName", "ready", "restartCount"];
    add({
      id: "pod",
      title: "one pod",
      kind: "get",
      query: `{ pod(namespace: "${ns}", name: "${onePod.metadata.name}") { ${fields.join(" ")} } }`,
      data: { pod: podView(onePod, fields) },
      pods: 1,
    });
  }
  // pods of a namespace (the first page of up to 1,000, and the total)
  {
    const fields: PodField[] = ["name", "phase", "nodeName", "ready", "restartCount"];
    const all = podsIn(ns);
    add({
      id: "namespacePods",
      title: `pods of a namespace (${Math.min(all.length, 1000)})`,
      kind: "list",
      query: `{ pods(namespace: "${ns}", first: 1000) { totalCount nodes { ${fields.join(" ")} } } }`,
      data: { pods: { totalCount: all.length, nodes: all.slice(0, 1000).map((p) => podView(p, fields)) } },
      pods: Math.min(all.length, 1000),
    });
  }
  // all pods, by namespace
  {
    const fields: PodField[] = ["name", "phase", "nodeName", "ready"];
    add({
      id: "allPods",
      title: `all pods (${snap.pods.length}, by namespace)`,
      kind: "list",
      query: `{ namespaces { name pods { ${fields.join(" ")} } } }`,
      data: {
        namespaces: snap.namespaces.map((n) => ({
          name: n.metadata.name,
          pods: podsIn(n.metadata.name).map((p) => podView(p, fields)),
        })),
      },
      pods: snap.pods.length,
    });
  }
  // deployment -> replicasets -> pods
  const topologyOf = (d: Any, podFields: PodField[], withNamespace: boolean) => ({
    name: d.metadata.name,
    ...(withNamespace ? { namespace: d.metadata.namespace } : {}),
    replicas: d.spec?.replicas ?? null,
    replicaSets: (rsByOwner.get(d.metadata.uid) ?? []).map((rs) => ({
      name: rs.metadata.name,
      pods: (podsByOwner.get(rs.metadata.uid) ?? []).map((p) => podView(p, podFields)),
    })),
  });
  {
    const fields: PodField[] = ["name", "phase", "nodeName", "ready"];
    add({
      id: "deploymentTopology",
      title: "deployment -> replicasets -> pods (one deployment, 50 pods)",
      kind: "topology",
      query: `{ deployment(namespace: "${ns}", name: "${dep}") { name replicas replicaSets { name pods { ${fields.join(" ")} } } } }`,
      data: { deployment: topologyOf(deployment, fields, false) },
      pods: depPods.length,
    });
  }
  {
    const fields: PodField[] = ["name", "phase", "ready"];
    const deps = snap.deployments.filter((d) => d.metadata.namespace === ns).sort(byKey);
    add({
      id: "namespaceTopology",
      title: `deployments -> replicasets -> pods of a namespace (${deps.length} deployments)`,
      kind: "topology",
      query: `{ deployments(namespace: "${ns}", first: 1000) { totalCount nodes { name replicas replicaSets { name pods { ${fields.join(" ")} } } } } }`,
      data: {
        deployments: {
          totalCount: deps.length,
          nodes: deps.slice(0, 1000).map((d) => topologyOf(d, fields, false)),
        },
      },
      pods: podsIn(ns).length,
    });
  }
  {
    const fields: PodField[] = ["name", "phase", "nodeName", "ready", "restartCount"];
    const deps = [...snap.deployments].sort(byKey);
    add({
      id: "fullTopology",
      title: `all deployments -> replicasets -> pods (${deps.length} deployments)`,
      kind: "topology",
      query: `{ deployments(first: 1000) { totalCount nodes { name namespace replicas replicaSets { name pods { ${fields.join(" ")} } } } } }`,
      data: {
        deployments: {
          totalCount: deps.length,
          nodes: deps.slice(0, 1000).map((d) => topologyOf(d, fields, true)),
        },
      },
      pods: snap.pods.length,
    });
  }
  // service -> pods
  for (const [id, name, title] of [
    ["servicePods", dep, "service -> pods (one deployment's, 50 pods)"],
    ["serviceWidePods", "web", "service -> pods (a namespace's, every pod)"],
  ] as const) {
    const fields: PodField[] = ["name", "phase", "ready"];
    const svc = find(snap.services, ns, name);
    const pods = podsIn(ns).filter((p) => matches(p, svc.spec?.selector ?? {}));
    add({
      id,
      title: title.replace("every pod", `${pods.length} pods`),
      kind: "topology",
      query: `{ service(namespace: "${ns}", name: "${name}") { name pods { ${fields.join(" ")} } } }`,
      data: { service: { name, pods: pods.map((p) => podView(p, fields)) } },
      pods: pods.length,
    });
  }
  return scenarios;
}

/** The query of the "small query while big ones run" figure, and the big one. */
export function mixedQueries(scenarios: Scenario[]): { small: Scenario; big: Scenario } {
  return {
    small: scenarios.find((s) => s.id === "pod")!,
    big: scenarios.find((s) => s.id === "fullTopology")!,
  };
}
