// node bench/informer.ts [--pods 10000] [--events 20000] [--modes kgql,client-node] [--runs 1]
// [--profile <dir>] [--help]: the informer figures on the simulated cluster, always (the only
// source here: a --sim flag is accepted and changes nothing; bench/run.ts drives the real
// control plane).
//
// For every run and mode: seeds a fresh simulator (10 namespaces, 20 nodes, Deployments of 50
// replicas) and forks bench/sync-child.ts, a process of its own so that heap figures are the
// informer's alone: it syncs every pod (kgql's SharedInformer with its default indexes and
// transform, or @kubernetes/client-node's makeInformer), reports sync wall and CPU time, peak
// and steady heap and heap per pod, and then applies `events` pod updates (one label changed
// each: the label index changes on every event) that this process makes on the simulator.
// Updates are built before the child starts, so making them costs only the write and the
// serialisation. With --runs N the medians per mode are printed at the end.
//
// Event rates: `eventsPerSecond` is wall time from the first update received to the last one
// applied; `producerPerSecond` is how fast this process wrote them (the child cannot be faster
// than that); `eventsPerCpuSecond` is events divided by the child's own CPU time over that
// window (all its threads, GC included): it does not count time the child waited for a core,
// which on a shared machine is most of the difference, though contention still inflates it.
import { fork } from "node:child_process";
import os from "node:os";
import type { KubeObject } from "../src/informers/types.ts";
import { SandboxCluster, seedDemo } from "../src/sandbox/index.ts";
import { checkedOptions, parseOptions, usageError } from "./lib/args.ts";

export interface InformerBenchOptions {
  pods: number;
  events: number;
  modes?: string[];
  /** Runs per mode (alternating modes); the figures of every run are returned. */
  runs?: number;
  /** Write a V8 CPU profile of each child's event window into this directory. */
  profileDir?: string;
  log?: (line: string) => void;
}

export interface SyncFigures {
  mode: string;
  objects: number;
  syncMs: number;
  /** The child's CPU time during the sync: client processing, without the simulator's share. */
  syncCpuMs: number;
  peakHeapMB: number;
  steadyHeapMB: number;
  bytesPerObject: number;
  /** The child's peak resident set size at the end of the sync (VmHWM), in MB. */
  peakRssMB?: number;
  eventsPerSecond?: number;
  eventsPerCpuSecond?: number;
  producerPerSecond?: number;
  error?: string;
}

export interface InformerBenchResult {
  time: string;
  node: string;
  cpus: number;
  pods: number;
  events: number;
  runs: SyncFigures[];
}

/** 10 namespaces x D deployments x 50 replicas, plus the demo's 3 extra pods per namespace. */
export function seedPods(sim: SandboxCluster, pods: number): void {
  const deployments = Math.max(1, Math.round((pods - 30) / (10 * 50)));
  seedDemo(sim, { namespaces: 10, nodes: 20, deploymentsPerNamespace: deployments, replicas: 50 });
}

/** The updates to apply: each changes one label of one pod; an empty RV always wins. */
function buildUpdates(sim: SandboxCluster, events: number): KubeObject[] {
  const all = sim.list("pods");
  const out: KubeObject[] = new Array(events);
  for (let i = 0; i < events; i++) {
    const p = all[i % all.length]!;
    out[i] = {
      ...p,
      metadata: { ...p.metadata, resourceVersion: "", labels: { ...p.metadata.labels, bench: String(i) } },
    };
  }
  return out;
}

