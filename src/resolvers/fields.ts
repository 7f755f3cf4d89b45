// Kind-specific fields: portal summaries (phase, readiness, rollout) and traversals, each an
// index lookup (owner uid, node name, label/selector index, name references), never a scan.
import { NAMESPACE_INDEX, NODE_NAME_INDEX, OWNER_UID_INDEX } from "../informers/indexers.ts";
import { selectorFromLabelSelector, selectorFromMap } from "../informers/labels.ts";
import type { KubeObject } from "../informers/types.ts";
import { controllerOf, findObject } from "./common.ts";
import type { RequestContext } from "./context.ts";
import {
  BACKEND_SERVICE_INDEX,
  forEachPodRef,
  ingressServiceNames,
  POD_REFS_INDEX,
  type PodRefKind,
  podRefValue,
  SERVICE_NAME_INDEX,
} from "./indexes.ts";

type Resolver = (obj: KubeObject, args: Record<string, unknown>, ctx: RequestContext) => unknown;
// Kubernetes objects are untyped JSON here; fields are read defensively with ?? defaults.
// biome-ignore lint/suspicious/noExplicitAny: reading arbitrary apiserver JSON
type Any = Record<string, any>;

const spec = (o: KubeObject) => (o.spec ?? {}) as Any;
const status = (o: KubeObject) => (o.status ?? {}) as Any;
const conditions = (o: KubeObject) => (status(o).conditions ?? []) as Any[];
/** The condition of a type. A plain loop: it runs for every pod of a topology query. */
function condition(o: KubeObject, type: string): Any | undefined {
  const list = (o.status as Any | undefined)?.conditions as Any[] | undefined;
  if (!list) return undefined;
  for (let i = 0; i < list.length; i++) if (list[i]!.type === type) return list[i];
  return undefined;
}

interface PodSummary {
  ready: boolean;
  restartCount: number;
}

/**
 * A pod's readiness and restarts, computed once per cached object: a topology query reads them
 * for every pod, and finding them means walking conditions and container statuses scattered
 * over the heap (memory latency, not computation, is the cost). Cached objects are never
 * mutated (an update stores a new object), so the summary stays right for the object's life.
 */
const podSummaries = new WeakMap<KubeObject, PodSummary>();

function podSummary(o: KubeObject): PodSummary {
  let summary = podSummaries.get(o);
  if (!summary) {
    const statuses = (o.status as Any | undefined)?.containerStatuses as Any[] | undefined;
    let restarts = 0;
    if (statuses) for (let i = 0; i < statuses.length; i++) restarts += statuses[i]!.restartCount ?? 0;
    summary = { ready: condition(o, "Ready")?.status === "True", restartCount: restarts };
    podSummaries.set(o, summary);
  }
  return summary;
}

/** Objects of `kind` owned by `owner`, through the owner-uid index. */
const ownedBy = (kind: string) => (o: KubeObject, _a: unknown, ctx: RequestContext) =>
  ctx.byIndex(kind, OWNER_UID_INDEX, o.metadata.uid);

/** Pods owned by the ReplicaSets a Deployment owns. */
function deploymentPods(o: KubeObject, ctx: RequestContext): KubeObject[] {
  const out: KubeObject[] = [];
  for (const rs of ctx.byIndex("ReplicaSet", OWNER_UID_INDEX, o.metadata.uid)) {
    out.push(...ctx.byIndex("Pod", OWNER_UID_INDEX, rs.metadata.uid));
  }
  return out;
}

function containerState(cs: Any): { state: string | null; reason: string | null } {
  const st = cs.state ?? {};
  const name = Object.keys(st)[0] ?? null;
  return { state: name, reason: name ? (st[name]?.reason ?? null) : null };
}

