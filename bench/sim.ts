// npm run bench -- --sim [--pods 10000 --events 20000 --duration 10]: kgql's own figures on the
// simulated cluster (src/sandbox), no control plane needed.
//  1. Informer sync of N pods: time, peak and steady heap, bytes per pod, events applied per
//     second; the same for @kubernetes/client-node's makeInformer, side by side.
//  2. Queries over loopback HTTP with autocannon (a separate process): the full topology
//     (all deployments -> replicasets -> pods), one deployment's topology, and a small query's
//     latency while big queries run. Every response is checked before load is applied.
// Results go to bench/results/<time>-<pods>pods.json.
import { fork, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { SandboxCluster, seedDemo } from "../src/sandbox/index.ts";

export interface SimBenchOptions {
  pods: number;
  events: number;
  duration: number;
}

export async function simBenchmark({ pods, events, duration }: SimBenchOptions): Promise<number> {
  function seed(sim: SandboxCluster) {
    // 10 namespaces x D deployments x 50 replicas, plus the demo's extra pods per namespace.
    const deployments = Math.max(1, Math.round((pods - 30) / (10 * 50)));
    seedDemo(sim, { namespaces: 10, nodes: 20, deploymentsPerNamespace: deployments, replicas: 50 });
  }

  async function syncRun(mode: string, kubeconfig: string, sim: SandboxCluster) {
    const expected = sim.list("pods").length;
    const child = fork(
      new URL("./sync-child.ts", import.meta.url),
      [mode, kubeconfig, String(expected), String(events)],
      {
        execArgv: ["--expose-gc", "--max-old-space-size=8192"],
      },
    );
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      child.on("message", (m: Record<string, unknown>) => {
        if (m.ready) {
          // Apply `events` updates as fast as the simulator can, then tell the child the last RV.
          const all = sim.list("pods");
          for (let i = 0; i < events; i++) {
            const p = all[i % all.length]!;
            const cur = sim.get("pods", p.metadata.namespace, p.metadata.name)!;
            sim.update("pods", {
              ...cur,
              metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, bench: String(i) } },
            });
          }
          child.send({ targetRV: Number(sim.currentResourceVersion()) });
        }
        if (m.done) resolve(m);
      });
      child.on("error", reject);
      child.on("exit", (code) => code && reject(new Error(`${mode} sync child exited ${code}`)));
    });
  }

  function autocannon(url: string, query: string, seconds: number, connections: number) {
    return new Promise<{ p50: number; p99: number; rps: number; errors: number; non2xx: number }>(
      (resolve, reject) => {
        const args = [
          "autocannon",
          "-j",
          "-d",
          String(seconds),
          "-c",
          String(connections),
          "-m",
          "POST",
          "-H",
          "content-type=application/json",
          "-b",
          JSON.stringify({ query }),
          url,
        ];
        const p = spawn("npx", ["--no-install", ...args], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        p.stdout.on("data", (d) => {
          out += d;
        });
        p.on("exit", () => {
          try {
            const r = JSON.parse(out);
            resolve({
              p50: r.latency.p50,
              p99: r.latency.p99,
              rps: Math.round(r.requests.average),
              errors: r.errors,
              non2xx: r.non2xx,
            });
          } catch (err) {
            reject(err);
          }
        });
      },
    );
  }

  async function post(url: string, query: string) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query }),
    });
    const text = await res.text();
    return { bytes: text.length, json: JSON.parse(text) };
  }

  async function queryRuns(kubeconfig: string, sim: SandboxCluster) {
    const port = 4500 + Math.floor(Math.random() * 400);
    const server = spawn(
      process.execPath,
      ["bin/kgql.js", "--kubeconfig", kubeconfig, "--port", String(port)],
      {
        // Not piped: an unread pipe fills up and blocks kgql's logging.
        stdio: ["ignore", "ignore", "ignore"],
      },
    );
    const url = `http://127.0.0.1:${port}/graphql`;
    try {
      for (let i = 0; i < 200; i++) {
        const ok = await fetch(url.replace("/graphql", "/readyz")).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const full = `{ deployments(first: 1000) { nodes { name namespace replicas replicaSets { name pods { name phase nodeName ready restartCount } } } } }`;
      const dep = sim.list("deployments", "team-3")[0]!;
      const scoped = `{ deployment(namespace: "team-3", name: "${dep.metadata.name}") { name replicaSets { name pods { name phase ready } } } }`;
      const small = `{ pod(namespace: "team-3", name: "${sim.list("pods", "team-3")[0]!.metadata.name}") { name phase } }`;
      // Check the answers first: a fast wrong answer does not count.
      const fullRes = await post(url, full);
      const podCount = fullRes.json.data.deployments.nodes.reduce(
        (n: number, d: { replicaSets: { pods: unknown[] }[] }) =>
          n + d.replicaSets.reduce((m, rs) => m + rs.pods.length, 0),
        0,
      );
      const rsPods = sim
        .list("pods")
        .filter((p) => p.metadata.ownerReferences?.[0]?.kind === "ReplicaSet").length;
      if (podCount !== rsPods) throw new Error(`full topology returned ${podCount} pods, expected ${rsPods}`);
      const scopedRes = await post(url, scoped);
      if (scopedRes.json.data.deployment.replicaSets[0].pods.length !== 50)
        throw new Error("scoped query answer is wrong");
      const results: Record<string, unknown> = { fullTopologyBytes: fullRes.bytes };
      results.fullTopology = await autocannon(url, full, duration, 1);
      results.scoped = await autocannon(url, scoped, duration, 10);
      const big = autocannon(url, full, duration, 4);
      results.smallUnderLoad = await autocannon(url, small, duration, 1);
      results.bigConcurrent = await big;
      return results;
    } finally {
      // Wait for it to exit (SIGKILL after 10 s), so that no kgql outlives the benchmark.
      await new Promise<void>((resolve) => {
        if (server.exitCode !== null) return resolve();
        const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
        server.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        server.kill("SIGTERM");
      });
    }
  }

  const sim = new SandboxCluster({ historyLimit: events + 1000 });
  await sim.start();
  const t0 = Date.now();
  seed(sim);
  console.log(`seeded ${sim.list("pods").length} pods in ${Date.now() - t0} ms`);
  const kubeconfig = `${os.tmpdir()}/kgql-bench-kubeconfig`;
  await sim.writeKubeconfig(kubeconfig);
  const report: Record<string, unknown> = {
    time: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
    },
    node: process.version,
    pods: sim.list("pods").length,
    events,
  };
  report.syncKgql = await syncRun("kgql", kubeconfig, sim);
  console.log("kgql informer", report.syncKgql);
  report.syncClientNode = await syncRun("client-node", kubeconfig, sim).catch((err) => ({
    error: String(err),
  }));
  console.log("client-node makeInformer", report.syncClientNode);
  report.queries = await queryRuns(kubeconfig, sim);
  console.log("queries", JSON.stringify(report.queries, null, 2));
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  const file = new URL(
    `./results/${String(report.time).replace(/[:.]/g, "-")}-${report.pods}pods.json`,
    import.meta.url,
  );
  writeFileSync(file, JSON.stringify(report, null, 2));
  console.log(`wrote ${file.pathname}`);
  await sim.stop();
  return 0;
}
