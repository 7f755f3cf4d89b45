// Resolvers for the fields every object has (the Resource interface, owners, children, events),
// generated for each kind, and the type resolution of the Resource interface.
import { OWNER_UID_INDEX } from "../informers/indexers.ts";
import { LAST_APPLIED_ANNOTATION } from "../informers/transform.ts";
import type { KubeObject } from "../informers/types.ts";
import { CORE_KINDS, kindByName } from "../kinds.ts";
import type { RequestContext } from "./context.ts";
import { INVOLVED_UID_INDEX } from "./indexes.ts";

type Resolver = (obj: KubeObject, args: Record<string, unknown>, ctx: RequestContext) => unknown;

const EMPTY = Object.freeze({});

/** A Secret's raw form: everything but the values. */
export function safeRaw(obj: KubeObject): KubeObject {
  if (obj.kind !== "Secret") return obj;
  const { data: _d, stringData: _s, ...rest } = obj;
  return { ...rest, metadata: { ...rest.metadata, annotations: safeAnnotations(obj) } };
}

function safeAnnotations(obj: KubeObject): Record<string, string> {
  const a = obj.metadata.annotations;
  if (!a) return EMPTY as Record<string, string>;
  // A Secret applied with kubectl would carry its values in last-applied-configuration.
  if (obj.kind === "Secret" && LAST_APPLIED_ANNOTATION in a) {
    const { [LAST_APPLIED_ANNOTATION]: _omit, ...rest } = a;
    return rest;
  }
  return a;
}

/** Owners resolved through the caches: by kind and name, checked by uid. */
export function owners(obj: KubeObject, ctx: RequestContext): KubeObject[] {
  const out: KubeObject[] = [];
  for (const ref of obj.metadata.ownerReferences ?? []) {
    const kind = kindByName(ref.kind);
    if (!kind) continue;
    const owner = ctx.get(ref.kind, kind.namespaced ? obj.metadata.namespace : undefined, ref.name);
    if (owner && owner.metadata.uid === ref.uid) out.push(owner);
  }
  return out;
}

export function controllerOf(obj: KubeObject, ctx: RequestContext): KubeObject | null {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller);
  if (!ref) return null;
  const kind = kindByName(ref.kind);
  if (!kind) return null;
  const owner = ctx.get(ref.kind, kind.namespaced ? obj.metadata.namespace : undefined, ref.name);
  return owner && owner.metadata.uid === ref.uid ? owner : null;
}

/** Objects of the core kinds naming `uid` as owner, through each kind's owner index. */
export function children(uid: string, ctx: RequestContext): KubeObject[] {
  const out: KubeObject[] = [];
  for (const k of CORE_KINDS) out.push(...ctx.byIndex(k.kind, OWNER_UID_INDEX, uid));
  return out;
}

export const resourceFieldResolvers: Record<string, Resolver> = {
  uid: (o) => o.metadata.uid,
  name: (o) => o.metadata.name,
  namespace: (o) => o.metadata.namespace ?? null,
  labels: (o) => o.metadata.labels ?? EMPTY,
  annotations: (o) => safeAnnotations(o),
  creationTimestamp: (o) => o.metadata.creationTimestamp ?? null,
  resourceVersion: (o) => o.metadata.resourceVersion,
  owners: (o, _a, ctx) => owners(o, ctx),
  raw: (o) => safeRaw(o),
  children: (o, _a, ctx) => children(o.metadata.uid, ctx),
  events: (o, _a, ctx) => ctx.byIndex("Event", INVOLVED_UID_INDEX, o.metadata.uid),
};

/** kind/apiVersion: list items from the apiserver carry neither, so they come from the table. */
export function kindFieldResolvers(kind: string, apiVersion: string): Record<string, Resolver> {
  return { ...resourceFieldResolvers, kind: () => kind, apiVersion: () => apiVersion };
}

/** Resource is resolved to the GraphQL type of the object's kind (GenericResource otherwise). */
export function resolveResourceType(obj: KubeObject): string {
  const kind = obj.kind ? kindByName(obj.kind) : undefined;
  return kind ? kind.typeName : "GenericResource";
}