/** Like `kubectl rollout status`: generation observed, updated/available counts, conditions. */
export function rollout(o: KubeObject): { state: string; message: string } {
  const s = status(o);
  const want = spec(o).replicas ?? 1;
  if (spec(o).paused) return { state: "PAUSED", message: "rollout is paused" };
  const progressing = condition(o, "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    return {
      state: "FAILED",
      message: `rollout exceeded its progress deadline: ${progressing.message ?? ""}`.trim(),
    };
  }
  if ((o.metadata.generation ?? 0) > (s.observedGeneration ?? 0)) {
    return { state: "PROGRESSING", message: "waiting for the rollout spec update to be observed" };
  }
  const updated = s.updatedReplicas ?? 0;
  if (updated < want)
    return { state: "PROGRESSING", message: `${updated} of ${want} updated replicas are available` };
  if ((s.replicas ?? 0) > updated) {
    return {
      state: "PROGRESSING",
      message: `${(s.replicas ?? 0) - updated} old replicas are pending termination`,
    };
  }
  if ((s.availableReplicas ?? 0) < updated) {
    return {
      state: "PROGRESSING",
      message: `${s.availableReplicas ?? 0} of ${updated} updated replicas are available`,
    };
  }
  return { state: "COMPLETE", message: `deployment successfully rolled out (${updated} replicas)` };
}

/** Objects of `kind` a pod references by name (volumes, env, envFrom, imagePullSecrets). */
const referenced = (kind: PodRefKind) => (o: KubeObject, _a: unknown, ctx: RequestContext) => {
  const out: KubeObject[] = [];
  const seen = new Set<string>();
  forEachPodRef(o, (k, name) => {
    if (k !== kind || seen.has(name)) return;
    seen.add(name);
    const found = ctx.get(kind, o.metadata.namespace, name);
    if (found) out.push(found);
  });
  return out;
};

/** Pods referencing an object (the reverse of the above), through the pods' reference index. */
const referencingPods = (kind: PodRefKind) => (o: KubeObject, _a: unknown, ctx: RequestContext) =>
  ctx.byIndex("Pod", POD_REFS_INDEX, podRefValue(kind, o.metadata.namespace ?? "", o.metadata.name));

/** Services selecting a pod: reverse selector match through the Services' selector index. */
function podServices(o: KubeObject, ctx: RequestContext): KubeObject[] {
  const ns = o.metadata.namespace!;
  if (!ctx.visible("Service", ns)) return [];
  const labels = o.metadata.labels;
  const key = `svc-for\u0000${ns}\u0000${labels ? JSON.stringify(labels) : ""}`;
  return ctx.once(key, () =>
    ctx.gateway
      .informer("Service")
      .lister.selecting(ns, labels, (svc) => selectorFromMap(spec(svc).selector)),
  );
}

function selectorPods(o: KubeObject, ctx: RequestContext, mapOnly: boolean): KubeObject[] {
  const sel = mapOnly ? selectorFromMap(spec(o).selector) : selectorFromLabelSelector(spec(o).selector);
  if (sel.isNothing() || !ctx.visible("Pod", o.metadata.namespace)) return [];
  return ctx.once(`pods-by-sel\u0000${o.metadata.namespace}\u0000${sel.toString()}`, () =>
    ctx.gateway.informer("Pod").lister.list({ namespace: o.metadata.namespace, selector: sel }),
  );
}

