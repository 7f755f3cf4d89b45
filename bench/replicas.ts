// npm run bench:replicas [-- options]: kgql replicas behind one address, on the simulator.
//
// Seeds the simulated cluster (Deployments of 50 replicas over 10 namespaces and 20 nodes, as
// bench/query.ts), then for each replica count: starts that many kgql processes through the CLI
// against the same cluster, checks each one's answers against ones computed from the seeded
// objects, and loads them together from one load-generator process whose keep-alive
// connections are spread round-robin over the replicas (what a Service's kube-proxy does with
// connections), every response checked. It records throughput and latency, each replica's CPU
// time during the load (so queries per kgql CPU-second), heap and RSS, and the cluster's watch
// load: the open watches per resource once every replica is ready (the simulator's count of
// live watch streams; with --real, the apiserver's apiserver_longrunning_requests{verb="WATCH"})
// and the watch and list requests the replicas made.
//
// --real runs it on the real control plane of npm run bench (bench/.cluster, test/cluster's
// etcd, kube-apiserver, kube-controller-manager and kwok); without it, on the simulator, which
// speaks the same list/watch protocol and needs no control-plane binaries.
//
// On the project's 2-core VM the replicas, the load generator and the simulator share the same
// two cores: more replicas cannot add CPU there, and the throughput figure shows the cost of
// spreading the same cores over more processes, not how replicas scale on a real cluster (there
// each replica has cores of its own, and throughput per replica is the 1-replica figure per core).
// Writes bench/results/<time>-replicas-{sim,real}.json; exits 1 if any answer was wrong.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { SandboxCluster, seedDemo } from "../src/sandbox/index.ts";
import { adminApi, up } from "../test/cluster/cluster.ts";
import { checkedOptions, parseOptions } from "./lib/args.ts";
import { checkBody } from "./lib/check.ts";
import { load, pct } from "./lib/load.ts";
import { cpuSeconds, post, rssMB, type ServerProcess, startKgql } from "./lib/procs.ts";
import { checkedQueries } from "./query.ts";
import { buildScenarios, snapshot } from "./real/scenarios.ts";
import { ensureTopology, layoutFor } from "./real/topology.ts";

const usage = `usage: npm run bench:replicas -- [options]   (on the simulator)
  --pods N            pods to seed (default 10000; Deployments of 50 over 10 namespaces)
  --replicas 1,2,3    the replica counts to measure, in this order (default 1,2,3)
  --seconds S         each measured load lasts S seconds (default 5)
  --connections N     load-generator connections for the scoped query (default 8)
  --real              on the real control plane (test/cluster, in --cluster-dir) instead:
                      Deployments of 50 pods on kwok nodes, as npm run bench creates them, and
                      the watch load read from the apiserver's /metrics
  --cluster-dir DIR   the real control plane's directory (default bench/.cluster, shared with
                      npm run bench; left running)
  --help              this text`;

