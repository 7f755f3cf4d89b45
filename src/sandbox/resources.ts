// What the simulated apiserver serves. One table describes every built-in resource; routing,
// discovery, storage, selectors and the seed all read it, so adding a kind is one line here.
// Resources registered at runtime (to simulate CRDs) join the same table.
import type { GroupVersionResource } from "../informers/types.ts";

export interface SandboxResource extends GroupVersionResource {
  kind: string;
  listKind: string;
  namespaced: boolean;
  verbs: readonly string[];
  singularName: string;
  shortNames: readonly string[];
  /** Whether the apiserver maintains metadata.generation (bumped when spec changes). */
  generation: boolean;
  /** Fields a fieldSelector may use besides metadata.name and metadata.namespace. */
  fieldLabels: readonly string[];
}

/** What registerResource accepts: the identity; the rest defaults like a CRD's. */
export type ResourceDefinition = GroupVersionResource & {
  kind: string;
  namespaced: boolean;
} & Partial<Omit<SandboxResource, keyof GroupVersionResource | "kind" | "namespaced">>;

/** The verbs the sandbox implements (see http.ts); discovery advertises exactly these. */
export const SERVED_VERBS: readonly string[] = [
  "create",
  "delete",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

const POD_FIELDS = [
  "spec.nodeName",
  "spec.restartPolicy",
  "spec.schedulerName",
  "spec.serviceAccountName",
  "spec.hostNetwork",
  "status.phase",
  "status.podIP",
  "status.nominatedNodeName",
];
const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

// group, version, resource, kind, namespaced, generation, shortNames, extra field labels
type Row = [string, string, string, string, boolean, boolean, string[], string[]?];
const BUILTIN: Row[] = [
  ["", "v1", "namespaces", "Namespace", false, false, ["ns"], ["status.phase"]],
  ["", "v1", "nodes", "Node", false, false, ["no"], ["spec.unschedulable"]],
  ["", "v1", "pods", "Pod", true, true, ["po"], POD_FIELDS],
  ["", "v1", "services", "Service", true, false, ["svc"]],
  ["", "v1", "endpoints", "Endpoints", true, false, ["ep"]],
  ["", "v1", "configmaps", "ConfigMap", true, false, ["cm"]],
  ["", "v1", "secrets", "Secret", true, false, [], ["type"]],
  ["", "v1", "serviceaccounts", "ServiceAccount", true, false, ["sa"]],
  ["", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, false, ["pvc"]],
  ["", "v1", "persistentvolumes", "PersistentVolume", false, false, ["pv"]],
  ["", "v1", "events", "Event", true, false, ["ev"], EVENT_FIELDS],
  ["apps", "v1", "deployments", "Deployment", true, true, ["deploy"]],
  ["apps", "v1", "replicasets", "ReplicaSet", true, true, ["rs"], ["status.replicas"]],
  ["apps", "v1", "statefulsets", "StatefulSet", true, true, ["sts"]],
  ["apps", "v1", "daemonsets", "DaemonSet", true, true, ["ds"]],
  ["batch", "v1", "jobs", "Job", true, true, [], ["status.successful"]],
  ["batch", "v1", "cronjobs", "CronJob", true, true, ["cj"]],
  ["discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false, [], ["addressType"]],
  ["networking.k8s.io", "v1", "ingresses", "Ingress", true, true, ["ing"]],
];

function define(def: ResourceDefinition): SandboxResource {
  return {
    listKind: `${def.kind}List`,
    verbs: SERVED_VERBS,
    singularName: def.kind.toLowerCase(),
    shortNames: [],
    // Custom resources always carry metadata.generation.
    generation: true,
    fieldLabels: [],
    ...def,
  };
}

export function apiVersionOf(res: GroupVersionResource): string {
  return res.group ? `${res.group}/${res.version}` : res.version;
}

/** "pods", "deployments.apps": how the apiserver names a resource in messages. */
export function qualifiedName(res: GroupVersionResource): string {
  return res.group ? `${res.resource}.${res.group}` : res.resource;
}

export class ResourceTable {
  private readonly all: SandboxResource[] = BUILTIN.map(
    ([group, version, resource, kind, namespaced, generation, shortNames, fieldLabels]) =>
      define({ group, version, resource, kind, namespaced, generation, shortNames, fieldLabels }),
  );

  register(def: ResourceDefinition): SandboxResource {
    // One served version per resource: the store keeps one object per group and plural.
    if (this.all.some((r) => r.group === def.group && r.resource === def.resource)) {
      throw new Error(`sandbox: resource ${qualifiedName(def)} is already served`);
    }
    const res = define(def);
    this.all.push(res);
    return res;
  }

  list(): readonly SandboxResource[] {
    return this.all;
  }

  find(group: string, version: string, resource: string): SandboxResource | undefined {
    return this.all.find((r) => r.group === group && r.version === version && r.resource === resource);
  }

  /** Accepts "pods", "deployments.apps", "apps/v1/deployments", "v1/pods" or a GroupVersionResource. */
  resolve(ref: string | GroupVersionResource): SandboxResource {
    let found: SandboxResource | undefined;
    if (typeof ref !== "string") found = this.find(ref.group, ref.version, ref.resource);
    else {
      const parts = ref.split("/");
      if (parts.length === 3) found = this.find(parts[0]!, parts[1]!, parts[2]!);
      else if (parts.length === 2) found = this.find("", parts[0]!, parts[1]!);
      else found = this.all.find((r) => r.resource === ref || qualifiedName(r) === ref);
    }
    if (!found) throw new Error(`sandbox: unknown resource ${JSON.stringify(ref)}`);
    return found;
  }

  /** API groups (not the core group) with their versions, in registration order. */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.all) {
      if (!r.group) continue;
      const versions = out.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      out.set(r.group, versions);
    }
    return out;
  }
}
