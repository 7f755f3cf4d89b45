// node bench/clusters.ts [--pods 5000] [--counts 1,2,4] [--runs 1]: kgql's memory and sync time
// serving 1, 2 and 4 clusters at once (multi-cluster serving, --cluster), on simulated clusters
// (src/sandbox) seeded alike (bench/informer.ts's seedPods: 10 namespaces, Deployments of 50).
// The simulators run in this process; kgql in a child of its own (bench/clusters-child.ts), so
// its heap (over its baseline, after a GC, once every cluster synced) and RSS are its alone.
// The simulators share the machine's cores with kgql: sync times include serving them.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { SandboxCluster } from "../src/sandbox/index.ts";
import { seedPods } from "./informer.ts";
import { parseOptions } from "./lib/args.ts";

const usage =
  "usage: node bench/clusters.ts [--pods N (per cluster, default 5000)] [--counts 1,2,4] [--runs R]";
const { values } = parseOptions(usage, {
  options: {
    pods: { type: "string", default: "5000" },
    counts: { type: "string", default: "1,2,4" },
    runs: { type: "string", default: "1" },
  },
});
const pods = Number(values.pods);
const counts = String(values.counts).split(",").map(Number);
const runs = Number(values.runs);

interface Figures {
  clusters: number;
  pods: number;
  objects: number;
  syncMs: number;
  heapMB: number;
  rssMB: number;
  peakRssMB: number;
}

const dir = mkdtempSync(join(os.tmpdir(), "kgql-bench-clusters-"));
const sims: SandboxCluster[] = [];
const kubeconfigs: string[] = [];
try {
  for (let i = 0; i < Math.max(...counts); i++) {
    const sim = new SandboxCluster();
    await sim.start();
    seedPods(sim, pods);
    const path = join(dir, `c${i}.kubeconfig`);
    writeFileSync(path, sim.kubeconfig());
    sims.push(sim);
    kubeconfigs.push(path);
  }
  console.log(
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, Node ${process.version}, ${new Date().toISOString()}`,
  );
  console.log(
    "| clusters | pods | objects | sync (ms) | heap over baseline (MB) | RSS (MB) | peak RSS (MB) |",
  );
  console.log("| -: | -: | -: | -: | -: | -: | -: |");
  for (const n of counts) {
    for (let r = 0; r < runs; r++) {
      const f = await new Promise<Figures>((resolve, reject) => {
        const child = fork(new URL("./clusters-child.ts", import.meta.url), kubeconfigs.slice(0, n), {
          execArgv: ["--expose-gc", "--max-semi-space-size=16"],
        });
        child.on("message", (m) => resolve(m as Figures));
        child.on("error", reject);
        child.on("exit", (code) => code && reject(new Error(`child exited ${code}`)));
      });
      console.log(
        `| ${f.clusters} | ${f.pods} | ${f.objects} | ${f.syncMs} | ${f.heapMB} | ${f.rssMB} | ${f.peakRssMB} |`,
      );
    }
  }
  console.log(
    `load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
} finally {
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
}
