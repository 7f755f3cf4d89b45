// The query shapes, sent unchanged to kgql and to the direct baseline, and their expected answers
// computed from a fresh list of everything from the apiserver (see check.ts for normalisation).
import type { KubeApi } from "../../test/cluster/kube-api.ts";
import { canonical } from "../lib/check.ts";
import {
  type Any,
  byKey,
  type DeploymentField,
  type PodField,
  podView,
  type Snapshot,
  Topology,
  topologySelection,
} from "../lib/expected.ts";
import { deploymentName, type Layout } from "./topology.ts";

/** Every scenario buildScenarios makes, for --only (an id not here is refused up front). */
export const SCENARIO_IDS = [
  "pod",
  "namespacePods",
  "allPods",
  "deploymentTopology",
  "namespaceTopology",
  "fullTopology",
  "servicePods",
  "serviceWidePods",
] as const;

export interface Scenario {
  id: (typeof SCENARIO_IDS)[number];
  title: string;
  /** "list" and "topology" scenarios carry the 50x goal. */
  kind: "get" | "list" | "topology";
  query: string;
  /** The canonical expected `data`. */
  expected: string;
  /** Pods in the answer. */
  pods: number;
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

export function buildScenarios(snap: Snapshot, layout: Layout): Scenario[] {
  const ns = layout.namespaces[Math.floor(layout.namespaces.length / 2)]!;
  const dep = deploymentName(0);
  const tree = new Topology(snap);
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
  const depPods = tree.replicaSetsOf(deployment).flatMap((rs) => tree.podsOf(rs));
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
  const scoped: DeploymentField[] = ["name", "replicas"];
  {
    const fields: PodField[] = ["name", "phase", "nodeName", "ready"];
    add({
      id: "deploymentTopology",
      title: "deployment -> replicasets -> pods (one deployment, 50 pods)",
      kind: "topology",
      query: `{ deployment(namespace: "${ns}", name: "${dep}") { ${topologySelection(scoped, fields)} } }`,
      data: { deployment: tree.answer(deployment, scoped, fields) },
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
      query: `{ deployments(namespace: "${ns}", first: 1000) { totalCount nodes { ${topologySelection(scoped, fields)} } } }`,
      data: {
        deployments: {
          totalCount: deps.length,
          nodes: deps.slice(0, 1000).map((d) => tree.answer(d, scoped, fields)),
        },
      },
      pods: podsIn(ns).length,
    });
  }
  {
    const fields: PodField[] = ["name", "phase", "nodeName", "ready", "restartCount"];
    const withNamespace: DeploymentField[] = ["name", "namespace", "replicas"];
    const deps = [...snap.deployments].sort(byKey);
    add({
      id: "fullTopology",
      title: `all deployments -> replicasets -> pods (${deps.length} deployments)`,
      kind: "topology",
      query: `{ deployments(first: 1000) { totalCount nodes { ${topologySelection(withNamespace, fields)} } } }`,
      data: {
        deployments: {
          totalCount: deps.length,
          nodes: deps.slice(0, 1000).map((d) => tree.answer(d, withNamespace, fields)),
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
