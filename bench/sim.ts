// npm run bench -- --sim [--pods 10000 --events 20000 --duration 10]: kgql's own figures on the
// simulated cluster (src/sandbox), no control plane needed. An orchestrator only: every part runs
// on a freshly seeded simulator (10 namespaces, 20 nodes, Deployments of 50 replicas: `--pods`
// rounded to whole Deployments, plus 3 pods per namespace), so no run sees another's changes.
//  1. Informer sync of the pods, then `--events` pod updates (bench/informer.ts, informerBench):
//     time, CPU, peak and steady heap, bytes per pod, events applied per second; kgql's
//     informer first, then @kubernetes/client-node's makeInformer, each on its own simulator.
//  2. Queries over loopback HTTP (bench/query.ts, queryBench): kgql started through its CLI,
//     the whole answers checked before any load, then loads of `--duration` seconds from a
//     separate process with every response checked: the full topology (all deployments ->
//     replicasets -> pods, 1 connection), one deployment's topology (8 connections), and one
//     pod's query (1 connection) while 4 connections ask for the full topology.
// Results go to bench/results/<time>-<pods>pods.json, also when a check failed (then listed in
// `failures`, and the run exits 1): a wrong answer or a kgql sync that missed pods.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { informerBench, type SyncFigures, seedPods } from "./informer.ts";
import { type QueryFigures, queryBench } from "./query.ts";

export interface SimBenchOptions {
  /** Pods to seed (rounded to Deployments of 50 over 10 namespaces). */
  pods: number;
  /** Pod updates applied after each informer's sync (0: none). */
  events: number;
  /** Seconds of each query load. */
  duration: number;
}

/** A query load's figures as the result file has them (latencies in ms). */
type LoadFigures = Pick<
  QueryFigures,
  "connections" | "p50" | "p99" | "rps" | "requests" | "errors" | "wrong"
>;

function loadFigures(f: QueryFigures | undefined): LoadFigures | undefined {
  if (!f) return undefined;
  const { connections, p50, p99, rps, requests, errors, wrong } = f;
  return { connections, p50, p99, rps, requests, errors, wrong };
}

export async function simBenchmark({ pods, events, duration }: SimBenchOptions): Promise<number> {
  const log = (line: string) => console.log(line);
  const failures: string[] = [];
  const report: Record<string, unknown> = {
    time: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
    },
    node: process.version,
    pods: 0,
    events,
  };

  /** One informer's sync and events on a simulator of its own. */
  const sync = async (mode: string): Promise<SyncFigures | { mode: string; error: string }> => {
    try {
      const r = await informerBench({ pods, events, modes: [mode], log });
      report.pods = r.pods;
      return r.runs[0]!;
    } catch (err) {
      return { mode, error: String(err) };
    }
  };
  const syncKgql = await sync("kgql");
  report.syncKgql = syncKgql;
  if (syncKgql.error) failures.push(`kgql sync: ${syncKgql.error}`);
  // client-node's failure (it may run out of memory at large sizes) is recorded, not a failure.
  report.syncClientNode = await sync("client-node");

  try {
    const q = await queryBench({
      pods,
      seconds: duration,
      only: ["full", "rate", "mixed"],
      seed: (sim) => seedPods(sim, pods),
    });
    if (report.pods && report.pods !== q.pods)
      failures.push(`the query run's simulator has ${q.pods} pods, the informer runs' ${report.pods}`);
    report.pods ||= q.pods;
    report.queries = {
      fullTopologyBytes: q.answerBytes.full,
      fullTopology: loadFigures(q.full),
      scoped: loadFigures(q.rate),
      smallUnderLoad: loadFigures(q.mixedSmall),
      bigConcurrent: loadFigures(q.mixedBig),
    };
    failures.push(...q.failures);
  } catch (err) {
    // A wrong answer before the load, or kgql not starting.
    report.queries = { error: String(err) };
    failures.push(`queries: ${String(err)}`);
  }
  log(`queries ${JSON.stringify(report.queries, null, 2)}`);
  report.failures = failures;

  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  const file = new URL(
    `./results/${String(report.time).replace(/[:.]/g, "-")}-${report.pods}pods.json`,
    import.meta.url,
  );
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${file.pathname}`);
  for (const f of failures) console.error(`FAILED: ${f}`);
  return failures.length ? 1 : 0;
}
