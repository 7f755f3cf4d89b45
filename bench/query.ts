// Query latency and throughput over loopback HTTP (not part of npm test):
//
//   node bench/query.ts [--pods 10000] [--namespaces 10] [--nodes 20] [--seconds 5]
//                       [--only full,scoped,rate,small,mixed] [--profile] [--help]
//
// --profile takes no directory (unlike fanout.ts's and informer.ts's --profile <dir>): it writes
// a CPU profile of the kgql process to bench/results/profiles.
//
// Seeds the simulated cluster with Deployments of 50 replicas (10k pods: 200 Deployments over
// 10 namespaces and 20 nodes), starts kgql through its CLI as its own process (exactly as a
// user would, against the simulator's kubeconfig), checks the queries' whole answers against
// ones computed from the seeded objects (bench/lib/expected.ts), then drives it from a separate
// load-generator process (bench/lib/load.ts) over keep-alive HTTP, timing each request with a
// high-resolution clock and checking every response the same way. Goals at 10k pods: full
// topology p50 <= 25 ms and p99 <= 50 ms; one deployment's topology p50 <= 1 ms and >= 5,000
// queries/s. Exits 1 if any answer was wrong.
//
// queryBench(opts) is the same run without the table: it returns the figures of each row and
// the loads that had wrong answers or failed requests (bench/sim.ts records them).
import os from "node:os";
import { SandboxCluster, seedDemo } from "../src/sandbox/index.ts";
import { checkedOptions, parseOptions, usageError } from "./lib/args.ts";
import { canonical, checkBody } from "./lib/check.ts";
import {
  byKey,
  type DeploymentField,
  type PodField,
  podView,
  type Snapshot,
  Topology,
  topologySelection,
} from "./lib/expected.ts";
import { type LoadResult, load, pct } from "./lib/load.ts";
import { post, startKgql } from "./lib/procs.ts";

const ROWS = ["full", "scoped", "rate", "small", "mixed"];

const usage = `usage: node bench/query.ts [options]   (on the simulator)
  --pods N                 pods to seed (default 10000; Deployments of 50)
  --namespaces N           namespaces they are spread over (default 10; the queries read team-3: >= 4)
  --nodes N                nodes (default 20)
  --seconds N              each measured load lasts N seconds (default 5)
  --only ID,ID             the rows to measure (default all: ${ROWS.join(",")})
  --profile                write a CPU profile of the kgql process to bench/results/profiles
                           (no directory argument)
  --help                   this text`;

