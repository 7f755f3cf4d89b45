// How fresh the cache behind the page is: kgql's cacheStatus every few seconds, shown as one
// badge (synced; or which kinds are still syncing, or served stale while their watch is broken).
import { gql } from "./api.ts";

interface CacheStatus {
  kind: string;
  synced: boolean;
  watchHealthy: boolean;
  staleSeconds: number | null;
}

const POLL_MS = 5000;
const SHOWN = new Set([
  "Pod",
  "Node",
  "Deployment",
  "ReplicaSet",
  "StatefulSet",
  "DaemonSet",
  "Job",
  "Service",
  "Ingress",
]);

export function describe(statuses: CacheStatus[]): { text: string; level: "ok" | "warn" | "bad" } {
  const mine = statuses.filter((s) => SHOWN.has(s.kind));
  const unsynced = mine.filter((s) => !s.synced).map((s) => s.kind);
  const stale = mine.filter((s) => s.synced && !s.watchHealthy);
  if (stale.length)
    return {
      text: `stale: ${stale.map((s) => `${s.kind}${s.staleSeconds ? ` ${Math.round(s.staleSeconds)} s` : ""}`).join(", ")}`,
      level: "bad",
    };
  if (unsynced.length) return { text: `syncing: ${unsynced.join(", ")}`, level: "warn" };
  return { text: "cache synced", level: "ok" };
}

/** Polls until the page closes; the function returned polls at once (after a cluster switch). */
export function watchFreshness(badge: HTMLElement): () => void {
  const poll = async () => {
    try {
      const data = await gql<{ cacheStatus: CacheStatus[] }>(
        "query TopologyFreshness($cluster: String) { cacheStatus(cluster: $cluster) { kind synced watchHealthy staleSeconds } }",
      );
      const d = describe(data.cacheStatus);
      badge.textContent = d.text;
      badge.className = `badge ${d.level}`;
    } catch (err) {
      badge.textContent = `cache: unknown (${(err as Error).message})`;
      badge.className = "badge bad";
    }
  };
  void poll();
  setInterval(poll, POLL_MS);
  return () => void poll();
}
