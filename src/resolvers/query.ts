// Root query fields, generated from the kinds table: a connection per kind, a get per kind,
// Namespace.<kind> lists; plus cacheStatus, apiResources and generic resources.
import type { GraphQLError } from "graphql";
import { UncacheableResourceError, UnknownResourceError } from "../informers/discovery.ts";
import { NAMESPACE_INDEX } from "../informers/indexers.ts";
import { type LabelSelector, LabelSelectorError, parseLabelSelector } from "../informers/labels.ts";
import type { SharedInformer } from "../informers/shared-informer.ts";
import type { KubeObject } from "../informers/types.ts";
import { accessKey, CORE_KINDS, kindByName } from "../kinds.ts";
import { namespaceListField } from "../schema/index.ts";
import { clusters } from "./clusters.ts";
import { children } from "./common.ts";
import { connectionFrom, orderedFor, type PageArgs, sortedKeys } from "./connection.ts";
import type { RequestContext } from "./context.ts";
import { userError } from "./errors.ts";
import { type ClusterPart, fleetConnection } from "./fleet-connection.ts";
import { checkInScope, inScope } from "./scope.ts";
import type { FieldFn } from "./views.ts";

export type Args = PageArgs & { namespace?: string | null; labelSelector?: string | null; name?: string };

export function parseSelectorArg(text: string | null | undefined): LabelSelector | undefined {
  if (!text) return undefined;
  try {
    return parseLabelSelector(text);
  } catch (err) {
    if (err instanceof LabelSelectorError)
      throw userError(err.message, "BAD_USER_INPUT", { argument: "labelSelector" });
    throw err;
  }
}

export function checkNamespace(ctx: RequestContext, namespace: string | null | undefined): void {
  if (!namespace) return;
  if (!namespaceExists(ctx, namespace)) {
    throw userError(
      `namespace "${namespace}" does not exist (query namespaces for the list)`,
      "BAD_USER_INPUT",
      {
        argument: "namespace",
      },
    );
  }
}

function namespaceExists(ctx: RequestContext, namespace: string): boolean {
  return ctx.gateway.informer("Namespace").store.has(namespace);
}

/**
 * Keys of the objects a list field returns, and whether they are the whole kind in key order
 * (then every order of them is cached; see connectionFrom).
 */
function matchingKeys(
  informer: SharedInformer,
  kind: string,
  args: Args,
  ctx: RequestContext,
  /** Refuse a namespace that does not exist (fleet queries check it across clusters). */
  check = true,
): [string[], boolean] {
  const selector = parseSelectorArg(args.labelSelector);
  const namespace = args.namespace ?? undefined;
  if (check) checkNamespace(ctx, namespace);
  const visible = (key: string) => ctx.visible(kind, informer.store.get(key)!.metadata.namespace);
  if (!selector && !namespace) {
    const all = sortedKeys(informer.store);
    return ctx.visibleAll(kind) ? [all, true] : [all.filter(visible), false];
  }
  const keys = [...informer.lister.keys({ namespace, selector })];
  return [ctx.visibleAll(kind) ? keys : keys.filter(visible), false];
}

/**
 * Top-level reads say so when RBAC forbids them (traversals are filtered silently): no namespace
 * at all, or the one namespace asked for.
 */
export function checkAllowed(
  ctx: RequestContext,
  kind: string,
  namespace: string | null | undefined,
  /** The resource's name for messages (default: the core kind's). */
  resourceName?: string,
): void {
  checkInScope(ctx, namespace);
  const v = ctx.access.visibility;
  const who = v.user ? `user "${v.user.username}"` : "you";
  const resource = resourceName ?? kindByName(kind)?.resource ?? kind;
  if (v.allowsNothing?.(kind) && !namespace) {
    // Cluster-scoped kinds have no namespaces to name.
    const where = kindByName(kind)?.namespaced === false ? "" : " in any namespace";
    throw userError(`forbidden: ${who} cannot list ${resource}${where} (Kubernetes RBAC)`, "FORBIDDEN");
  }
  if (namespace && !v.allows(kind, namespace)) {
    throw userError(
      `forbidden: ${who} cannot list ${resource} in namespace "${namespace}" (Kubernetes RBAC)`,
      "FORBIDDEN",
    );
  }
}

export function listResolver(kind: string) {
  return (_: unknown, args: Args, ctx: RequestContext) => {
    checkAllowed(ctx, kind, args.namespace);
    const informer = ctx.gateway.informer(kind);
    const [keys, sorted] = matchingKeys(informer, kind, args, ctx);
    return connectionFrom(informer.lister, keys, sorted, args);
  };
}

/**
 * A kind's list over every cluster (cluster: "*"): each cluster where the kind has synced, in
 * that cluster's context (its caller's visibility, its namespaces), merged (fleet-connection.ts).
 * Clusters still in their first sync are left out, named in unsyncedClusters: a fleet query
 * waits for no cluster, so one that is down cannot hold it up.
 */