async function syncRun(
  mode: string,
  kubeconfig: string,
  sim: SandboxCluster,
  events: number,
  profileDir?: string,
): Promise<SyncFigures> {
  const expected = sim.list("pods").length;
  const updates = buildUpdates(sim, events);
  const child = fork(
    new URL("./sync-child.ts", import.meta.url),
    [
      mode,
      kubeconfig,
      String(expected),
      String(events),
      ...(profileDir ? [`${profileDir}/${mode}-events-${Date.now()}.cpuprofile`] : []),
    ],
    { execArgv: ["--expose-gc", "--max-old-space-size=8192"] },
  );
  let producerPerSecond = 0;
  return new Promise<SyncFigures>((resolve, reject) => {
    child.on("message", (m: SyncFigures & { ready?: boolean; done?: boolean }) => {
      // Without events the child reports and exits at once: nothing to send it.
      if (m.ready && events > 0) {
        const t0 = performance.now();
        for (const u of updates) sim.update("pods", u);
        producerPerSecond = Math.round(events / ((performance.now() - t0) / 1000));
        child.send({ targetRV: Number(sim.currentResourceVersion()) });
      }
      if (m.done) {
        const { done: _d, ready: _r, rv: _rv, ...figures } = m as SyncFigures & Record<string, unknown>;
        resolve({ ...(figures as SyncFigures), ...(events > 0 ? { producerPerSecond } : {}) });
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => code && reject(new Error(`${mode} sync child exited ${code}`)));
  });
}

/** A simulator seeded with the bench's pods, serving; its kubeconfig written to a file. */
async function freshCluster(pods: number, events: number, log: (line: string) => void) {
  const sim = new SandboxCluster({
    // Every update must stay resumable, and no watcher may be cut for a full buffer.
    historyLimit: events + 1000,
    maxWatchBufferBytes: 2 ** 31,
  });
  await sim.start();
  const t0 = performance.now();
  seedPods(sim, pods);
  log(`seeded ${sim.list("pods").length} pods in ${Math.round(performance.now() - t0)} ms`);
  const kubeconfig = `${os.tmpdir()}/kgql-informer-bench-${process.pid}.kubeconfig`;
  await sim.writeKubeconfig(kubeconfig);
  return { sim, kubeconfig };
}

export async function informerBench(opts: InformerBenchOptions): Promise<InformerBenchResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const modes = opts.modes ?? ["kgql", "client-node"];
  const runs = opts.runs ?? 1;
  const result: InformerBenchResult = {
    time: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    pods: 0,
    events: opts.events,
    runs: [],
  };
  for (let r = 0; r < runs; r++) {
    for (const mode of modes) {
      // A freshly seeded cluster for every child: the updates of a run add a label to every
      // pod, so a reused cluster would give the next run bigger objects and more index entries.
      const { sim, kubeconfig } = await freshCluster(opts.pods, opts.events, log);
      try {
        result.pods = sim.list("pods").length;
        const figures = await syncRun(mode, kubeconfig, sim, opts.events, opts.profileDir);
        result.runs.push(figures);
        log(JSON.stringify(figures));
      } finally {
        await sim.stop();
      }
    }
  }
  return result;
}

/** Median of each figure per mode, for a compact table. */
export function medians(result: InformerBenchResult): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const modes = [...new Set(result.runs.map((r) => r.mode))];
  for (const mode of modes) {
    const rows = result.runs.filter((r) => r.mode === mode);
    const m: Record<string, number> = {};
    for (const key of Object.keys(rows[0]!)) {
      const values = rows
        .map((r) => (r as unknown as Record<string, unknown>)[key])
        .filter((v): v is number => typeof v === "number")
        .sort((a, b) => a - b);
      if (values.length) m[key] = values[Math.floor((values.length - 1) / 2)]!;
    }
    out[mode] = m;
  }
  return out;
}

const MODES = ["kgql", "client-node"];

const usage = `usage: node bench/informer.ts [options]   (on the simulator, always)
  --pods N                 pods to seed (default 10000; Deployments of 50 over 10 namespaces)
  --events N               pod updates after each sync (default 20000; 0: the sync only)
  --modes kgql,client-node the informers to measure, in this order (default both)
  --runs N                 runs per mode, alternating; medians printed at the end (default 1)
  --profile DIR            write a CPU profile of each child's event window into DIR
  --sim                    accepted and ignored: the simulator is the only source here
  --help                   this text`;

if (import.meta.main) {
  const { values } = parseOptions(usage, {
    options: {
      pods: { type: "string", default: "10000" },
      events: { type: "string", default: "20000" },
      runs: { type: "string", default: "1" },
      modes: { type: "string", default: "kgql,client-node" },
      // Never read: the simulator is the only source here (see the header).
      sim: { type: "boolean", default: true },
      profile: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  // Every value checked before a simulator is seeded.
  const opt = checkedOptions(values, usage);
  const options: InformerBenchOptions = {
    pods: opt.int("pods", 1),
    events: opt.int("events", 0), // 0: the child reports its sync and exits
    runs: opt.int("runs", 1),
    modes: values.modes.split(",").map((m) => m.trim()),
    profileDir: values.profile,
  };
  // sync-child.ts runs client-node for any mode but "kgql": a typo would be measured mislabelled.
  const unknown = options.modes!.filter((m) => !MODES.includes(m));
  if (unknown.length)
    usageError(`--modes: unknown ${unknown.join(", ")} (known: ${MODES.join(", ")})`, usage);
  const result = await informerBench(options);
  console.log("medians", JSON.stringify(medians(result), null, 2));
  process.exit(result.runs.some((r) => r.error) ? 1 : 0);
}
