// Prometheus metrics (prom-client): cache state per kind, request durations, subscriptions.
import client from "prom-client";
import type { Gateway } from "../resolvers/gateway.ts";

export class Metrics {
  readonly registry = new client.Registry();
  readonly requestDuration: client.Histogram<"operation">;

  constructor(gateway: Gateway) {
    client.collectDefaultMetrics({ register: this.registry });
    const perKind = (
      name: string,
      help: string,
      pick: (s: ReturnType<Gateway["factory"]["status"]>[number]) => number,
    ) =>
      new client.Gauge({
        name,
        help,
        labelNames: ["kind"],
        registers: [this.registry],
        collect() {
          for (const s of gateway.factory.status()) this.set({ kind: s.kind }, pick(s));
        },
      });
    perKind("kgql_cache_objects", "Objects cached per kind", (s) => s.objects);
    perKind("kgql_cache_synced", "1 when the kind's cache has synced", (s) => (s.synced ? 1 : 0));
    perKind("kgql_cache_relists_total", "Lists after the first one, per kind", (s) => s.relists);
    perKind("kgql_cache_watch_restarts_total", "Watches reopened, per kind", (s) => s.watchRestarts);
    perKind(
      "kgql_cache_events_applied_total",
      "Changes applied to the cache, per kind",
      (s) => s.eventsApplied,
    );
    perKind("kgql_cache_last_event_age_seconds", "Seconds since the last event, per kind", (s) =>
      s.lastEventTime ? (Date.now() - s.lastEventTime) / 1000 : -1,
    );
    new client.Gauge({
      name: "kgql_active_subscriptions",
      help: "Open subscription streams",
      registers: [this.registry],
      collect() {
        this.set(gateway.subscriberCount());
      },
    });
    this.requestDuration = new client.Histogram({
      name: "kgql_request_duration_seconds",
      help: "GraphQL request duration by operation",
      labelNames: ["operation"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [this.registry],
    });
  }
}