export function fleetListResolver(kind: string) {
  return (_: unknown, args: Args, root: RequestContext) =>
    fleetList(root, args, kind, undefined, (ctx) => ctx.gateway.informer(kind));
}

/**
 * fleetListResolver's merge, for any resource: `informerIn` gives its informer in a cluster's
 * context (undefined: that cluster does not serve it, so it has none of its objects), `key`
 * its access key and `name` its name for messages (defaults: the core kind's).
 */
export function fleetList(
  root: RequestContext,
  args: Args,
  key: string,
  name: string | undefined,
  informerIn: (ctx: RequestContext) => SharedInformer | undefined,
) {
  checkInScope(root, args.namespace);
  const parts: ClusterPart[] = [];
  const unsynced: string[] = [];
  // With --auth: clusters where the caller's token is not valid, or it may not list the kind
  // (in the namespace asked for). Left out whole, counts included, and named.
  const forbidden: string[] = [];
  let refusal: unknown;
  let namespaceFound = !args.namespace;
  for (const gateway of root.clusters?.all() ?? [root.gateway]) {
    const ctx = root.inCluster(gateway.cluster);
    if (ctx.access.refusal) {
      forbidden.push(gateway.cluster);
      refusal ??= ctx.access.refusal;
      continue;
    }
    const informer = informerIn(ctx);
    if (!informer) continue;
    if (!informer.hasSynced() || !ctx.gateway.informer("Namespace").hasSynced()) {
      unsynced.push(gateway.cluster);
      continue;
    }
    if (args.namespace) {
      if (!namespaceExists(ctx, args.namespace)) continue;
      namespaceFound = true;
    }
    try {
      checkAllowed(ctx, key, args.namespace, name);
    } catch (err) {
      if ((err as GraphQLError).extensions?.code !== "FORBIDDEN") throw err;
      forbidden.push(gateway.cluster);
      refusal ??= err;
      continue;
    }
    const [keys, whole] = matchingKeys(informer, key, args, ctx, false);
    parts.push({
      cluster: gateway.cluster,
      store: informer.store,
      ordered: orderedFor(informer.store, keys, whole, args.orderBy ?? null),
    });
  }
  // Refused everywhere it could answer: the refusal itself, as with one cluster.
  if (parts.length === 0 && unsynced.length === 0 && refusal) throw refusal;
  if (!namespaceFound && unsynced.length === 0) {
    throw userError(
      `namespace "${args.namespace}" does not exist in any cluster (query namespaces(cluster: "*") for the list)`,
      "BAD_USER_INPUT",
      { argument: "namespace" },
    );
  }
  return fleetConnection(parts, args, unsynced, forbidden);
}

export function getResolver(kind: string, namespaced: boolean) {
  return (_: unknown, args: Args, ctx: RequestContext) => {
    checkAllowed(ctx, kind, namespaced ? args.namespace : undefined);
    if (namespaced) checkNamespace(ctx, args.namespace);
    return ctx.get(kind, namespaced ? (args.namespace ?? undefined) : undefined, args.name!) ?? null;
  };
}

/** Namespace.<kind>: the namespace index, optionally narrowed by a selector. */
function namespaceList(kind: string): FieldFn {
  return (ns, args, ctx) => {
    const selector = parseSelectorArg(args.labelSelector as string | null | undefined);
    const name = ns.metadata.name;
    if (!ctx.visible(kind, name)) return [];
    if (!selector) return ctx.byIndex(kind, NAMESPACE_INDEX, name);
    return ctx.gateway.informer(kind).lister.list({ namespace: name, selector });
  };
}

export function namespaceFieldResolvers(): Record<string, FieldFn> {
  const out: Record<string, FieldFn> = {};
  for (const k of CORE_KINDS.filter((k) => k.namespaced)) out[namespaceListField(k)] = namespaceList(k.kind);
  return out;
}

/** The namespaces the caller may see; in scoped mode only those watched (--namespaces). */
function visibleNamespaces(ctx: RequestContext): KubeObject[] {
  return ctx.gateway
    .informer("Namespace")
    .lister.list()
    .filter((n) => inScope(ctx, n.metadata.name) && ctx.visible("Namespace", n.metadata.name));
}

export function rootQueryResolvers() {
  const query: Record<string, unknown> = {};
  for (const k of CORE_KINDS) {
    if (k.kind === "Namespace") continue;
    query[k.listField] = listResolver(k.kind);
    query[k.getField] = getResolver(k.kind, k.namespaced);
  }
  query.namespaces = (_: unknown, _a: unknown, ctx: RequestContext) => visibleNamespaces(ctx);
  query.namespace = (_: unknown, args: { name: string }, ctx: RequestContext) => {
    checkInScope(ctx, args.name);
    return ctx.visible("Namespace", args.name)
      ? (ctx.gateway.get("Namespace", undefined, args.name) ?? null)
      : null;
  };
  query.cacheStatus = (_: unknown, _a: unknown, ctx: RequestContext) => cacheStatus(ctx);
  query.apiResources = async (_: unknown, _a: unknown, ctx: RequestContext) =>
    (await ctx.gateway.factory.discovery.resources()).filter(
      (r) => r.verbs.includes("list") && r.verbs.includes("watch"),
    );
  query.resources = genericResources;
  query.clusters = clusters;
  return query;
}

