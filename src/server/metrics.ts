// Prometheus metrics (prom-client): cache state per kind, request durations, subscriptions,
// authentication and authorization cache efficiency, requests refused by a limit.
import client from "prom-client";
import type { Gateway } from "../resolvers/gateway.ts";

type InformerStatus = ReturnType<Gateway["factory"]["status"]>[number];

/** The hit/miss counts of a decision cache (TokenReview, SubjectAccessReview). */
export interface CacheStats {
  readonly stats: { hits: number; misses: number };
}

/**
 * A counter fed from a monotonic count kept elsewhere (an informer's relists, say): on each
 * scrape it is increased by what the source gained since the last scrape. A source that starts
 * over (an informer stopped and started again) counts from its new value.
 */
function mirroredCounter<L extends string>(
  registry: client.Registry,
  name: string,
  help: string,
  labelNames: L[],
  read: () => Iterable<[Record<L, string>, number]>,
): client.Counter<L> {
  const last = new Map<string, number>();
  return new client.Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = JSON.stringify(labels);
        const before = last.get(key) ?? 0;
        this.inc(labels as never, value >= before ? value - before : value);
        last.set(key, value);
      }
    },
  });
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly requestDuration: client.Histogram<"operation">;
  readonly limitRejections: client.Counter<"limit">;
  /** GraphQL HTTP requests by who answered them: the fast paths or yoga. */
  readonly httpRequests: client.Counter<"handler">;
  /** By cluster and cache ("token", "access"). */
  private readonly authCaches = new Map<string, { cluster: string; cache: string; stats: CacheStats }>();

  /**
   * Metrics of these clusters' gateways (one, or the default first). With several clusters the
   * per-kind, subscription and auth-cache series carry a `cluster` label; with one they have
   * none, so that single-cluster dashboards need no cluster label.
   */
  constructor(clusters: Gateway | readonly Gateway[]) {
    const gateways = Array.isArray(clusters) ? (clusters as readonly Gateway[]) : [clusters as Gateway];
    const labelled = gateways.length > 1;
    const clusterLabel = (cluster: string): { cluster?: string } => (labelled ? { cluster } : {});
    client.collectDefaultMetrics({ register: this.registry });
    const statuses = function* () {
      for (const g of gateways) for (const s of g.factory.status()) yield { ...clusterLabel(g.cluster), s };
    };
    const perKind = (name: string, help: string, pick: (s: InformerStatus) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ["cluster", "kind"],
        registers: [this.registry],
        collect() {
          for (const { s, ...labels } of statuses()) this.set({ ...labels, kind: s.kind }, pick(s));
        },
      });
    const perKindCounter = (name: string, help: string, pick: (s: InformerStatus) => number) =>
      mirroredCounter(this.registry, name, help, ["cluster", "kind"], () =>
        [...statuses()].map(
          ({ s, ...labels }) =>
            [{ ...labels, kind: s.kind }, pick(s)] as [Record<"cluster" | "kind", string>, number],
        ),
      );
    perKind("kgql_cache_objects", "Objects cached per kind", (s) => s.objects);
    perKind("kgql_cache_synced", "1 when the kind's cache has synced", (s) => (s.synced ? 1 : 0));
    perKindCounter("kgql_cache_relists_total", "Lists after the first one, per kind", (s) => s.relists);
    perKindCounter("kgql_cache_watch_restarts_total", "Watches reopened, per kind", (s) => s.watchRestarts);
    // A counter, so that rate(kgql_cache_events_applied_total[1m]) is the events per second.
    perKindCounter(
      "kgql_cache_events_applied_total",
      "Changes applied to the cache, per kind (rate() gives events per second)",
      (s) => s.eventsApplied,
    );
    perKind(
      "kgql_cache_last_event_age_seconds",
      "Seconds since the last event, per kind (-1: none yet)",
      (s) => (s.lastEventTime ? (Date.now() - s.lastEventTime) / 1000 : -1),
    );
    perKind("kgql_cache_watch_healthy", "1 while the kind's watch is open and healthy", (s) =>
      s.watchHealthy ? 1 : 0,
    );
    new client.Gauge({
      name: "kgql_active_subscriptions",
      help: "Open subscription streams",
      labelNames: ["cluster"],
      registers: [this.registry],
      collect() {
        for (const g of gateways) this.set(clusterLabel(g.cluster), g.subscriberCount());
      },
    });
    const caches = this.authCaches;
    const authCounter = (outcome: "hits" | "misses") =>
      mirroredCounter(
        this.registry,
        `kgql_auth_cache_${outcome}_total`,
        `Authentication (cache="token") and authorization (cache="access") decisions ${outcome === "hits" ? "answered from" : "not found in"} the cache`,
        ["cluster", "cache"],
        () =>
          [...caches.values()].map(
            (c) =>
              [{ ...clusterLabel(c.cluster), cache: c.cache }, c.stats.stats[outcome]] as [
                Record<"cluster" | "cache", string>,
                number,
              ],
          ),
      );
    authCounter("hits");
    authCounter("misses");
    this.httpRequests = new client.Counter({
      name: "kgql_http_requests_total",
      help: 'GraphQL HTTP requests by handler: "fast" (plain JSON), "sse-fast" (subscriptions over SSE), "yoga" (everything else)',
      labelNames: ["handler"],
      registers: [this.registry],
    });
    this.limitRejections = new client.Counter({
      name: "kgql_limit_rejections_total",
      // Not the document limits (maxDepth, maxAliases, maxTokens, maxDirectives): those are
      // parse and validation errors, which yoga caches per document text, so no hook sees each
      // request they refuse.
      help: "Requests and subscriptions refused by a limit (maxCost, requestTimeout, maxSubscriptions, maxSubscriptionsPerConnection, maxBodyBytes)",
      labelNames: ["limit"],
      registers: [this.registry],
    });
    this.requestDuration = new client.Histogram({
      name: "kgql_request_duration_seconds",
      help: "GraphQL request duration by operation",
      labelNames: ["operation"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [this.registry],
    });
  }

  /** Exposes a decision cache's hits and misses (cache="token" or "access"), of one cluster. */
  observeAuthCache(cache: "token" | "access", stats: CacheStats, cluster = ""): void {
    this.authCaches.set(`${cluster}\u0000${cache}`, { cluster, cache, stats });
  }
}