const { values } = parseOptions(usage, {
  options: {
    pods: { type: "string", default: "10000" },
    replicas: { type: "string", default: "1,2,3" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "8" },
    real: { type: "boolean", default: false },
    "cluster-dir": { type: "string", default: "bench/.cluster" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const opt = checkedOptions(values, usage);
const pods = opt.int("pods", 1);
const seconds = opt.int("seconds", 1);
const connections = opt.int("connections", 1);
const counts = values.replicas.split(",").map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    console.error(`--replicas: "${s}" is not a replica count from 1 to 8\n${usage}`);
    process.exit(2);
  }
  return n;
});

interface LoadFigures {
  query: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  wrong: number;
  /** CPU seconds all replicas used during the load, and the queries answered per such second. */
  kgqlCpuSeconds: number;
  queriesPerKgqlCpuSecond: number;
  /** How the requests spread: CPU seconds per replica. */
  cpuPerReplica: number[];
}

interface Checked {
  query: string;
  expected: string;
}

/** The cluster the replicas watch: its kubeconfig, the two queries, and its watch load. */
interface Source {
  name: "simulator" | "real control plane";
  pods: number;
  kubeconfig: string;
  scoped: Checked;
  full: Checked;
  /** Open watches per resource now (the replicas' and, on the real one, the control plane's own). */
  openWatches(): Promise<Record<string, number>>;
  /** Watch and list requests made so far (a counter: runs report differences). */
  requests(): Promise<{ watch: number; list: number }>;
  close(): Promise<void>;
}

interface ReplicaRun {
  replicas: number;
  loadAverageStart: number[];
  loadAverageEnd: number[];
  readyMs: number[];
  /**
   * Open watches per resource once every replica was ready, less those open before the first
   * replica started (on the real control plane: kube-controller-manager's, kwok's).
   */
  openWatches: Record<string, number>;
  /** Watch and list requests the replicas made from their start to the end of the loads. */
  watchRequests: number;
  listRequests: number;
  rssMB: (number | undefined)[];
  /** Each replica's used heap after the loads, from its /metrics (nodejs_heap_size_used_bytes). */
  heapMB: (number | undefined)[];
  loads: LoadFigures[];
}

/** A replica's used heap in MB, read from its Prometheus metrics. */
async function heapUsedMB(graphqlUrl: string): Promise<number | undefined> {
  const text = await fetch(new URL("/metrics", graphqlUrl)).then(
    (r) => r.text(),
    () => "",
  );
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return m ? Math.round(Number(m[1]) / 1e5) / 10 : undefined;
}

/** The simulator, seeded as bench/query.ts seeds it; watches counted as it serves them. */
async function simulatorSource(): Promise<Source> {
  const sim = new SandboxCluster();
  await sim.start();
  const deploymentsPerNamespace = Math.max(1, Math.round(pods / (10 * 50)));
  seedDemo(sim, { namespaces: 10, nodes: 20, deploymentsPerNamespace, replicas: 50 });
  const kubeconfig = `${os.tmpdir()}/kgql-bench-replicas-${process.pid}.kubeconfig`;
  await sim.writeKubeconfig(kubeconfig);
  const { full, scoped } = checkedQueries(sim);
  const isWatch = (q: Record<string, string>) => q.watch === "true" || q.watch === "1";
  // A list: a collection GET that is not a watch (discovery paths name no resource).
  const isList = (path: string) => /\/(api\/v1|apis\/[^/]+\/[^/]+)\/[a-z]+$/.test(path);
  // The request log is bounded: count as it grows instead of reading it back.
  let seen = 0;
  const counted = { watch: 0, list: 0 };
  return {
    name: "simulator",
    pods: sim.list("pods").length,
    kubeconfig,
    scoped,
    full,
    openWatches: async () => Object.fromEntries([...sim.openWatches()].sort()),
    requests: async () => {
      const log = sim.requests;
      const fresh = log.length >= seen ? log.slice(seen) : log;
      seen = log.length;
      for (const q of fresh) {
        if (q.method !== "GET") continue;
        if (isWatch(q.query)) counted.watch++;
        else if (isList(q.path)) counted.list++;
      }
      return { ...counted };
    },
    close: () => sim.stop(),
  };
}

/**
 * The real control plane of npm run bench (bench/.cluster), with its topology of Deployments of
 * 50 pods on kwok nodes (created or resized here); watches read from the apiserver's /metrics.
 */
async function realSource(): Promise<Source> {
  const log = (line: string) => console.error(`[replicas] ${line}`);
  const { state } = await up({ dir: resolve(values["cluster-dir"]), nodes: 10, log });
  const api = adminApi(state);
  const layout = layoutFor(pods, 10);
  await ensureTopology(api, layout, state.nodes, log);
  const snap = await snapshot(api);
  const scenarios = buildScenarios(snap, layout);
  const pick = (id: string): Checked => {
    const sc = scenarios.find((x) => x.id === id)!;
    return { query: sc.query, expected: sc.expected };
  };
  const kubeconfig = state.kubeconfig;
  const metrics = async () =>
    String(
      (
        await api.request<string>("GET", "/metrics", undefined, {
          headers: { accept: "text/plain" },
          timeoutMs: 60_000,
        })
      ).body,
    );
  return {
    name: "real control plane",
    pods: snap.pods.length,
    kubeconfig,
    scoped: pick("deploymentTopology"),
    full: pick("fullTopology"),
    // Open WATCH requests per resource (apiserver_longrunning_requests); kube-apiserver v1.36
    // exports no apiserver_registered_watchers any more.
    openWatches: async () => {
      const out: Record<string, number> = {};
      for (const line of (await metrics()).split("\n")) {
        if (!line.startsWith("apiserver_longrunning_requests{") || !line.includes('verb="WATCH"')) continue;
        const group = /group="([^"]*)"/.exec(line)?.[1] ?? "";
        const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "?";
        const key = group ? `${resource}.${group}` : resource;
        out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return out;
    },
    // Watches: those open now (a counter of WATCH requests would only count them once ended);
    // lists: completed LISTs from apiserver_request_total.
    requests: async () => {
      let watch = 0;
      let list = 0;
      for (const line of (await metrics()).split("\n")) {
        const value = Number(line.slice(line.lastIndexOf(" ") + 1));
        if (line.startsWith("apiserver_longrunning_requests{") && line.includes('verb="WATCH"'))
          watch += value;
        if (line.startsWith("apiserver_request_total{") && line.includes('verb="LIST"')) list += value;
      }
      return { watch, list };
    },
    close: async () => {},
  };
}

const loadAverage = () => os.loadavg().map((v) => Math.round(v * 100) / 100);
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

const source = values.real ? await realSource() : await simulatorSource();
const { kubeconfig, full, scoped } = source;
console.log(`${source.name}: ${source.pods} pods`);