/** The command line, every value checked before the simulator is seeded. */
function flags() {
  const { values } = parseOptions(usage, {
    options: {
      pods: { type: "string", default: "10000" },
      namespaces: { type: "string", default: "10" },
      nodes: { type: "string", default: "20" },
      seconds: { type: "string", default: "5" },
      only: { type: "string", default: "full,scoped,rate,small,mixed" },
      /** Write a CPU profile of the kgql process to bench/results/profiles. */
      profile: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const opt = checkedOptions(values, usage);
  const only = values.only.split(",").map((s) => s.trim());
  // An unknown row would silently be measured by nobody.
  const unknown = only.filter((r) => !ROWS.includes(r));
  if (unknown.length) usageError(`--only: unknown ${unknown.join(", ")} (known: ${ROWS.join(", ")})`, usage);
  return {
    pods: opt.int("pods", 1),
    namespaces: opt.int("namespaces", 4), // the queries read namespace team-3
    nodes: opt.int("nodes", 1),
    seconds: opt.int("seconds", 1),
    only,
    profile: values.profile,
  };
}

// Only when run: queryBench and checkedQueries can be imported (bench/sim.ts runs queryBench).
if (import.meta.main) await benchmark(flags());

// ---- the benchmark (the parent process) ----

export interface QueryBenchOptions {
  /** Pods to seed: Deployments of 50 replicas spread over `namespaces` (ignored with `seed`). */
  pods: number;
  /** Default 10; the queries read team-3, so at least 4. */
  namespaces?: number;
  /** Default 20. */
  nodes?: number;
  /** Each measured load lasts this long (the mixed run's full topologies one second longer). */
  seconds: number;
  /** Which rows to measure: full, scoped, rate, small, mixed (default all). */
  only?: string[];
  /** Write a CPU profile of the kgql process to bench/results/profiles. */
  profile?: boolean;
  /** Seeds the (fresh) simulator instead of the default Deployments of 50. */
  seed?: (sim: SandboxCluster) => void;
}

/** One measured load; every response was checked against the query's expected answer. */
export interface QueryFigures {
  /** The row's name in the printed table. */
  label: string;
  connections: number;
  /** Latency percentiles in ms (high-resolution clock, to the microsecond). */
  p50: number;
  p99: number;
  /** Answered requests per second. */
  rps: number;
  requests: number;
  /** Failed requests and responses other than HTTP 200. */
  errors: number;
  /** HTTP 200 responses whose answer was not the expected one. */
  wrong: number;
  /** Mean response size. */
  bytesPerAnswer: number;
  goal?: string;
}

export interface QueryBenchResult {
  pods: number;
  deployments: number;
  /** Size of each query's answer, checked before any load. */
  answerBytes: { full: number; scoped: number; small: number };
  /** Full topology, 1 connection. */
  full?: QueryFigures;
  /** One deployment's topology (50 pods), 1 connection. */
  scoped?: QueryFigures;
  /** One deployment's topology, 8 connections. */
  rate?: QueryFigures;
  /** One pod, 1 connection. */
  small?: QueryFigures;
  /** One pod, 1 connection, while 4 connections ask for the full topology (`mixedBig`). */
  mixedSmall?: QueryFigures;
  mixedBig?: QueryFigures;
  /** Loads that had failed requests or wrong answers; empty when every answer was right. */
  failures: string[];
  /** The printed table's rows. */
  rows: string[][];
}

/**
 * Seeds a fresh simulator, starts kgql on it as its own process, checks the queries' whole
 * answers (throws if one is wrong), then measures the loads asked for, checking every response.
 */
export async function queryBench(opts: QueryBenchOptions): Promise<QueryBenchResult> {
  const namespaces = opts.namespaces ?? 10;
  const seconds = opts.seconds;
  const sim = new SandboxCluster();
  await sim.start();
  if (opts.seed) opts.seed(sim);
  else {
    const deploymentsPerNamespace = Math.max(1, Math.round(opts.pods / (namespaces * 50)));
    seedDemo(sim, { namespaces, nodes: opts.nodes ?? 20, deploymentsPerNamespace, replicas: 50 });
  }
  const podCount = sim.list("pods").length;
  const kubeconfig = `${os.tmpdir()}/kgql-bench-query-${process.pid}.kubeconfig`;
  await sim.writeKubeconfig(kubeconfig);

  const profile = ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"];
  const kgql = await startKgql(kubeconfig, opts.profile ? profile : []);
  const result: QueryBenchResult = {
    pods: podCount,
    deployments: sim.list("deployments").length,
    answerBytes: { full: 0, scoped: 0, small: 0 },
    failures: [],
    rows: [],
  };
  try {
    const url = kgql.url;
    const { full, scoped, small } = checkedQueries(sim);
    for (const [name, q] of Object.entries({ full, scoped, small })) {
      const r = await post(url, q.query);
      const verdict = checkBody(r.status, r.text, q.expected);
      if (!verdict.ok) throw new Error(`the ${name} query's answer before the load: ${verdict.reason}`);
      result.answerBytes[name as keyof QueryBenchResult["answerBytes"]] = Buffer.byteLength(r.text);
    }

    const row = (name: string, connections: number, r: LoadResult, goal: string): QueryFigures => {
      result.rows.push([
        name,
        String(connections),
        `${pct(r.latencies, 50).toFixed(2)} ms`,
        `${pct(r.latencies, 99).toFixed(2)} ms`,
        String(Math.round(r.requests / r.seconds)),
        goal,
      ]);
      if (r.errors || r.wrong)
        result.failures.push(`${name}: ${r.errors} failed, ${r.wrong} wrong answers: ${r.firstProblem}`);
      const ms = (v: number) => Math.round(v * 1000) / 1000;
      return {
        label: name,
        connections,
        p50: ms(pct(r.latencies, 50)),
        p99: ms(pct(r.latencies, 99)),
        rps: Math.round(r.requests / r.seconds),
        requests: r.requests,
        errors: r.errors,
        wrong: r.wrong,
        bytesPerAnswer: r.requests ? Math.round(r.bytes / r.requests) : 0,
        ...(goal ? { goal } : {}),
      };
    };
    const body = (q: Checked) => JSON.stringify({ query: q.query });
    /** A measured load: every response is checked against the query's expected answer. */
    const measure = (q: Checked, connections: number, secs = seconds) =>
      load({ url, body: body(q), connections, seconds: secs, expected: q.expected });
    const only = new Set(opts.only ?? ["full", "scoped", "rate", "small", "mixed"]);
    // Warm up: compile the queries and let V8 optimize the hot paths.
    await load({ url, body: body(full), connections: 1, seconds: 2 });
    await load({ url, body: body(scoped), connections: 1, seconds: 1 });

    if (only.has("full")) {
      const r = await measure(full, 1);
      const kb = Math.round(r.bytes / r.requests / 1024);
      result.full = row(`full topology (${podCount} pods, ${kb} KB)`, 1, r, goal(r, 25, 50));
    }
    if (only.has("scoped")) {
      const r = await measure(scoped, 1);
      result.scoped = row("one deployment's topology (50 pods)", 1, r, goal(r, 1));
    }
    if (only.has("rate")) {
      const r = await measure(scoped, 8);
      const rate = r.requests / r.seconds;
      result.rate = row(
        "one deployment's topology (50 pods)",
        8,
        r,
        `>= 5000/s: ${rate >= 5000 ? "met" : "missed"}`,
      );
    }
    if (only.has("small")) {
      const r = await measure(small, 1);
      result.small = row("small query (one pod)", 1, r, "");
    }
    if (only.has("mixed")) {
      const big = measure(full, 4, seconds + 1);
      await new Promise((r) => setTimeout(r, 300));
      result.mixedSmall = row("small query while 4 full topologies run", 1, await measure(small, 1), "");
      result.mixedBig = row("  (the 4 full topologies meanwhile)", 4, await big, "");
    }
  } finally {
    await kgql.stop();
    await sim.stop();
  }
  return result;
}

/** The command line's run: prints the table, exits 1 if any answer was wrong. */
async function benchmark(values: ReturnType<typeof flags>): Promise<void> {
  const result = await queryBench(values);
  const cpu = os.cpus();
  printTable(
    [
      `kgql query benchmark: ${result.pods} pods, ${result.deployments} deployments, ${values.namespaces} namespaces, ${values.nodes} nodes`,
      `machine: ${cpu.length} x ${cpu[0]?.model ?? "?"}, Node ${process.version}; kgql, the load generator and the simulator share it`,
    ],
    ["query", "conns", "p50", "p99", "req/s", "goal"],
    result.rows,
  );
  for (const f of result.failures) console.error(`WRONG: ${f}`);
  process.exit(result.failures.length ? 1 : 0);
}

function goal(r: LoadResult, p50: number, p99?: number): string {
  const ok = pct(r.latencies, 50) <= p50 && (p99 === undefined || pct(r.latencies, 99) <= p99);
  return `p50 <= ${p50} ms${p99 === undefined ? "" : `, p99 <= ${p99} ms`}: ${ok ? "met" : "missed"}`;
}

function printTable(title: string[], header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\n${title.join("\n")}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const r of rows) console.log(line(r));
}

/** A query and its canonical expected answer (see bench/lib/check.ts). */
interface Checked {
  query: string;
  expected: string;
}

/**
 * The benchmark's queries with their whole answers computed from the simulator's objects: the
 * full topology, one deployment's topology and one pod, both in team-3.
 */
export function checkedQueries(sim: SandboxCluster): { full: Checked; scoped: Checked; small: Checked } {
  const snap: Snapshot = {
    namespaces: sim.list("namespaces"),
    pods: sim.list("pods"),
    deployments: sim.list("deployments"),
    replicaSets: sim.list("replicasets"),
    services: sim.list("services"),
  };
  const tree = new Topology(snap);
  const checked = (query: string, data: unknown): Checked => ({ query, expected: canonical(data) });

  const fullDeployment: DeploymentField[] = ["name", "namespace", "replicas"];
  const fullPod: PodField[] = ["name", "phase", "nodeName", "ready", "restartCount"];
  const first = [...snap.deployments].sort(byKey).slice(0, 1000);
  const full = checked(
    `{ deployments(first: 1000) { nodes { ${topologySelection(fullDeployment, fullPod)} } } }`,
    {
      deployments: { nodes: first.map((d) => tree.answer(d, fullDeployment, fullPod)) },
    },
  );

  const dep = sim.list("deployments", "team-3")[0]!;
  const scopedDeployment: DeploymentField[] = ["name", "replicas", "readyReplicas"];
  const scopedPod: PodField[] = ["name", "phase", "ready"];
  const scoped = checked(
    `{ deployment(namespace: "team-3", name: "${dep.metadata.name}") { ${topologySelection(scopedDeployment, scopedPod)} } }`,
    { deployment: tree.answer(dep, scopedDeployment, scopedPod) },
  );

  const pod = sim.list("pods", "team-3")[0]!;
  const smallPod: PodField[] = ["name", "phase"];
  const small = checked(
    `{ pod(namespace: "team-3", name: "${pod.metadata.name}") { ${smallPod.join(" ")} } }`,
    {
      pod: podView(pod, smallPod),
    },
  );
  return { full, scoped, small };
}
