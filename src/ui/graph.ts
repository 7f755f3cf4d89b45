// From the objects to the graph drawn: workloads -> ReplicaSets -> pods -> nodes, and
// ingresses -> services -> pods. Pods of one owner beyond a threshold become one counted group
// node (coloured by how many are in each state) that expands on click: at 10,000 pods the
// graph stays at a few hundred nodes, which lays out in well under a second and draws fast.
// No DOM here: the unit tests build graphs in Node.
import type { KindName, Obj } from "./kinds.ts";

export type PodStatus = "ready" | "notready" | "pending" | "failed" | "succeeded" | "unknown";
export const POD_STATUSES: readonly PodStatus[] = [
  "ready",
  "notready",
  "pending",
  "failed",
  "succeeded",
  "unknown",
];

export type Objects = ReadonlyMap<KindName, ReadonlyMap<string, Obj>>;

export interface ViewOptions {
  /** Case-insensitive part of a name; empty: no search. */
  search: string;
  /** Owner uids whose pod group is shown pod by pod. */
  expanded: ReadonlySet<string>;
  /** An owner with more pods than this shows them as one group node. */
  groupThreshold: number;
  /** A label selector narrows the pods: hide what no shown pod belongs to. */
  filtered: boolean;
}

export interface GNode {
  id: string;
  kind: KindName | "PodGroup";
  name: string;
  namespace: string | null;
  /** The second line: replica counts, phase, selector... */
  detail: string;
  status?: PodStatus;
  /** Group nodes: pods per status. */
  counts?: Record<PodStatus, number>;
  /** Group nodes: the owner whose pods they are. */
  owner?: string;
  /** Search: false when a search is on and this does not match (drawn dimmed). */
  match: boolean;
  width: number;
  height: number;
}

export interface GEdge {
  from: string;
  to: string;
}

export interface Graph {
  nodes: GNode[];
  edges: GEdge[];
  /** Changes only when nodes or edges come or go: a new layout is needed only then. */
  structureKey: string;
}

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 46;
export const GROUP_HEIGHT = 56;

const WORKLOADS: readonly KindName[] = ["Deployment", "StatefulSet", "DaemonSet", "Job"];
const POD_OWNERS: readonly KindName[] = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"];

export function podStatus(p: Obj): PodStatus {
  switch (p.phase) {
    case "Running":
      return p.ready ? "ready" : "notready";
    case "Pending":
      return "pending";
    case "Failed":
      return "failed";
    case "Succeeded":
      return "succeeded";
    default:
      return "unknown";
  }
}

/** A literal, not built from POD_STATUSES: V8 keeps it a fast object (counted 10,000 times a frame). */
const emptyCounts = (): Record<PodStatus, number> => ({
  ready: 0,
  notready: 0,
  pending: 0,
  failed: 0,
  succeeded: 0,
  unknown: 0,
});

/** Does a Service's selector (as [key, value] pairs, none: selects nothing) match these labels? */
function selectorMatches(selector: [string, string][], labels: Obj["labels"]): boolean {
  if (selector.length === 0) return false;
  for (const [k, v] of selector) if (labels?.[k] !== v) return false;
  return true;
}

function replicaDetail(o: Obj): string {
  if (o.kind === "Job")
    return `${o.active ?? 0} active, ${o.succeeded ?? 0} succeeded, ${o.failed ?? 0} failed`;
  return `${o.readyReplicas ?? 0}/${o.replicas ?? 0} ready`;
}

function podDetail(p: Obj): string {
  const restarts = p.restartCount ? `, ${p.restartCount} restarts` : "";
  const phase = p.phase === "Running" && !p.ready ? "Running, not ready" : (p.phase ?? "Unknown");
  return `${phase}${restarts}`;
}