const runs: ReplicaRun[] = [];
const failures: string[] = [];

for (const n of counts) {
  const loadAverageStart = loadAverage();
  const requestsBefore = await source.requests();
  const watchesBefore = await source.openWatches();
  const started: ServerProcess[] = [];
  try {
    // One at a time: start-up (the initial sync) is the heaviest moment for the apiserver.
    for (let i = 0; i < n; i++) started.push(await startKgql(kubeconfig));
    const urls = started.map((s) => s.url);
    for (const [i, url] of urls.entries()) {
      for (const [name, q] of Object.entries({ full, scoped })) {
        const r = await post(url, q.query);
        const verdict = checkBody(r.status, r.text, q.expected);
        if (!verdict.ok) throw new Error(`replica ${i + 1} of ${n}, ${name} query: ${verdict.reason}`);
      }
    }
    const openWatches: Record<string, number> = {};
    for (const [resource, count] of Object.entries(await source.openWatches())) {
      const added = count - (watchesBefore[resource] ?? 0);
      if (added !== 0) openWatches[resource] = added;
    }
    const loads: LoadFigures[] = [];
    const shapes = [
      { name: "one deployment's topology (50 pods)", q: scoped, conns: connections },
      { name: "full topology (all deployments)", q: full, conns: Math.max(2, n) },
    ];
    for (const shape of shapes) {
      const cpu0 = started.map((s) => cpuSeconds(s.pid) ?? 0);
      const r = await load({
        url: urls[0]!,
        urls,
        body: JSON.stringify({ query: shape.q.query }),
        connections: shape.conns,
        seconds,
        minRequests: 20,
        maxSeconds: seconds * 4,
        expected: shape.q.expected,
      });
      const cpuPerReplica = started.map((s, i) => round((cpuSeconds(s.pid) ?? 0) - cpu0[i]!));
      const kgqlCpuSeconds = round(cpuPerReplica.reduce((a, b) => a + b, 0));
      if (r.errors || r.wrong)
        failures.push(
          `${n} replicas, ${shape.name}: ${r.errors} failed, ${r.wrong} wrong: ${r.firstProblem}`,
        );
      loads.push({
        query: shape.name,
        connections: shape.conns,
        rps: Math.round(r.requests / r.seconds),
        p50: round(pct(r.latencies, 50), 3),
        p99: round(pct(r.latencies, 99), 3),
        requests: r.requests,
        errors: r.errors,
        wrong: r.wrong,
        kgqlCpuSeconds,
        queriesPerKgqlCpuSecond: kgqlCpuSeconds > 0 ? Math.round(r.requests / kgqlCpuSeconds) : 0,
        cpuPerReplica,
      });
    }
    const requestsAfter = await source.requests();
    const run: ReplicaRun = {
      replicas: n,
      loadAverageStart,
      loadAverageEnd: loadAverage(),
      readyMs: started.map((s) => Math.round(s.readyMs)),
      openWatches,
      watchRequests: requestsAfter.watch - requestsBefore.watch,
      listRequests: requestsAfter.list - requestsBefore.list,
      rssMB: started.map((s) => rssMB(s.pid)),
      heapMB: await Promise.all(started.map((s) => heapUsedMB(s.url))),
      loads,
    };
    runs.push(run);
    console.log(JSON.stringify(run));
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}
await source.close();

const time = new Date().toISOString();
const result = {
  time,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30) },
  node: process.version,
  source: source.name,
  pods: source.pods,
  seconds,
  runs,
  failures,
};
const file = `bench/results/${time.replace(/[:.]/g, "-")}-replicas-${values.real ? "real" : "sim"}.json`;
writeFileSync(new URL(`../${file}`, import.meta.url), `${JSON.stringify(result, null, 2)}\n`);

console.log(`\n${source.pods} pods on the ${source.name}; load average at each run's start / end\n`);
console.log(
  "| replicas | query | conns | req/s | p50 / p99 | kgql CPU-s (per replica) | queries per kgql CPU-s | open watches (pods / all kinds) | watch requests | load average |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const run of runs) {
  const totalWatches = Object.values(run.openWatches).reduce((a, b) => a + b, 0);
  for (const l of run.loads) {
    console.log(
      `| ${run.replicas} | ${l.query} | ${l.connections} | ${l.rps} | ${l.p50} / ${l.p99} ms | ${l.kgqlCpuSeconds} (${l.cpuPerReplica.join(", ")}) | ${l.queriesPerKgqlCpuSecond} | ${run.openWatches.pods ?? 0} / ${totalWatches} | ${run.watchRequests} | ${run.loadAverageStart[0]} / ${run.loadAverageEnd[0]} |`,
    );
  }
}
console.log(`\nfigures: ${file}`);
if (failures.length) {
  console.error(`wrong answers or failed requests:\n${failures.join("\n")}`);
  process.exit(1);
}
process.exit(0);