/** Root fields that take cluster: "*", by name: every kind's list, namespaces and cacheStatus. */
export function fleetQueryResolvers(): Record<
  string,
  (s: unknown, a: never, ctx: RequestContext) => unknown
> {
  const out: Record<string, (s: unknown, a: never, ctx: RequestContext) => unknown> = {};
  for (const k of CORE_KINDS) if (k.kind !== "Namespace") out[k.listField] = fleetListResolver(k.kind);
  const each = (root: RequestContext) =>
    (root.clusters?.all() ?? [root.gateway]).map((g) => root.inCluster(g.cluster));
  // Clusters that refused the caller show nothing here (their visibility allows nothing); the
  // response's extensions.clusterAccess names them.
  out.namespaces = (_s, _a, root) => each(root).flatMap(visibleNamespaces);
  out.cacheStatus = (_s, _a, root) => each(root).flatMap((ctx) => cacheStatus(ctx));
  return out;
}

export function cacheStatus(ctx: RequestContext) {
  const now = Date.now();
  return ctx.gateway.factory
    .informers()
    .filter((i) => ctx.visibleAll(accessKey(i.resource)))
    .map((i) => {
      const s = i.status();
      return {
        cluster: ctx.gateway.cluster,
        kind: s.kind,
        group: i.resource.group,
        version: i.resource.version,
        resource: i.resource.resource,
        synced: s.synced,
        resourceVersion: s.lastSyncResourceVersion,
        objects: s.objects,
        lastEventAgeSeconds: s.lastEventTime ? (now - s.lastEventTime) / 1000 : null,
        watchHealthy: s.watchHealthy,
        staleSeconds: s.unhealthySince ? (now - s.unhealthySince) / 1000 : null,
        lists: s.lists,
        relists: s.relists,
        watchRestarts: s.watchRestarts,
        lastError: s.lastError ?? null,
      };
    });
}

/** The arguments naming a resource outside the core kinds: resources(...) and resourceEvents. */
export interface GenericResourceArgs {
  group: string;
  version: string;
  resource: string;
  namespace?: string | null;
  labelSelector?: string | null;
}

/**
 * The started and synced informer of any resource, for the caller (see ctx.genericInformer): a
 * resource the apiserver does not serve, or that cannot be listed and watched, is BAD_USER_INPUT
 * saying so (with the closest ones it serves).
 */
export async function cachedResource(
  ctx: RequestContext,
  gvr: { group: string; version: string; resource: string },
): Promise<SharedInformer> {
  try {
    return await ctx.genericInformer(gvr);
  } catch (err) {
    if (err instanceof UnknownResourceError || err instanceof UncacheableResourceError)
      throw userError(err.message, "BAD_USER_INPUT", { argument: "resource" });
    throw err;
  }
}

/**
 * The synced informer of the resource a resources(...) or resourceEvents field names, its access
 * key and its name for messages, once the arguments are checked against it: a resource the
 * apiserver does not serve (with the closest ones it does), one that cannot be cached, a
 * namespace on a cluster-scoped resource and a bad selector are BAD_USER_INPUT, and what RBAC
 * forbids is FORBIDDEN. Both fields use it, so they refuse the same mistakes the same way.
 */
export async function genericResource(
  ctx: RequestContext,
  args: GenericResourceArgs,
): Promise<{ informer: SharedInformer; key: string; name: string }> {
  parseSelectorArg(args.labelSelector); // a bad selector fails before anything starts
  const informer = await cachedResource(ctx, {
    group: args.group,
    version: args.version,
    resource: args.resource,
  });
  if (args.namespace && !informer.resource.namespaced) {
    throw userError(
      `${args.resource} is cluster-scoped: leave out the namespace argument`,
      "BAD_USER_INPUT",
      { argument: "namespace" },
    );
  }
  const r = informer.resource;
  // The caller's access to this resource was decided when its informer was looked up.
  const key = accessKey(r);
  const name = r.group ? `${r.resource}.${r.group}` : r.resource;
  checkAllowed(ctx, key, args.namespace, name);
  return { informer, key, name };
}

export async function genericResources(_: unknown, args: Args & GenericResourceArgs, ctx: RequestContext) {
  const { informer, key } = await genericResource(ctx, args);
  const [keys, whole] = matchingKeys(informer, key, args, ctx);
  return connectionFrom(informer.lister, keys, whole, args);
}

export const genericResourceResolvers = {
  children: (o: KubeObject, _a: unknown, ctx: RequestContext) => children(o.metadata.uid, ctx),
};