export function buildGraph(objects: Objects, view: ViewOptions): Graph {
  const all = (k: KindName) => objects.get(k)?.values() ?? [];
  const term = view.search.trim().toLowerCase();
  const matches = (name: string) => !term || name.toLowerCase().includes(term);
  const nodes = new Map<string, GNode>();
  const edges: GEdge[] = [];
  const add = (o: Obj, detail: string, extra: Partial<GNode> = {}) => {
    nodes.set(o.uid, {
      id: o.uid,
      kind: o.kind,
      name: o.name,
      namespace: o.namespace,
      detail,
      match: matches(o.name),
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
      ...extra,
    });
  };

  // Pods by the owner that shows them (the first owner that is a pod owner on the page).
  const ownerOf = new Map<string, Obj>();
  for (const k of POD_OWNERS) for (const o of all(k)) ownerOf.set(o.uid, o);
  const podsByOwner = new Map<string, Obj[]>();
  for (const p of all("Pod")) {
    const owner = p.owners.find((r) => ownerOf.has(r.uid))?.uid ?? `none:${p.namespace}`;
    const list = podsByOwner.get(owner);
    if (list) list.push(p);
    else podsByOwner.set(owner, [p]);
  }

  // What has pods (directly or through a ReplicaSet): with a label selector, only that is shown.
  const hasPods = new Set<string>();
  for (const owner of podsByOwner.keys()) {
    hasPods.add(owner);
    for (const r of ownerOf.get(owner)?.owners ?? []) hasPods.add(r.uid);
  }
  const shown = (o: Obj) => !view.filtered || hasPods.has(o.uid);

  for (const k of WORKLOADS) for (const o of all(k)) if (shown(o)) add(o, replicaDetail(o));
  for (const rs of all("ReplicaSet")) {
    // Old ReplicaSets at zero are history, not topology: shown while they still have pods.
    if (!hasPods.has(rs.uid) && !rs.replicas) continue;
    if (!shown(rs)) continue;
    add(rs, replicaDetail(rs));
    for (const r of rs.owners) if (nodes.has(r.uid)) edges.push({ from: r.uid, to: rs.uid });
  }

  const nodeByName = new Map<string, Obj>();
  for (const n of all("Node")) nodeByName.set(n.name, n);
  const podsOnNode = new Map<string, number>();
  // Where each pod is drawn (itself, or its owner's group), for the services' edges.
  const drawnAs = new Map<string, string>();
  for (const [owner, pods] of podsByOwner) {
    const grouped = pods.length > view.groupThreshold && !view.expanded.has(owner);
    if (grouped) {
      const counts = emptyCounts();
      let matching = 0;
      const onNodes = new Set<string>();
      for (const p of pods) {
        counts[podStatus(p)]++;
        if (term && p.name.toLowerCase().includes(term)) matching++;
        if (p.nodeName) onNodes.add(p.nodeName);
      }
      const id = `group:${owner}`;
      const parts = POD_STATUSES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
      nodes.set(id, {
        id,
        kind: "PodGroup",
        name: `${pods.length} pods${term ? ` (${matching} match)` : ""}`,
        namespace: pods[0]!.namespace,
        detail: `${parts.join(", ")} · on ${onNodes.size} node${onNodes.size === 1 ? "" : "s"}`,
        counts,
        owner,
        match: !term || matching > 0,
        width: NODE_WIDTH + 20,
        height: GROUP_HEIGHT,
      });
      if (nodes.has(owner)) edges.push({ from: owner, to: id });
      for (const p of pods) drawnAs.set(p.uid, id);
    } else {
      for (const p of pods) {
        add(p, podDetail(p), { status: podStatus(p) });
        if (nodes.has(owner)) edges.push({ from: owner, to: p.uid });
        drawnAs.set(p.uid, p.uid);
        const node = p.nodeName ? nodeByName.get(p.nodeName) : undefined;
        if (node) edges.push({ from: p.uid, to: node.uid });
      }
    }
    for (const p of pods) if (p.nodeName) podsOnNode.set(p.nodeName, (podsOnNode.get(p.nodeName) ?? 0) + 1);
  }
  for (const n of all("Node")) {
    const count = podsOnNode.get(n.name) ?? 0;
    if (view.filtered && count === 0) continue;
    add(n, `${n.nodeReady === false ? "NotReady" : "Ready"}, ${count} pod${count === 1 ? "" : "s"}`);
  }

  // Services -> what draws their pods (deduplicated: one edge to a group, not one per pod).
  // Candidates come from a namespace -> label -> value index, so a Service looks at the pods
  // with its first selector label, not every pod of its namespace. Nested maps keyed by the
  // objects' own strings: a composite string key per pod and label, built anew each frame,
  // cost more in hashing than the scan it saves.
  const byLabel = new Map<string | null, Map<string, Map<string, Obj[]>>>();
  for (const p of all("Pod")) {
    let keys = byLabel.get(p.namespace);
    if (!keys) {
      keys = new Map();
      byLabel.set(p.namespace, keys);
    }
    for (const k in p.labels) {
      const v = p.labels[k]!;
      let values = keys.get(k);
      if (!values) {
        values = new Map();
        keys.set(k, values);
      }
      const list = values.get(v);
      if (list) list.push(p);
      else values.set(v, [p]);
    }
  }
  const servicesByName = new Map<string, Obj>();
  for (const s of all("Service")) {
    servicesByName.set(`${s.namespace}/${s.name}`, s);
    const targets = new Set<string>();
    const selector = Object.entries(s.selector ?? {});
    const [first] = selector;
    const candidates = first ? (byLabel.get(s.namespace)?.get(first[0])?.get(first[1]) ?? []) : [];
    for (const p of candidates) if (selectorMatches(selector, p.labels)) targets.add(drawnAs.get(p.uid)!);
    if (view.filtered && targets.size === 0) continue;
    const sel = s.selector ? Object.entries(s.selector).map(([k, v]) => `${k}=${v}`) : [];
    add(s, sel.length ? sel.join(",") : "no selector");
    for (const t of targets) edges.push({ from: s.uid, to: t });
  }
  for (const ing of all("Ingress")) {
    const targets = (ing.services ?? [])
      .map((s) => servicesByName.get(`${ing.namespace}/${s.name}`))
      .filter((s): s is Obj => !!s && nodes.has(s.uid));
    if (view.filtered && targets.length === 0) continue;
    add(ing, (ing.services ?? []).map((s) => s.name).join(", ") || "no backend");
    for (const t of targets) edges.push({ from: ing.uid, to: t.uid });
  }

  const list = [...nodes.values()];
  const structureKey = `${list.map((n) => n.id).join(",")}|${edges.map((e) => `${e.from}>${e.to}`).join(",")}`;
  return { nodes: list, edges, structureKey };
}
