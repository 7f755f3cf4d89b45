// Query.clusters: the clusters served and each one's freshness (the same summary as
// extensions.cache), so a fleet portal can tell a cluster that is down from one that is empty.
import { cacheSummary } from "../server/plugins.ts";
import type { RequestContext } from "./context.ts";
import type { Gateway } from "./gateway.ts";

export function clusterInfo(gateway: Gateway, isDefault: boolean) {
  const summary = cacheSummary(gateway);
  return {
    name: gateway.cluster,
    default: isDefault,
    server: gateway.factory.client.server.origin,
    synced: summary.synced,
    healthy: summary.synced && summary.unhealthy.length === 0,
    unsynced: summary.unsynced,
    unhealthy: summary.unhealthy,
    stale: summary.stale,
  };
}

export function clusters(_: unknown, _a: unknown, ctx: RequestContext) {
  const all = ctx.clusters?.all() ?? [ctx.gateway];
  return all.map((g, i) => clusterInfo(g, i === 0));
}