export const kindResolvers: Record<string, Record<string, Resolver>> = {
  Namespace: { phase: (o) => status(o).phase ?? null },
  Node: {
    ready: (o) => condition(o, "Ready")?.status === "True",
    unschedulable: (o) => spec(o).unschedulable === true,
    capacity: (o) => status(o).capacity ?? {},
    allocatable: (o) => status(o).allocatable ?? {},
    conditions: (o) => conditions(o),
    kubeletVersion: (o) => status(o).nodeInfo?.kubeletVersion ?? null,
    pods: (o, _a, ctx) => ctx.byIndex("Pod", NODE_NAME_INDEX, o.metadata.name),
  },
  Pod: {
    phase: (o) => status(o).phase ?? null,
    ready: (o) => podSummary(o).ready,
    restartCount: (o) => podSummary(o).restartCount,
    nodeName: (o) => spec(o).nodeName ?? null,
    node: (o, _a, ctx) => (spec(o).nodeName ? (ctx.get("Node", undefined, spec(o).nodeName) ?? null) : null),
    podIP: (o) => status(o).podIP ?? null,
    hostIP: (o) => status(o).hostIP ?? null,
    serviceAccountName: (o) => spec(o).serviceAccountName ?? null,
    conditions: (o) => conditions(o),
    containers: (o) =>
      ((spec(o).containers ?? []) as Any[]).map((c) => ({
        name: c.name,
        image: c.image ?? "",
        // Values that come from references are shown as the reference, never resolved.
        env: ((c.env ?? []) as Any[]).map((e) => {
          const from = e.valueFrom as Any | undefined;
          const type = from ? Object.keys(from)[0] : undefined;
          return {
            name: e.name,
            value: from ? null : (e.value ?? null),
            valueFrom: type ? { type, name: from![type]?.name ?? null, key: from![type]?.key ?? null } : null,
          };
        }),
      })),
    containerStatuses: (o) =>
      ((status(o).containerStatuses ?? []) as Any[]).map((cs) => ({
        name: cs.name,
        image: cs.image ?? "",
        ready: cs.ready === true,
        restartCount: cs.restartCount ?? 0,
        ...containerState(cs),
      })),
    controller: (o, _a, ctx) => controllerOf(o, ctx),
    services: (o, _a, ctx) => podServices(o, ctx),
    persistentVolumeClaims: referenced("PersistentVolumeClaim"),
    configMaps: referenced("ConfigMap"),
    secrets: referenced("Secret"),
  },
  Deployment: {
    replicas: (o) => spec(o).replicas ?? null,
    readyReplicas: (o) => status(o).readyReplicas ?? 0,
    updatedReplicas: (o) => status(o).updatedReplicas ?? 0,
    availableReplicas: (o) => status(o).availableReplicas ?? 0,
    conditions: (o) => conditions(o),
    rollout: (o) => rollout(o),
    selector: (o) => spec(o).selector ?? null,
    images: (o) => ((spec(o).template?.spec?.containers ?? []) as Any[]).map((c) => c.image),
    replicaSets: ownedBy("ReplicaSet"),
    pods: (o, _a, ctx) => deploymentPods(o, ctx),
  },
  ReplicaSet: {
    replicas: (o) => spec(o).replicas ?? null,
    readyReplicas: (o) => status(o).readyReplicas ?? 0,
    availableReplicas: (o) => status(o).availableReplicas ?? 0,
    deployment: (o, _a, ctx) => {
      const c = controllerOf(o, ctx);
      return c?.kind === "Deployment" ? c : null;
    },
    pods: ownedBy("Pod"),
  },
  StatefulSet: {
    replicas: (o) => spec(o).replicas ?? null,
    readyReplicas: (o) => status(o).readyReplicas ?? 0,
    pods: ownedBy("Pod"),
  },
  DaemonSet: {
    desiredNumberScheduled: (o) => status(o).desiredNumberScheduled ?? 0,
    numberReady: (o) => status(o).numberReady ?? 0,
    pods: ownedBy("Pod"),
  },
  Job: {
    active: (o) => status(o).active ?? 0,
    succeeded: (o) => status(o).succeeded ?? 0,
    failed: (o) => status(o).failed ?? 0,
    cronJob: (o, _a, ctx) => {
      const c = controllerOf(o, ctx);
      return c?.kind === "CronJob" ? c : null;
    },
    pods: ownedBy("Pod"),
  },
  CronJob: {
    schedule: (o) => spec(o).schedule ?? null,
    suspend: (o) => spec(o).suspend === true,
    lastScheduleTime: (o) => status(o).lastScheduleTime ?? null,
    jobs: ownedBy("Job"),
  },
  Service: {
    type: (o) => spec(o).type ?? "ClusterIP",
    clusterIP: (o) => spec(o).clusterIP ?? null,
    selector: (o) => spec(o).selector ?? null,
    ports: (o) =>
      ((spec(o).ports ?? []) as Any[]).map((p) => ({
        ...p,
        targetPort: p.targetPort === undefined ? null : String(p.targetPort),
      })),
    pods: (o, _a, ctx) => selectorPods(o, ctx, true),
    ingresses: (o, _a, ctx) =>
      ctx.byIndex("Ingress", BACKEND_SERVICE_INDEX, `${o.metadata.namespace}/${o.metadata.name}`),
    endpointSlices: (o, _a, ctx) =>
      ctx.byIndex("EndpointSlice", SERVICE_NAME_INDEX, `${o.metadata.namespace}/${o.metadata.name}`),
  },
  EndpointSlice: {
    addressType: (o) => (o.addressType as string) ?? null,
    service: (o, _a, ctx) => {
      const svc = o.metadata.labels?.["kubernetes.io/service-name"];
      return svc ? (ctx.get("Service", o.metadata.namespace, svc) ?? null) : null;
    },
    endpointCount: (o) => ((o.endpoints as unknown[]) ?? []).length,
  },
  Ingress: {
    ingressClassName: (o) => spec(o).ingressClassName ?? null,
    hosts: (o) => ((spec(o).rules ?? []) as Any[]).map((r) => r.host).filter(Boolean),
    services: (o, _a, ctx) =>
      ingressServiceNames(o)
        .map((n) => ctx.get("Service", o.metadata.namespace, n))
        .filter((x): x is KubeObject => x !== undefined),
  },
  ConfigMap: {
    pods: referencingPods("ConfigMap"),
    keys: (o) => [...Object.keys((o.data as Any) ?? {}), ...Object.keys((o.binaryData as Any) ?? {})].sort(),
    data: (o) => (o.data as Any) ?? {},
  },
  Secret: {
    pods: referencingPods("Secret"),
    type: (o) => (o.type as string) ?? null,
    keys: (o) =>
      [
        ...new Set([...Object.keys((o.data as Any) ?? {}), ...Object.keys((o.stringData as Any) ?? {})]),
      ].sort(),
  },
  PersistentVolumeClaim: {
    pods: referencingPods("PersistentVolumeClaim"),
    phase: (o) => status(o).phase ?? null,
    storageClassName: (o) => spec(o).storageClassName ?? null,
    capacity: (o) => status(o).capacity ?? null,
    volume: (o, _a, ctx) =>
      spec(o).volumeName ? (ctx.get("PersistentVolume", undefined, spec(o).volumeName) ?? null) : null,
  },
  PersistentVolume: {
    phase: (o) => status(o).phase ?? null,
    capacity: (o) => spec(o).capacity ?? null,
    claim: (o, _a, ctx) => {
      const ref = spec(o).claimRef;
      return ref?.name ? (ctx.get("PersistentVolumeClaim", ref.namespace, ref.name) ?? null) : null;
    },
  },
  ServiceAccount: { secretNames: (o) => ((o.secrets as Any[]) ?? []).map((s) => s.name) },
  Event: {
    type: (o) => (o.type as string) ?? null,
    reason: (o) => (o.reason as string) ?? null,
    message: (o) => (o.message as string) ?? null,
    count: (o) => (o.count as number) ?? null,
    lastTimestamp: (o) => (o.lastTimestamp as string) ?? (o.eventTime as string) ?? null,
    involvedObject: (o, _a, ctx) => findObject(ctx, (o.involvedObject as Any | undefined) ?? {}) ?? null,
  },
};

export { NAMESPACE_INDEX };
