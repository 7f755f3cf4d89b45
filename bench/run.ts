// npm run bench [-- options]: kgql against the direct-API way on the real control plane.
//
//   npm run bench -- --pods 10000        the benchmark (default 10000 pods); see BENCHMARKS.md
//   npm run bench -- --sim [--pods N --events N --duration S]
//                                        the simulator figures (no control plane needed)
//
// Real control plane (bench/real/bench.ts): starts or reuses a control plane of its own in
// bench/.cluster (never the tests' .cluster), creates or reuses the topology (--namespaces
// namespaces of Deployments of 50 replicas on kwok nodes, ReplicaSets, Services), starts kgql
// and the direct baseline (bench/direct/server.ts) as processes of their own, checks both
// servers' answers against a fresh list from the apiserver, then loads each query shape from a
// separate load-generator process (bench/lib/load.ts, every response checked) while counting the
// apiserver's requests. Then kgql's own figures: start-to-ready, heap, the pod informer's sync
// and heap (bench/sync-child.ts), a small query while big ones run, subscription fan-out
// (bench/fanout.ts). Writes bench/results/<time>-real-<pods>pods.{json,md} and this size's
// section of BENCHMARKS.md; exits 1 if any answer was wrong.
import { resolve } from "node:path";
import { repoRoot } from "../test/cluster/cluster.ts";
import { checkedOptions, parseOptions } from "./lib/args.ts";
import { SCENARIO_IDS } from "./real/scenarios.ts";

const usage = `usage: npm run bench -- [options]
  --pods N                 pods in the bench topology (default 10000; Deployments of 50)
  --namespaces N           namespaces they are spread over (default 10)
  --nodes N                kwok nodes when the bench cluster is started (default 10)
  --seconds S              each measured run lasts at least S seconds (default 5)
  --min-requests N         ...and until N requests were answered (default 20)
  --max-seconds S          ...but at most S seconds (default 40)
  --connections 1,8        load-generator connections, one run each (default 1,8)
  --only id,id             scenarios: ${SCENARIO_IDS.join(", ")}
  --idle-seconds S         idle window for the apiserver's background rate (default 10)
  --no-sync --no-mixed --no-fanout   skip kgql's informer, small-under-load, fan-out figures
  --sync-events N          pod label patches the informer sync applies after syncing, for its
                           event rate (default 5000; 0: none)
  --fanout-subscribers N   (default 1000)   --fanout-idle N  idle subscribers (default 0)
  --cluster-dir DIR        the bench cluster's directory (default bench/.cluster)
  --down                   stop the bench cluster at the end (default: leave it for reuse)
  --no-write-md            do not rewrite this size's section of BENCHMARKS.md
  --sim                    the simulator benchmark instead (--pods, --events, --duration)`;

const { values, tokens } = parseOptions(usage, {
  allowNegative: true,
  tokens: true,
  options: {
    sim: { type: "boolean", default: false },
    pods: { type: "string", default: "10000" },
    events: { type: "string", default: "20000" },
    duration: { type: "string", default: "10" },
    namespaces: { type: "string", default: "10" },
    nodes: { type: "string", default: "10" },
    seconds: { type: "string", default: "5" },
    "min-requests": { type: "string", default: "20" },
    "max-seconds": { type: "string", default: "40" },
    connections: { type: "string", default: "1,8" },
    only: { type: "string" },
    "idle-seconds": { type: "string", default: "10" },
    sync: { type: "boolean", default: true },
    "sync-events": { type: "string", default: "5000" },
    mixed: { type: "boolean", default: true },
    fanout: { type: "boolean", default: true },
    "fanout-subscribers": { type: "string", default: "1000" },
    "fanout-idle": { type: "string", default: "0" },
    "cluster-dir": { type: "string", default: "bench/.cluster" },
    down: { type: "boolean", default: false },
    "write-md": { type: "boolean", default: true },
    help: { type: "boolean", default: false },
  },
});
const opt = checkedOptions(values, usage);

if (values.help) {
  console.log(usage);
  process.exit(0);
}

/** Options for both benchmarks; --sim reads only SIM_OPTIONS besides, the real one all others. */
const COMMON_OPTIONS = new Set(["sim", "pods", "help"]);
const SIM_OPTIONS = new Set(["events", "duration"]);
/** The fan-out figure's options, which --no-fanout would leave unread. */
const FANOUT_OPTIONS = new Set(["fanout-subscribers", "fanout-idle"]);
/** The informer figure's options, which --no-sync would leave unread. */
const SYNC_OPTIONS = new Set(["sync-events"]);

/** Why an option given would be ignored by the benchmark chosen, or undefined. */
function ignored(name: string, rawName: string): string | undefined {
  if (COMMON_OPTIONS.has(name)) return undefined;
  if (values.sim && !SIM_OPTIONS.has(name))
    return `${rawName} does not apply to --sim (it reads --pods, --events and --duration only)`;
  if (!values.sim && SIM_OPTIONS.has(name)) return `${rawName} applies to --sim only`;
  if (!values.fanout && FANOUT_OPTIONS.has(name)) return `${rawName} does not apply with --no-fanout`;
  if (!values.sync && SYNC_OPTIONS.has(name)) return `${rawName} does not apply with --no-sync`;
  return undefined;
}

// A flag the chosen benchmark would ignore means the run is not the one asked for: refuse it.
for (const t of tokens) {
  const why = t.kind === "option" ? ignored(t.name, t.rawName) : undefined;
  if (why) {
    console.error(`bench: ${why}`);
    process.exit(2);
  }
}

/** --only's ids, each a known scenario: a typo must not leave a run measuring nothing. */
function onlyIds(list: string): string[] {
  const ids = list.split(",").map((s) => s.trim());
  const unknown = ids.filter((id) => !(SCENARIO_IDS as readonly string[]).includes(id));
  if (unknown.length) {
    console.error(
      `bench: --only: unknown scenario ${unknown.join(", ")} (known: ${SCENARIO_IDS.join(", ")})`,
    );
    process.exit(2);
  }
  return ids;
}

// Every value is checked before anything starts (the real benchmark starts a control plane).
let code: number;
if (values.sim) {
  const options = {
    pods: opt.int("pods", 1),
    events: opt.int("events", 0), // 0: the informers' sync only
    duration: opt.int("duration", 1),
  };
  const { simBenchmark } = await import("./sim.ts");
  code = await simBenchmark(options);
} else {
  const options = {
    pods: opt.int("pods", 50), // one Deployment of 50 replicas at least
    namespaces: opt.int("namespaces", 1),
    nodes: opt.int("nodes", 1),
    clusterDir: resolve(repoRoot, values["cluster-dir"]!),
    seconds: opt.int("seconds", 1),
    minRequests: opt.int("min-requests", 0),
    maxSeconds: opt.int("max-seconds", 1),
    connections: opt.intList("connections", 1),
    ...(values.only ? { only: onlyIds(values.only) } : {}),
    idleSeconds: opt.int("idle-seconds", 1),
    sync: values.sync!,
    syncEvents: opt.int("sync-events", 0), // 0: the sync figures without the event rate
    mixed: values.mixed!,
    fanout: values.fanout!,
    fanoutSubscribers: opt.int("fanout-subscribers", 1),
    fanoutIdle: opt.int("fanout-idle", 0), // 0: no idle-memory phase
    down: values.down!,
    writeMd: values["write-md"]!,
  };
  const { realBenchmark } = await import("./real/bench.ts");
  code = await realBenchmark(options);
}
process.exit(code);
