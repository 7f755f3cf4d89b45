// Resolvers of the typed resources (--resources): the generic resources(...) and
// resourceEvents machinery with the resource fixed, so that typed fields start their informer
// on demand, decide the caller's RBAC per group/resource, wait for the first sync and refuse
// bad arguments exactly as the generic fields do.
import type { GraphQLFieldResolver } from "graphql";
import { UncacheableResourceError, UnknownResourceError } from "../informers/discovery.ts";
import type { SharedInformer } from "../informers/shared-informer.ts";
import { accessKey } from "../kinds.ts";
import type { TypedKind } from "../typed/types.ts";
import { kindFieldResolvers } from "./common.ts";
import type { RequestContext } from "./context.ts";
import {
  checkNamespace,
  fleetList,
  genericResource,
  genericResources,
  type Args as ListArgs,
  parseSelectorArg,
} from "./query.ts";
import { resourceEventsField } from "./subscriptions.ts";
import type { FieldFn } from "./views.ts";

type Args = Record<string, unknown> & { namespace?: string | null; name?: string };

const gvrOf = (k: TypedKind) => ({ group: k.group, version: k.version, resource: k.resource });

export function typedQueryResolvers(kinds: readonly TypedKind[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of kinds) {
    out[k.listField] = (s: unknown, args: Args, ctx: RequestContext) =>
      genericResources(s, { ...args, ...gvrOf(k) } as never, ctx);
    out[k.getField] = async (_: unknown, args: Args, ctx: RequestContext) => {
      const namespace = k.namespaced ? (args.namespace ?? undefined) : undefined;
      const { informer, key } = await genericResource(ctx, { ...gvrOf(k), namespace });
      if (namespace) checkNamespace(ctx, namespace);
      return ctx.visible(key, namespace) ? (informer.lister.get(namespace, args.name!) ?? null) : null;
    };
  }
  return out;
}

/**
 * The typed lists over every cluster (cluster: "*"), as the built-in kinds': each cluster's
 * informer of the resource is started if needed but not waited for (a cluster still syncing
 * is named in unsyncedClusters), and a cluster that does not serve the resource has none of
 * its objects. Access is decided per cluster as resources(...) decides it.
 */
export function typedFleetResolvers(kinds: readonly TypedKind[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of kinds) {
    const gvr = gvrOf(k);
    const name = k.group ? `${k.resource}.${k.group}` : k.resource;
    out[k.listField] = async (_: unknown, args: ListArgs, root: RequestContext) => {
      parseSelectorArg(args.labelSelector);
      const informers = new Map<RequestContext, SharedInformer>();
      for (const gateway of root.clusters?.all() ?? [root.gateway]) {
        const ctx = root.inCluster(gateway.cluster);
        try {
          const informer = await ctx.gateway.factory.informerFor(gvr);
          await ctx.access.authorizeResource?.(informer.resource);
          informers.set(ctx, informer);
        } catch (err) {
          if (!(err instanceof UnknownResourceError || err instanceof UncacheableResourceError)) throw err;
        }
      }
      return fleetList(root, args, accessKey(k), name, (ctx) => informers.get(ctx));
    };
  }
  return out;
}

export function typedSubscriptionResolvers(kinds: readonly TypedKind[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of kinds) {
    out[k.eventsField] = {
      subscribe: (s: unknown, args: Args, ctx: RequestContext) =>
        resourceEventsField.subscribe(s, { ...args, ...gvrOf(k) } as never, ctx),
      resolve: resourceEventsField.resolve,
    };
  }
  return out;
}

/** The field functions of each typed kind's type: the Resource fields and its properties. */
export function typedFieldFunctions(kinds: readonly TypedKind[]): Record<string, Record<string, FieldFn>> {
  const out: Record<string, Record<string, FieldFn>> = {};
  for (const k of kinds) {
    const fns: Record<string, FieldFn> = {
      ...kindFieldResolvers(k.kind, k.group ? `${k.group}/${k.version}` : k.version),
    };
    for (const [field, property] of k.topFields) fns[field] = propertyOf(property);
    out[k.typeName] = fns;
  }
  return out;
}

/** A field read as one property of the object (or nested object) it is on. */
function propertyOf(property: string): (o: object) => unknown {
  return (o) => (o as Record<string, unknown>)[property] ?? null;
}

/**
 * Namespace.<typed list>: the namespace's objects of a typed resource. Its informer was started
 * and synced, and the caller's access decided, before execution (useTypedResources).
 */
export function typedNamespaceFields(kinds: readonly TypedKind[]): Record<string, FieldFn> {
  const out: Record<string, FieldFn> = {};
  for (const k of kinds.filter((k) => k.namespaced)) {
    const key = accessKey(k);
    out[k.listField] = (ns, args, ctx) => {
      const informer = ctx.gateway.factory.get(gvrOf(k));
      const name = ns.metadata.name;
      if (!informer || !ctx.visible(key, name)) return [];
      const selector = parseSelectorArg(args.labelSelector as string | null | undefined);
      return informer.lister.list({ namespace: name, selector });
    };
  }
  return out;
}

/** Nested types' renamed fields read their property (the others are plain property reads). */
export function renamedFieldResolvers(
  renames: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Record<string, Record<string, GraphQLFieldResolver<Record<string, unknown>, unknown>>> {
  const out: Record<string, Record<string, GraphQLFieldResolver<Record<string, unknown>, unknown>>> = {};
  for (const [type, fields] of renames) {
    out[type] = {};
    for (const [field, property] of fields) out[type][field] = propertyOf(property);
  }
  return out;
}
