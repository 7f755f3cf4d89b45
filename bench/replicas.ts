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
// live watch streams, what kube-apiserver's apiserver_registered_watchers gauge reports) and
// the watch and list requests the replicas made.
//
// Why the simulator: the real control plane (test/cluster) is the better source of the watch
// figure, but it and its 10,000 kwok pods take minutes to build and start; the simulator speaks
// the same list/watch protocol, so one watch per kind per replica is counted the same way.
//
// On the project's 2-core VM the replicas, the load generator and the simulator share the same
// two cores: more replicas cannot add CPU there, and the throughput figure shows the cost of
// spreading the same cores over more processes, not how replicas scale on a real cluster (there
// each replica has cores of its own, and throughput per replica is the 1-replica figure per core).
// Writes bench/results/<time>-replicas-sim.json; exits 1 if any answer was wrong.
import { writeFileSync } from "node:fs";
import os from "node:os";
import { SandboxCluster, seedDemo } from "../src/sandbox/index.ts";
import { checkedOptions, parseOptions } from "./lib/args.ts";
import { checkBody } from "./lib/check.ts";
import { load, pct } from "./lib/load.ts";
import { cpuSeconds, post, rssMB, type ServerProcess, startKgql } from "./lib/procs.ts";
import { checkedQueries } from "./query.ts";

const usage = `usage: npm run bench:replicas -- [options]   (on the simulator)
  --pods N            pods to seed (default 10000; Deployments of 50 over 10 namespaces)
  --replicas 1,2,3    the replica counts to measure, in this order (default 1,2,3)
  --seconds S         each measured load lasts S seconds (default 5)
  --connections N     load-generator connections for the scoped query (default 8)
  --help              this text`;

const { values } = parseOptions(usage, {
  options: {
    pods: { type: "string", default: "10000" },
    replicas: { type: "string", default: "1,2,3" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "8" },
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

interface ReplicaRun {
  replicas: number;
  loadAverageStart: number[];
  loadAverageEnd: number[];
  readyMs: number[];
  /** Open watches per resource once every replica was ready. */
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

const loadAverage = () => os.loadavg().map((v) => Math.round(v * 100) / 100);
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

const sim = new SandboxCluster();
await sim.start();
const deploymentsPerNamespace = Math.max(1, Math.round(pods / (10 * 50)));
seedDemo(sim, { namespaces: 10, nodes: 20, deploymentsPerNamespace, replicas: 50 });
const podCount = sim.list("pods").length;
const kubeconfig = `${os.tmpdir()}/kgql-bench-replicas-${process.pid}.kubeconfig`;
await sim.writeKubeconfig(kubeconfig);
const { full, scoped } = checkedQueries(sim);
console.log(`simulator: ${podCount} pods, ${sim.list("deployments").length} deployments`);

const isWatch = (q: Record<string, string>) => q.watch === "true" || q.watch === "1";
const runs: ReplicaRun[] = [];
const failures: string[] = [];

for (const n of counts) {
  const loadAverageStart = loadAverage();
  const firstRequest = sim.requests.length;
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
    const openWatches = Object.fromEntries([...sim.openWatches()].sort());
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
    const requests = sim.requests.slice(firstRequest);
    const api = requests.filter((q) => q.method === "GET" && !q.path.startsWith("/openapi"));
    const watchRequests = api.filter((q) => isWatch(q.query)).length;
    const run: ReplicaRun = {
      replicas: n,
      loadAverageStart,
      loadAverageEnd: loadAverage(),
      readyMs: started.map((s) => Math.round(s.readyMs)),
      openWatches,
      watchRequests,
      // A list: a collection GET that is not a watch (discovery paths hold no resource).
      listRequests: api.filter(
        (q) => !isWatch(q.query) && /\/(api\/v1|apis\/[^/]+\/[^/]+)\/[a-z]+$/.test(q.path),
      ).length,
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
await sim.stop();

const time = new Date().toISOString();
const result = {
  time,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30) },
  node: process.version,
  source: "simulator",
  pods: podCount,
  seconds,
  runs,
  failures,
};
const file = `bench/results/${time.replace(/[:.]/g, "-")}-replicas-sim.json`;
writeFileSync(new URL(`../${file}`, import.meta.url), `${JSON.stringify(result, null, 2)}\n`);

console.log(`\n${podCount} pods on the simulator; load average at each run's start / end\n`);
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
