// The core kinds kgql serves with typed GraphQL, described once. Per-kind wiring (informers,
// schema types, connections, resolvers) is generated from this table.
import type { ResourceInfo } from "./informers/shared-informer.ts";

export interface KindDescription extends ResourceInfo {
  /** GraphQL type name. */
  typeName: string;
  /** Root query field for the connection (plural) and for one object (singular). */
  listField: string;
  getField: string;
}

function kind(
  group: string,
  version: string,
  resource: string,
  kindName: string,
  namespaced: boolean,
  listField: string,
  getField: string,
): KindDescription {
  return { group, version, resource, kind: kindName, namespaced, typeName: kindName, listField, getField };
}

export const CORE_KINDS: readonly KindDescription[] = [
  kind("", "v1", "namespaces", "Namespace", false, "namespaceList", "namespace"),
  kind("", "v1", "nodes", "Node", false, "nodes", "node"),
  kind("", "v1", "pods", "Pod", true, "pods", "pod"),
  kind("apps", "v1", "deployments", "Deployment", true, "deployments", "deployment"),
  kind("apps", "v1", "replicasets", "ReplicaSet", true, "replicaSets", "replicaSet"),
  kind("apps", "v1", "statefulsets", "StatefulSet", true, "statefulSets", "statefulSet"),
  kind("apps", "v1", "daemonsets", "DaemonSet", true, "daemonSets", "daemonSet"),
  kind("batch", "v1", "jobs", "Job", true, "jobs", "job"),
  kind("batch", "v1", "cronjobs", "CronJob", true, "cronJobs", "cronJob"),
  kind("", "v1", "services", "Service", true, "services", "service"),
  kind("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, "endpointSlices", "endpointSlice"),
  kind("networking.k8s.io", "v1", "ingresses", "Ingress", true, "ingresses", "ingress"),
  kind("", "v1", "configmaps", "ConfigMap", true, "configMaps", "configMap"),
  kind("", "v1", "secrets", "Secret", true, "secrets", "secret"),
  kind(
    "",
    "v1",
    "persistentvolumeclaims",
    "PersistentVolumeClaim",
    true,
    "persistentVolumeClaims",
    "persistentVolumeClaim",
  ),
  kind("", "v1", "persistentvolumes", "PersistentVolume", false, "persistentVolumes", "persistentVolume"),
  kind("", "v1", "serviceaccounts", "ServiceAccount", true, "serviceAccounts", "serviceAccount"),
  kind("", "v1", "events", "Event", true, "events", "event"),
];

export function kindByResource(resource: string): KindDescription | undefined {
  return CORE_KINDS.find((k) => k.resource === resource);
}

export function kindByName(kindName: string): KindDescription | undefined {
  return CORE_KINDS.find((k) => k.kind === kindName);
}

/**
 * What access decisions are keyed by: a core kind's name ("Pod"), or for any other resource
 * "<resource>.<group>" ("widgets.example.com"). Kind names alone are not unique across groups
 * (a Volcano "Job" is not a batch Job): keying by them would let one resource's RBAC decision
 * show another resource's objects.
 */
export function accessKey(r: { group: string; resource: string; kind: string }): string {
  const core = kindByName(r.kind);
  if (core && core.group === r.group && core.resource === r.resource) return r.kind;
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}
