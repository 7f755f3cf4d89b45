// Query latency and throughput over loopback HTTP (not part of npm test):
//
//   node bench/query.ts [--pods 10000] [--namespaces 10] [--nodes 20] [--seconds 5]
//                       [--only full,scoped,rate,small,mixed] [--profile]
//
// Seeds the simulated cluster with Deployments of 50 replicas (10k pods: 200 Deployments over
// 10 namespaces and 20 nodes), starts kgql through its CLI as its own process (exactly as a
// user would, against the simulator's kubeconfig), checks the queries' answers, then drives it
// from a separate load-generator process (bench/lib/load.ts) over keep-alive HTTP,
// timing each request with a high-resolution clock. Goals at 10k pods: full topology
// p50 <= 25 ms and p99 <= 50 ms; one deployment's topology p50 <= 1 ms and >= 5,000 queries/s.
import os from "node:os";
import { parseArgs } from "node:util";
import type { SandboxCluster } from "../src/sandbox/index.ts";
import { type LoadResult, load, pct } from "./lib/load.ts";
import { startKgql } from "./lib/procs.ts";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "10000" },
    namespaces: { type: "string", default: "10" },
    nodes: { type: "string", default: "20" },
    seconds: { type: "string", default: "5" },
    only: { type: "string", default: "full,scoped,rate,small,mixed" },
    /** Write a CPU profile of the kgql process to bench/results/profiles. */
    profile: { type: "boolean", default: false },
  },
});

await benchmark();

// ---- the benchmark (the parent process) ----

async function benchmark(): Promise<void> {
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
  try {
    const url = kgql.url;
    const full = `{ deployments(first: 1000) { nodes { name namespace replicas replicaSets { name pods { name phase nodeName ready restartCount } } } } }`;
    const dep = sim.list("deployments", "team-3")[0]!;
    const scoped = `{ deployment(namespace: "team-3", name: "${dep.metadata.name}") { name replicas readyReplicas replicaSets { name pods { name phase ready } } } }`;
    const pod = sim.list("pods", "team-3")[0]!;
    const small = `{ pod(namespace: "team-3", name: "${pod.metadata.name}") { name phase } }`;
    await checkAnswers(url, sim, full, scoped);

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
      if (r.errors) console.error(`${name}: ${r.errors} failed requests`);
    };
    const body = (query: string) => JSON.stringify({ query });
    const only = new Set(values.only.split(","));
    // Warm up: compile the queries and let V8 optimize the hot paths.
    await load({ url, body: body(full), connections: 1, seconds: 2 });
    await load({ url, body: body(scoped), connections: 1, seconds: 1 });

    if (only.has("full")) {
      const r = await load({ url, body: body(full), connections: 1, seconds });
      const kb = Math.round(r.bytes / r.requests / 1024);
      row(`full topology (${podCount} pods, ${kb} KB)`, 1, r, goal(r, 25, 50));
    }
    if (only.has("scoped")) {
      const r = await load({ url, body: body(scoped), connections: 1, seconds });
      row("one deployment's topology (50 pods)", 1, r, goal(r, 1));
    }
    if (only.has("rate")) {
      const r = await load({ url, body: body(scoped), connections: 8, seconds });
      const rate = r.requests / r.seconds;
      row("one deployment's topology (50 pods)", 8, r, `>= 5000/s: ${rate >= 5000 ? "met" : "missed"}`);
    }
    if (only.has("small")) {
      const r = await load({ url, body: body(small), connections: 1, seconds });
      row("small query (one pod)", 1, r, "");
    }
    if (only.has("mixed")) {
      const big = load({ url, body: body(full), connections: 4, seconds: seconds + 1 });
      await new Promise((r) => setTimeout(r, 300));
      row(
        "small query while 4 full topologies run",
        1,
        await load({ url, body: body(small), connections: 1, seconds }),
        "",
      );
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
  } finally {
    await kgql.stop();
    await sim.stop();
  }
  process.exit(0);
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

/**
 * Before load: the pod counts of the answers are compared with the simulator's (every pod in the
 * full topology, 50 in the scoped one). Names and fields are not compared; under load only the
 * status is checked. (npm run bench on the real control plane compares whole answers.)
 */
async function checkAnswers(url: string, sim: SandboxCluster, full: string, scoped: string): Promise<void> {
  const post = async (query: string) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
    const json = (await res.json()) as { data?: unknown; errors?: unknown[] };
    if (json.errors) throw new Error(`query failed: ${JSON.stringify(json.errors)}`);
    return json.data!;
  };
  type Topology = { replicaSets: { pods: unknown[] }[] };
  const podsOf = (d: Topology) => d.replicaSets.reduce((n, rs) => n + rs.pods.length, 0);
  const fullData = (await post(full)) as { deployments: { nodes: Topology[] } };
  const got = fullData.deployments.nodes.reduce((n, d) => n + podsOf(d), 0);
  const want = sim.list("pods").filter((p) => p.metadata.ownerReferences?.[0]?.kind === "ReplicaSet").length;
  if (got !== want) throw new Error(`full topology returned ${got} pods, the simulator has ${want}`);
  const scopedPods = podsOf(((await post(scoped)) as { deployment: Topology }).deployment);
  if (scopedPods !== 50) throw new Error(`the scoped query returned ${scopedPods} pods, expected 50`);
}
