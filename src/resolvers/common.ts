// The fields every object has (the Resource interface, owners, children, events), for every
// kind and for GenericResource.
import { OWNER_UID_INDEX } from "../informers/indexers.ts";
import { LAST_APPLIED_ANNOTATION } from "../informers/transform.ts";
import type { KubeObject, OwnerReference } from "../informers/types.ts";
import { accessKey } from "../kinds.ts";
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

/**
 * An object by reference, from whichever informer caches that group and kind (core kinds, and
 * any resource cached since a resources(...) query), checked by uid when one is given. Objects
 * of kinds not cached, or not visible to the caller, are not found.
 */
export function findObject(
  ctx: RequestContext,
  ref: { apiVersion?: string; kind?: string; namespace?: string; name?: string; uid?: string },
): KubeObject | undefined {
  if (!ref.kind || !ref.name) return undefined;
  const informer = ctx.gateway.informerForKind(ref.apiVersion ?? "", ref.kind);
  if (!informer) return undefined;
  const ns = informer.resource.namespaced ? ref.namespace : undefined;
  if (!ctx.visible(accessKey(informer.resource), ns)) return undefined;
  const found = informer.lister.get(ns, ref.name);
  return found && (!ref.uid || found.metadata.uid === ref.uid) ? found : undefined;
}

/** The owner an ownerReference names (owners share their dependent's namespace). */
export function ownerOf(ref: OwnerReference, namespace: string | undefined, ctx: RequestContext) {
  return findObject(ctx, { ...ref, namespace });
}

/** Owners resolved through the caches (see ownerOf). */
export function owners(obj: KubeObject, ctx: RequestContext): KubeObject[] {
  const out: KubeObject[] = [];
  for (const ref of obj.metadata.ownerReferences ?? []) {
    const owner = ownerOf(ref, obj.metadata.namespace, ctx);
    if (owner) out.push(owner);
  }
  return out;
}

export function controllerOf(obj: KubeObject, ctx: RequestContext): KubeObject | null {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller);
  return (ref && ownerOf(ref, obj.metadata.namespace, ctx)) || null;
}

/**
 * Objects naming `uid` as owner, in every synced cache (core kinds and any resource cached
 * since a resources(...) query), through each cache's owner index: one lookup per cache.
 */
export function children(uid: string, ctx: RequestContext): KubeObject[] {
  const out: KubeObject[] = [];
  for (const informer of ctx.gateway.cachedInformers()) {
    if (!informer.hasSynced()) continue;
    const found = ctx.byIndexIn(informer, OWNER_UID_INDEX, uid);
    for (let i = 0; i < found.length; i++) out.push(found[i]!);
  }
  return out;
}

export const resourceFieldResolvers: Record<string, Resolver> = {
  // A view's context is its object's cluster's (views.ts).
  cluster: (_o, _a, ctx) => ctx.gateway.cluster,
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
