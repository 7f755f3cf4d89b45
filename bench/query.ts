// Query latency and throughput over loopback HTTP (not part of npm test):
//
//   node bench/query.ts [--pods 10000] [--namespaces 10] [--nodes 20] [--seconds 5]
//                       [--only full,scoped,rate,small,mixed] [--profile]
//
// Seeds the simulated cluster with Deployments of 50 replicas (10k pods: 200 Deployments over
// 10 namespaces and 20 nodes), starts kgql through its CLI as its own process (exactly as a
// user would, against the simulator's kubeconfig), checks the queries' whole answers against
// ones computed from the seeded objects (bench/lib/expected.ts), then drives it from a separate
// load-generator process (bench/lib/load.ts) over keep-alive HTTP, timing each request with a
// high-resolution clock and checking every response the same way. Goals at 10k pods: full
// topology p50 <= 25 ms and p99 <= 50 ms; one deployment's topology p50 <= 1 ms and >= 5,000
// queries/s. Exits 1 if any answer was wrong.
import os from "node:os";
import { parseArgs } from "node:util";
import type { SandboxCluster } from "../src/sandbox/index.ts";
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

/** The command line. */
function flags() {
  return parseArgs({
    options: {
      pods: { type: "string", default: "10000" },
      namespaces: { type: "string", default: "10" },
      nodes: { type: "string", default: "20" },
      seconds: { type: "string", default: "5" },
      only: { type: "string", default: "full,scoped,rate,small,mixed" },
      /** Write a CPU profile of the kgql process to bench/results/profiles. */
      profile: { type: "boolean", default: false },
    },
  }).values;
}

// Only when run: checkedQueries can be imported (to try it on a small simulated cluster).
if (import.meta.main) await benchmark(flags());

// ---- the benchmark (the parent process) ----

async function benchmark(values: ReturnType<typeof flags>): Promise<void> {
  const { SandboxCluster, seedDemo } = await import("../src/sandbox/index.ts");
  const namespaces = Number(values.namespaces);
  const seconds = Number(values.seconds);
  const sim = new SandboxCluster();
  await sim.start();
  const deploymentsPerNamespace = Math.max(1, Math.round(Number(values.pods) / (namespaces * 50)));
  seedDemo(sim, { namespaces, nodes: Number(values.nodes), deploymentsPerNamespace, replicas: 50 });
  const podCount = sim.list("pods").length;
  const kubeconfig = `${os.tmpdir()}/kgql-bench-query-${process.pid}.kubeconfig`;
  await sim.writeKubeconfig(kubeconfig);

  const profile = ["--cpu-prof", "--cpu-prof-dir", "bench/results/profiles"];
  const kgql = await startKgql(kubeconfig, values.profile ? profile : []);
  const failures: string[] = [];
  try {
    const url = kgql.url;
    const { full, scoped, small } = checkedQueries(sim);
    for (const [name, q] of Object.entries({ full, scoped, small })) {
      const r = await post(url, q.query);
      const verdict = checkBody(r.status, r.text, q.expected);
      if (!verdict.ok) throw new Error(`the ${name} query's answer before the load: ${verdict.reason}`);
    }

    const rows: string[][] = [];
    const row = (name: string, connections: number, r: LoadResult, goal: string) => {
      rows.push([
        name,
        String(connections),
        `${pct(r.latencies, 50).toFixed(2)} ms`,
        `${pct(r.latencies, 99).toFixed(2)} ms`,
        String(Math.round(r.requests / r.seconds)),
        goal,
      ]);
      if (r.errors || r.wrong)
        failures.push(`${name}: ${r.errors} failed, ${r.wrong} wrong answers: ${r.firstProblem}`);
    };
    const body = (q: Checked) => JSON.stringify({ query: q.query });
    /** A measured load: every response is checked against the query's expected answer. */
    const measure = (q: Checked, connections: number, secs = seconds) =>
      load({ url, body: body(q), connections, seconds: secs, expected: q.expected });
    const only = new Set(values.only.split(","));
    // Warm up: compile the queries and let V8 optimize the hot paths.
    await load({ url, body: body(full), connections: 1, seconds: 2 });
    await load({ url, body: body(scoped), connections: 1, seconds: 1 });

    if (only.has("full")) {
      const r = await measure(full, 1);
      const kb = Math.round(r.bytes / r.requests / 1024);
      row(`full topology (${podCount} pods, ${kb} KB)`, 1, r, goal(r, 25, 50));
    }
    if (only.has("scoped")) {
      const r = await measure(scoped, 1);
      row("one deployment's topology (50 pods)", 1, r, goal(r, 1));
    }
    if (only.has("rate")) {
      const r = await measure(scoped, 8);
      const rate = r.requests / r.seconds;
      row("one deployment's topology (50 pods)", 8, r, `>= 5000/s: ${rate >= 5000 ? "met" : "missed"}`);
    }
    if (only.has("small")) {
      const r = await measure(small, 1);
      row("small query (one pod)", 1, r, "");
    }
    if (only.has("mixed")) {
      const big = measure(full, 4, seconds + 1);
      await new Promise((r) => setTimeout(r, 300));
      row("small query while 4 full topologies run", 1, await measure(small, 1), "");
      row("  (the 4 full topologies meanwhile)", 4, await big, "");
    }

    const cpu = os.cpus();
    printTable(
      [
        `kgql query benchmark: ${podCount} pods, ${sim.list("deployments").length} deployments, ${namespaces} namespaces, ${values.nodes} nodes`,
        `machine: ${cpu.length} x ${cpu[0]?.model ?? "?"}, Node ${process.version}; kgql, the load generator and the simulator share it`,
      ],
      ["query", "conns", "p50", "p99", "req/s", "goal"],
      rows,
    );
    for (const f of failures) console.error(`WRONG: ${f}`);
  } finally {
    await kgql.stop();
    await sim.stop();
  }
  process.exit(failures.length ? 1 : 0);
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
