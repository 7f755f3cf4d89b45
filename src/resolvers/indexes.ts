// Extra indexes the resolvers need for traversals, added to the informers in one place.
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";

/** Events: the uid of their involvedObject (Pod.events, Deployment.events, ...). */
export const INVOLVED_UID_INDEX = "involvedUid";
/** EndpointSlices: the Service they belong to ("ns/name"). */
export const SERVICE_NAME_INDEX = "serviceName";
/** Ingresses: every Service they route to ("ns/name"). */
export const BACKEND_SERVICE_INDEX = "backendService";

/** Pods: every ConfigMap, Secret and PVC they reference, as "Kind:ns/name" (ConfigMap.pods, ...). */
export const POD_REFS_INDEX = "podRefs";

export type PodRefKind = "ConfigMap" | "Secret" | "PersistentVolumeClaim";

export function podRefValue(kind: PodRefKind, namespace: string, name: string): string {
  return `${kind}:${namespace}/${name}`;
}

// biome-ignore lint/suspicious/noExplicitAny: reading arbitrary apiserver JSON
type Any = Record<string, any>;

/**
 * Calls `fn` for each object a pod references by name: volumes (configMap, secret, PVC and
 * projected sources), env valueFrom and envFrom of every container, imagePullSecrets. Names may
 * repeat. One pass, allocating nothing itself: it runs as an index function on every pod change.
 */
export function forEachPodRef(pod: KubeObject, fn: (kind: PodRefKind, name: string) => void): void {
  const spec = pod.spec as Any | undefined;
  if (!spec) return;
  const volumes = spec.volumes as Any[] | undefined;
  if (volumes) {
    for (const v of volumes) {
      if (v.configMap?.name) fn("ConfigMap", v.configMap.name);
      if (v.secret?.secretName) fn("Secret", v.secret.secretName);
      if (v.persistentVolumeClaim?.claimName) fn("PersistentVolumeClaim", v.persistentVolumeClaim.claimName);
      const sources = v.projected?.sources as Any[] | undefined;
      if (sources) {
        for (const src of sources) {
          if (src.configMap?.name) fn("ConfigMap", src.configMap.name);
          if (src.secret?.name) fn("Secret", src.secret.name);
        }
      }
    }
  }
  forEachContainerRef(spec.initContainers, fn);
  forEachContainerRef(spec.containers, fn);
  const pullSecrets = spec.imagePullSecrets as Any[] | undefined;
  if (pullSecrets) for (const p of pullSecrets) if (p.name) fn("Secret", p.name);
}

function forEachContainerRef(containers: Any[] | undefined, fn: (kind: PodRefKind, name: string) => void) {
  if (!containers) return;
  for (const c of containers) {
    const env = c.env as Any[] | undefined;
    if (env) {
      for (const e of env) {
        const from = e.valueFrom;
        if (!from) continue;
        if (from.configMapKeyRef?.name) fn("ConfigMap", from.configMapKeyRef.name);
        if (from.secretKeyRef?.name) fn("Secret", from.secretKeyRef.name);
      }
    }
    const envFrom = c.envFrom as Any[] | undefined;
    if (envFrom) {
      for (const e of envFrom) {
        if (e.configMapRef?.name) fn("ConfigMap", e.configMapRef.name);
        if (e.secretRef?.name) fn("Secret", e.secretRef.name);
      }
    }
  }
}

function podRefsIndex(pod: KubeObject): string[] {
  const ns = pod.metadata.namespace ?? "";
  const out: string[] = [];
  forEachPodRef(pod, (kind, name) => {
    const value = podRefValue(kind, ns, name);
    if (!out.includes(value)) out.push(value);
  });
  return out;
}

export function ingressServiceNames(obj: KubeObject): string[] {
  const spec = obj.spec as
    | {
        defaultBackend?: { service?: { name?: string } };
        rules?: { http?: { paths?: { backend?: { service?: { name?: string } } }[] } }[];
      }
    | undefined;
  const names = new Set<string>();
  if (spec?.defaultBackend?.service?.name) names.add(spec.defaultBackend.service.name);
  for (const rule of spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? [])
      if (path.backend?.service?.name) names.add(path.backend.service.name);
  }
  return [...names];
}

const extraIndexers: Record<string, Record<string, (obj: KubeObject) => readonly string[]>> = {
  pods: { [POD_REFS_INDEX]: podRefsIndex },
  events: {
    [INVOLVED_UID_INDEX]: (o) => {
      const uid = (o.involvedObject as { uid?: string } | undefined)?.uid;
      return uid ? [uid] : [];
    },
  },
  endpointslices: {
    [SERVICE_NAME_INDEX]: (o) => {
      const svc = o.metadata.labels?.["kubernetes.io/service-name"];
      return svc ? [`${o.metadata.namespace}/${svc}`] : [];
    },
  },
  ingresses: {
    [BACKEND_SERVICE_INDEX]: (o) => ingressServiceNames(o).map((n) => `${o.metadata.namespace}/${n}`),
  },
};

export function addResolverIndexes(informer: SharedInformer): void {
  const indexers = extraIndexers[informer.resource.resource];
  if (indexers) informer.addIndexers(indexers);
}
