// The kinds the topology page shows, described once: the subscription of each, the fields it
// selects, and the query that fetches one object's details are generated from this table.

export type KindName =
  | "Deployment"
  | "StatefulSet"
  | "DaemonSet"
  | "Job"
  | "ReplicaSet"
  | "Pod"
  | "Node"
  | "Service"
  | "Ingress";

export interface UiKind {
  kind: KindName;
  group: string;
  version: string;
  resource: string;
  namespaced: boolean;
  /** The root field that gets one object (kgql's typed get field). */
  getField: string;
  /** Kind-specific fields selected on each streamed object. */
  fields: string;
}

export const UI_KINDS: readonly UiKind[] = [
  {
    kind: "Deployment",
    group: "apps",
    version: "v1",
    resource: "deployments",
    namespaced: true,
    getField: "deployment",
    fields: "replicas readyReplicas",
  },
  {
    kind: "StatefulSet",
    group: "apps",
    version: "v1",
    resource: "statefulsets",
    namespaced: true,
    getField: "statefulSet",
    fields: "replicas readyReplicas",
  },
  {
    kind: "DaemonSet",
    group: "apps",
    version: "v1",
    resource: "daemonsets",
    namespaced: true,
    getField: "daemonSet",
    fields: "replicas: desiredNumberScheduled readyReplicas: numberReady",
  },
  {
    kind: "Job",
    group: "batch",
    version: "v1",
    resource: "jobs",
    namespaced: true,
    getField: "job",
    fields: "active succeeded failed",
  },
  {
    kind: "ReplicaSet",
    group: "apps",
    version: "v1",
    resource: "replicasets",
    namespaced: true,
    getField: "replicaSet",
    fields: "replicas readyReplicas",
  },
  {
    kind: "Pod",
    group: "",
    version: "v1",
    resource: "pods",
    namespaced: true,
    getField: "pod",
    fields: "phase ready nodeName restartCount",
  },
  {
    kind: "Node",
    group: "",
    version: "v1",
    resource: "nodes",
    namespaced: false,
    getField: "node",
    fields: "nodeReady: ready",
  },
  {
    kind: "Service",
    group: "",
    version: "v1",
    resource: "services",
    namespaced: true,
    getField: "service",
    fields: "selector",
  },
  {
    kind: "Ingress",
    group: "networking.k8s.io",
    version: "v1",
    resource: "ingresses",
    namespaced: true,
    getField: "ingress",
    fields: "services { name }",
  },
];

export const uiKind = (kind: string): UiKind | undefined => UI_KINDS.find((k) => k.kind === kind);

/** An object as streamed: the common fields plus its kind's (all optional: one shape for all). */
export interface Obj {
  uid: string;
  kind: KindName;
  name: string;
  namespace: string | null;
  labels: Record<string, string>;
  owners: { uid: string }[];
  phase?: string | null;
  ready?: boolean;
  nodeName?: string | null;
  restartCount?: number;
  replicas?: number | null;
  readyReplicas?: number | null;
  active?: number | null;
  succeeded?: number | null;
  failed?: number | null;
  nodeReady?: boolean;
  selector?: Record<string, string> | null;
  services?: { name: string }[];
}

/** The resourceEvents subscription of one kind (namespace and selector are variables). */
export function streamQuery(k: UiKind): string {
  const scope = k.namespaced ? ", namespace: $namespace" : "";
  const selector = k.kind === "Pod" ? ", labelSelector: $labelSelector" : "";
  const vars = [
    k.namespaced ? "$namespace: String" : "",
    k.kind === "Pod" ? "$labelSelector: String" : "",
    "$initial: Boolean",
    "$resumeFrom: String",
    "$cluster: String",
  ].filter(Boolean);
  return `subscription Topology${k.kind}(${vars.join(", ")}) {
  resourceEvents(group: "${k.group}", version: "${k.version}", resource: "${k.resource}"${scope}${selector}, initial: $initial, resumeFrom: $resumeFrom, cluster: $cluster) {
    type resourceVersion reason
    object { uid kind name namespace labels owners { uid } ... on ${k.kind} { ${k.fields} } }
  }
}`;
}

/** One object's details: who owns it, what it owns, its events and its YAML. */
export function detailsQuery(k: UiKind): string {
  const args = k.namespaced ? "namespace: $namespace, name: $name" : "name: $name";
  const vars = k.namespaced ? "$namespace: String!, $name: String!" : "$name: String!";
  return `query TopologyDetails(${vars}, $cluster: String) {
  object: ${k.getField}(${args}, cluster: $cluster) {
    uid kind name namespace creationTimestamp labels
    owners { uid kind name namespace }
    children { uid kind name namespace }
    events { type reason message count lastTimestamp }
    raw
  }
}`;
}
