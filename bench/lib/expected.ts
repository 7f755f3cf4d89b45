// Expected answers computed from raw Kubernetes objects (a fresh list from the apiserver, or the
// simulator's store), field by field as kgql's resolvers define them, so that the benchmarks
// compare whole answers (canonical JSON, see check.ts), never just counts.

// biome-ignore lint/suspicious/noExplicitAny: raw Kubernetes JSON
export type Any = Record<string, any>;

/** Everything the expected answers are computed from. */
export interface Snapshot {
  namespaces: Any[];
  pods: Any[];
  deployments: Any[];
  replicaSets: Any[];
  services: Any[];
}

export type PodField = "name" | "namespace" | "phase" | "nodeName" | "ready" | "restartCount";

export function podView(p: Any, fields: readonly PodField[]): Record<string, unknown> {
  const all: Record<PodField, () => unknown> = {
    name: () => p.metadata.name,
    namespace: () => p.metadata.namespace ?? null,
    phase: () => p.status?.phase ?? null,
    nodeName: () => p.spec?.nodeName ?? null,
    ready: () =>
      ((p.status?.conditions ?? []) as Any[]).some((c) => c.type === "Ready" && c.status === "True"),
    restartCount: () =>
      ((p.status?.containerStatuses ?? []) as Any[]).reduce((n, c) => n + (c.restartCount ?? 0), 0),
  };
  return Object.fromEntries(fields.map((f) => [f, all[f]()]));
}

export type DeploymentField = "name" | "namespace" | "replicas" | "readyReplicas";

export function deploymentView(d: Any, fields: readonly DeploymentField[]): Record<string, unknown> {
  const all: Record<DeploymentField, () => unknown> = {
    name: () => d.metadata.name,
    namespace: () => d.metadata.namespace ?? null,
    replicas: () => d.spec?.replicas ?? null,
    readyReplicas: () => d.status?.readyReplicas ?? 0,
  };
  return Object.fromEntries(fields.map((f) => [f, all[f]()]));
}

const key = (o: Any) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
/** kgql's list order: by namespace/name. */
export const byKey = (a: Any, b: Any) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** The selection of a deployment -> replicasets -> pods tree with these fields. */
export function topologySelection(deployment: readonly DeploymentField[], pod: readonly PodField[]): string {
  return `${deployment.join(" ")} replicaSets { name pods { ${pod.join(" ")} } }`;
}

/** Objects by the uid of each owner they name (kgql's owner index). */
function byOwner(objects: Any[]): Map<string, Any[]> {
  const out = new Map<string, Any[]>();
  for (const o of objects) {
    for (const r of (o.metadata.ownerReferences ?? []) as Any[]) {
      const list = out.get(r.uid);
      if (list) list.push(o);
      else out.set(r.uid, [o]);
    }
  }
  return out;
}

/** The ownership trees of a snapshot: deployment -> replicasets -> pods. */
export class Topology {
  private readonly podsByOwner: Map<string, Any[]>;
  private readonly replicaSetsByOwner: Map<string, Any[]>;

  constructor(snap: Snapshot) {
    this.podsByOwner = byOwner(snap.pods);
    this.replicaSetsByOwner = byOwner(snap.replicaSets);
  }

  replicaSetsOf(owner: Any): Any[] {
    return this.replicaSetsByOwner.get(owner.metadata.uid) ?? [];
  }

  podsOf(owner: Any): Any[] {
    return this.podsByOwner.get(owner.metadata.uid) ?? [];
  }

  /** A deployment's answer to topologySelection(deployment, pod). */
  answer(d: Any, deployment: readonly DeploymentField[], pod: readonly PodField[]): Record<string, unknown> {
    return {
      ...deploymentView(d, deployment),
      replicaSets: this.replicaSetsOf(d).map((rs) => ({
        name: rs.metadata.name,
        pods: this.podsOf(rs).map((p) => podView(p, pod)),
      })),
    };
  }
}
