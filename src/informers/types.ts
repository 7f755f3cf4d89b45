// The shapes kgql's caches hold. Objects are kept as the apiserver's JSON (after the
// transform), never converted to typed classes: one parse, no Date objects, raw strings.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generateName?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  managedFields?: unknown[];
  finalizers?: string[];
}

/** Any Kubernetes object as served on the wire. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface GroupVersionResource {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural resource name, e.g. "pods". */
  resource: string;
}

/** Event types on a Kubernetes watch stream. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject | Status;
}

/** metav1.Status, as sent in error responses and ERROR watch events. */
export interface Status {
  kind: "Status";
  apiVersion?: string;
  status?: "Success" | "Failure";
  message?: string;
  reason?: string;
  code?: number;
  metadata?: { resourceVersion?: string; continue?: string };
  details?: { causes?: { reason?: string; message?: string; field?: string }[]; retryAfterSeconds?: number };
}

/** The annotation that marks the end of a watch-list's initial events. */
export const INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end";

export function gvrString(gvr: GroupVersionResource): string {
  return gvr.group ? `${gvr.group}/${gvr.version}/${gvr.resource}` : `${gvr.version}/${gvr.resource}`;
}

/** The store key: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name}` : name;
}

/** Parses a resourceVersion as a stream position; undefined when it is not a plain integer. */
export function parsePosition(rv: string | undefined): bigint | undefined {
  if (!rv || !/^\d{1,30}$/.test(rv)) return undefined;
  return BigInt(rv);
}
