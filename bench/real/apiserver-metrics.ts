// Counting the apiserver's requests: `apiserver_request_total` from its /metrics, read before
// and after a scenario. "Reads" are GET and LIST of the kinds the benchmark's queries touch,
// which is what a gateway without a cache sends per query; they are reported as counted (the
// control plane reads on its own only now and then, e.g. a cluster-wide LIST of Services every
// few minutes, so one or two over a whole run are not the gateway's).
// Everything else (watches, kwok's node heartbeats and status patches, the controllers' writes,
// these /metrics reads) is counted apart as "all", with the idle rate subtracted.
import type { KubeApi } from "../../test/cluster/kube-api.ts";

export const READ_RESOURCES = ["pods", "namespaces", "deployments", "replicasets", "services"];

export interface RequestCounts {
  /** When the counters were read (ms, performance.now()). */
  at: number;
  /** GET and LIST of READ_RESOURCES. */
  reads: number;
  /** Every request the apiserver counted. */
  all: number;
  /** reads by "VERB resource". */
  byKey: Record<string, number>;
}

export async function readCounts(api: KubeApi): Promise<RequestCounts> {
  const res = await api.request<string>("GET", "/metrics", undefined, {
    headers: { accept: "text/plain" },
    timeoutMs: 60_000,
  });
  const text = String(res.body);
  const byKey: Record<string, number> = {};
  let reads = 0;
  let all = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    all += value;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1];
    const resource = /resource="([a-z]+)"/.exec(line)?.[1];
    const subresource = /subresource="([a-z]*)"/.exec(line)?.[1] ?? "";
    if (
      (verb === "GET" || verb === "LIST") &&
      resource &&
      !subresource &&
      READ_RESOURCES.includes(resource)
    ) {
      reads += value;
      const key = `${verb} ${resource}`;
      byKey[key] = (byKey[key] ?? 0) + value;
    }
  }
  return { at: performance.now(), reads, all, byKey };
}

export interface Background {
  readsPerSecond: number;
  allPerSecond: number;
  seconds: number;
}

/** The idle rate of requests over `seconds` (nothing of the benchmark's runs meanwhile). */
export async function measureBackground(api: KubeApi, seconds: number): Promise<Background> {
  const a = await readCounts(api);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = await readCounts(api);
  const s = (b.at - a.at) / 1000;
  return { readsPerSecond: (b.reads - a.reads) / s, allPerSecond: (b.all - a.all) / s, seconds: s };
}

export interface RequestDelta {
  /** Reads counted in the window (raw: the background is a read every few seconds at most). */
  reads: number;
  /** Every request counted in the window, minus the background's expected share (never below 0). */
  all: number;
  /** The reads the idle rate predicts for this window. */
  expectedBackgroundReads: number;
  /** Raw counts, before the background is subtracted. */
  rawReads: number;
  rawAll: number;
  byKey: Record<string, number>;
}

export function delta(before: RequestCounts, after: RequestCounts, bg: Background): RequestDelta {
  const s = (after.at - before.at) / 1000;
  const byKey: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byKey)) {
    const d = v - (before.byKey[k] ?? 0);
    if (d) byKey[k] = d;
  }
  const rawReads = after.reads - before.reads;
  const rawAll = after.all - before.all;
  return {
    reads: rawReads,
    expectedBackgroundReads: bg.readsPerSecond * s,
    all: Math.max(0, rawAll - bg.allPerSecond * s),
    rawReads,
    rawAll,
    byKey,
  };
}
