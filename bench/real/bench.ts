// The benchmark on the real control plane (npm run bench): kgql against the direct-API baseline,
// side by side, on one cluster of a given size. See BENCHMARKS.md for what it measures and how.
import { fork, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { basename, dirname, relative } from "node:path";
import type { KubeObject } from "../../src/informers/types.ts";
import { adminApi, down, repoRoot, up } from "../../test/cluster/cluster.ts";
import type { KubeApi } from "../../test/cluster/kube-api.ts";
import { runFanout } from "../fanout.ts";
import { checkBody } from "../lib/check.ts";
import { type LoadResult, load, pct } from "../lib/load.ts";
import { peakRssMB, post, rssMB, type ServerProcess, startDirect, startKgql } from "../lib/procs.ts";
import {
  type Background,
  delta,
  measureBackground,
  type RequestDelta,
  readCounts,
} from "./apiserver-metrics.ts";
import { evaluateGoals, markdownReport, updateBenchmarksMd } from "./report.ts";
import { buildScenarios, mixedQueries, type Scenario, snapshot } from "./scenarios.ts";
import { BENCH_LABEL, ensureTopology, layoutFor, type TopologyResult } from "./topology.ts";

export interface RealBenchOptions {
  pods: number;
  namespaces: number;
  /** kwok nodes of a newly started bench cluster. */
  nodes: number;
  clusterDir: string;
  /** Each measured run lasts at least this long... */
  seconds: number;
  /** ...and until this many requests were answered... */
  minRequests: number;
  /** ...but at most this long. */
  maxSeconds: number;
  /** Concurrent connections of the load generator, one run each. */
  connections: number[];
  /** Scenario ids to run (default all). */
  only?: string[];
  /** Idle window for the apiserver's background request rate. */
  idleSeconds: number;
  sync: boolean;
  /** Pod label patches the informer sync child applies after its sync (its event rate); 0: none. */
  syncEvents: number;
  mixed: boolean;
  fanout: boolean;
  fanoutSubscribers: number;
  fanoutIdle: number;
  /** Stop the bench cluster at the end. */
  down: boolean;
  /** Rewrite this size's section of BENCHMARKS.md. */
  writeMd: boolean;
}

export interface RunFigures {
  connections: number;
  requests: number;
  seconds: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  rps: number;
  bytesPerResponse: number;
  errors: number;
  wrong: number;
  firstProblem?: string;
  /** apiserver GET/LIST (of the queried kinds) per query, as counted. */
  apiserverReadsPerQuery: number;
  /** every apiserver request per query, background subtracted. */
  apiserverAllPerQuery: number;
  apiserver: RequestDelta;
  /** The baseline's own count of API requests per query (its client's counter). */
  clientRequestsPerQuery?: number;
  /** kgql's relists during the run (must be 0). */
  kgqlRelists?: number;
}

export interface ServerFigures {
  /** The answer checked before the load: "ok" or why not. */
  check: string;
  bytes?: number;
  runs: RunFigures[];
}

export interface ScenarioResult {
  id: string;
  title: string;
  kind: Scenario["kind"];
  pods: number;
  query: string;
  kgql: ServerFigures;
  direct: ServerFigures;
  /** direct p50 / kgql p50 in the runs at the first --connections count (runs[0]). */
  speedupP50?: number;
  /** kgql req/s / direct req/s, per connection count. */
  rpsRatio?: Record<string, number>;
}

export interface MixedFigures {
  small: RunFigures;
  big: RunFigures;
}

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

function figures(
  r: LoadResult,
  connections: number,
): Omit<RunFigures, "apiserver" | "apiserverReadsPerQuery" | "apiserverAllPerQuery"> {
  return {
    connections,
    requests: r.requests,
    seconds: round(r.seconds),
    p50: round(pct(r.latencies, 50), 3),
    p90: round(pct(r.latencies, 90), 3),
    p99: round(pct(r.latencies, 99), 3),
    max: round(r.latencies.at(-1) ?? Number.NaN, 3),
    rps: round(r.requests / r.seconds, 1),
    bytesPerResponse: r.requests ? Math.round(r.bytes / r.requests) : 0,
    errors: r.errors,
    wrong: r.wrong,
    ...(r.firstProblem === undefined ? {} : { firstProblem: r.firstProblem }),
  };
}

/** Sum of a metric's samples in a Prometheus text body. */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function kgqlMetrics(kgql: ServerProcess): Promise<string> {
  return (await fetch(new URL("/metrics", kgql.url))).text();
}

async function directStats(direct: ServerProcess): Promise<number> {
  const r = (await (await fetch(new URL("/stats", direct.url))).json()) as {
    requests: Record<string, number>;
  };
  return Object.values(r.requests).reduce((a, b) => a + b, 0);
}

export async function realBenchmark(opts: RealBenchOptions): Promise<number> {
  const t0 = performance.now();
  const log = (line: string) =>
    console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const failures: string[] = [];
  const loadStart = os.loadavg();

  // The cluster: a directory of its own, so that the bench pods never meet the tests' cluster.
  log(`control plane in ${relative(repoRoot, opts.clusterDir) || opts.clusterDir}`);
  const {
    state,
    reused: clusterReused,
    ms: upMs,
  } = await up({ dir: opts.clusterDir, nodes: opts.nodes, log });
  log(
    clusterReused
      ? "reusing the running bench cluster"
      : `bench cluster started in ${(upMs / 1000).toFixed(1)} s`,
  );
  const api = adminApi(state);
  const version = (await api.get("/version")).body as { gitVersion: string };
  const layout = layoutFor(opts.pods, opts.namespaces);
  if (layout.pods !== opts.pods)
    log(`--pods ${opts.pods} rounds to ${layout.pods} (Deployments of 50 in ${opts.namespaces} namespaces)`);
  const topology: TopologyResult = await ensureTopology(api, layout, state.nodes, log);

  const servers: ServerProcess[] = [];
  const result: Record<string, unknown> = {};
  try {
    // kgql first, alone, so that its start-to-ready time is its own.
    const kgql = await startKgql(state.kubeconfig);
    servers.push(kgql);
    const kgqlText = await kgqlMetrics(kgql);
    const kgqlServer = {
      readyMs: Math.round(kgql.readyMs),
      heapUsedMB: round(metricSum(kgqlText, "nodejs_heap_size_used_bytes") / 1e6, 1),
      rssMB: rssMB(kgql.pid),
      peakRssMB: peakRssMB(kgql.pid),
      cachedObjects: metricSum(kgqlText, "kgql_cache_objects"),
    };
    log(
      `kgql ready in ${kgqlServer.readyMs} ms: ${kgqlServer.cachedObjects} objects cached, heap ${kgqlServer.heapUsedMB} MB, RSS ${kgqlServer.rssMB} MB`,
    );
    const direct = await startDirect(state.kubeconfig);
    servers.push(direct);
    const servedBy = { kgql, direct } as const;

    // Expected answers, from a fresh list of everything.
    const snap = await snapshot(api);
    const sizes = {
      nodes: (await api.get("/api/v1/nodes")).body.items.length as number,
      namespaces: snap.namespaces.length,
      benchNamespaces: layout.namespaces.length,
      pods: snap.pods.length,
      deployments: snap.deployments.length,
      replicaSets: snap.replicaSets.length,
      services: snap.services.length,
    };
    log(`cluster: ${JSON.stringify(sizes)}`);
    let scenarios = buildScenarios(snap, layout);
    if (opts.only) scenarios = scenarios.filter((s) => opts.only!.includes(s.id));
    const mixed = mixedQueries(buildScenarios(snap, layout));
    const totalPods = snap.pods.length;

    const body = (s: Scenario) => JSON.stringify({ query: s.query });
    /** Checks one answer of each server before any load. */
    const precheck = async (s: Scenario, which: "kgql" | "direct") => {
      const r = await post(servedBy[which].url, s.query);
      const v = checkBody(r.status, r.text, s.expected);
      if (!v.ok) failures.push(`${s.id} on ${which}: ${v.reason}`);
      return { check: v.ok ? "ok" : v.reason!, bytes: r.text.length };
    };

    const background: Background = await measureBackground(api, opts.idleSeconds);
    log(
      `apiserver background: ${round(background.readsPerSecond, 3)} reads/s, ${round(background.allPerSecond, 2)} requests/s (idle ${round(background.seconds, 1)} s)`,
    );

    /** One measured run: the load from its own process, the apiserver's counters around it. */
    const measure = async (
      s: Scenario,
      which: "kgql" | "direct",
      connections: number,
    ): Promise<RunFigures> => {
      const server = servedBy[which];
      const before = await readCounts(api);
      const relistsBefore =
        which === "kgql" ? metricSum(await kgqlMetrics(kgql), "kgql_cache_relists_total") : 0;
      const clientBefore = which === "direct" ? await directStats(direct) : 0;
      const r = await load({
        url: server.url,
        body: body(s),
        connections,
        seconds: opts.seconds,
        minRequests: opts.minRequests,
        maxSeconds: opts.maxSeconds,
        expected: s.expected,
      });
      const clientAfter = which === "direct" ? await directStats(direct) : 0;
      const relistsAfter =
        which === "kgql" ? metricSum(await kgqlMetrics(kgql), "kgql_cache_relists_total") : 0;
      const after = await readCounts(api);
      const d = delta(before, after, background);
      const f: RunFigures = {
        ...figures(r, connections),
        apiserverReadsPerQuery: r.requests ? round(d.reads / r.requests, 3) : 0,
        apiserverAllPerQuery: r.requests ? round(d.all / r.requests, 3) : 0,
        apiserver: {
          ...d,
          all: round(d.all, 1),
          expectedBackgroundReads: round(d.expectedBackgroundReads, 2),
        },
        ...(which === "direct"
          ? { clientRequestsPerQuery: round((clientAfter - clientBefore) / Math.max(1, r.requests), 2) }
          : {}),
        ...(which === "kgql" ? { kgqlRelists: relistsAfter - relistsBefore } : {}),
      };
      if (r.errors || r.wrong)
        failures.push(
          `${s.id} on ${which} (${connections} conns): ${r.errors} failed, ${r.wrong} wrong: ${r.firstProblem}`,
        );
      if (which === "kgql" && f.kgqlRelists)
        failures.push(`${s.id}: kgql relisted ${f.kgqlRelists} times during the run`);
      log(
        `${s.id.padEnd(18)} ${which.padEnd(6)} c=${connections}: p50 ${f.p50} ms, p99 ${f.p99} ms, ${f.rps} req/s, ${f.requests} requests checked` +
          `${r.errors || r.wrong ? ` (${r.errors} failed, ${r.wrong} WRONG)` : ""}, apiserver reads/query ${f.apiserverReadsPerQuery}` +
          (f.clientRequestsPerQuery !== undefined ? ` (client: ${f.clientRequestsPerQuery})` : ""),
      );
      return f;
    };

    const scenarioResults: ScenarioResult[] = [];
    for (const s of scenarios) {
      const out: ScenarioResult = {
        id: s.id,
        title: s.title,
        kind: s.kind,
        pods: s.pods,
        query: s.query,
        kgql: { ...(await precheck(s, "kgql")), runs: [] },
        direct: { ...(await precheck(s, "direct")), runs: [] },
      };
      for (const which of ["kgql", "direct"] as const) {
        if (out[which].check !== "ok") {
          log(`${s.id} on ${which}: WRONG ANSWER before the load, not measured: ${out[which].check}`);
          continue;
        }
        // Warm-up: compile the query, let V8 optimise, open connections.
        await load({
          url: servedBy[which].url,
          body: body(s),
          connections: 1,
          seconds: 1,
          minRequests: 2,
          maxSeconds: 60,
        });
        for (const c of opts.connections) out[which].runs.push(await measure(s, which, c));
      }
      const k1 = out.kgql.runs[0];
      const d1 = out.direct.runs[0];
      if (k1 && d1 && !k1.errors && !k1.wrong && !d1.errors && !d1.wrong) {
        out.speedupP50 = round(d1.p50 / k1.p50, 1);
        out.rpsRatio = Object.fromEntries(
          out.kgql.runs.map((k, i) => [
            String(k.connections),
            round(k.rps / (out.direct.runs[i]?.rps ?? Number.NaN), 1),
          ]),
        );
      }
      scenarioResults.push(out);
    }
    result.scenarios = scenarioResults;

    // A small query while 4 big ones run, on each server.
    if (opts.mixed) {
      const m: Record<string, MixedFigures> = {};
      for (const which of ["kgql", "direct"] as const) {
        const server = servedBy[which];
        const big = load({
          url: server.url,
          body: body(mixed.big),
          connections: 4,
          seconds: opts.seconds + 1,
          maxSeconds: opts.maxSeconds + 5,
          expected: mixed.big.expected,
        });
        await new Promise((r) => setTimeout(r, 300));
        const before = await readCounts(api);
        const small = await load({
          url: server.url,
          body: body(mixed.small),
          connections: 1,
          seconds: opts.seconds,
          minRequests: opts.minRequests,
          maxSeconds: opts.maxSeconds,
          expected: mixed.small.expected,
        });
        const after = await readCounts(api);
        const bigResult = await big;
        const d = delta(before, after, background);
        const none = { reads: 0, all: 0, rawReads: 0, rawAll: 0, expectedBackgroundReads: 0, byKey: {} };
        m[which] = {
          small: {
            ...figures(small, 1),
            apiserverReadsPerQuery: Number.NaN,
            apiserverAllPerQuery: Number.NaN,
            apiserver: d,
          },
          big: {
            ...figures(bigResult, 4),
            apiserverReadsPerQuery: Number.NaN,
            apiserverAllPerQuery: Number.NaN,
            apiserver: none,
          },
        };
        for (const [name, r] of [
          ["small", small],
          ["big", bigResult],
        ] as const) {
          if (r.errors || r.wrong)
            failures.push(
              `mixed ${name} on ${which}: ${r.errors} failed, ${r.wrong} wrong: ${r.firstProblem}`,
            );
        }
        log(
          `mixed ${which}: small p50 ${m[which].small.p50} ms p99 ${m[which].small.p99} ms (${m[which].small.requests}) while 4 full topologies ran at ${m[which].big.rps} req/s`,
        );
      }
      result.mixed = m;
    }

    // The pod informer alone in a process of its own (heap figures are its own), kgql's and
    // client-node's makeInformer, from this apiserver.
    if (opts.sync) {
      const sync: Record<string, unknown> = {};
      for (const mode of ["kgql", "client-node"]) {
        sync[mode] = await syncChild(mode, state.kubeconfig, totalPods, api, opts.syncEvents).catch(
          (err) => ({
            error: String(err),
          }),
        );
        log(`${mode} pod informer: ${JSON.stringify(sync[mode])}`);
        const e = (sync[mode] as { error?: string }).error;
        if (e) failures.push(`${mode} sync: ${e}`);
      }
      result.sync = sync;
    }

    // Subscription fan-out (bench/fanout.ts) on the same kgql.
    if (opts.fanout) {
      const f = await fanout(state.kubeconfig, kgql, opts, log);
      result.fanout = f;
      for (const e of (f.errors as string[] | undefined) ?? []) failures.push(`fan-out: ${e}`);
    }

    kgqlServer.peakRssMB = peakRssMB(kgql.pid);
    const report = {
      time: new Date().toISOString(),
      durationSeconds: 0,
      command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model,
        memoryGB: Math.round(os.totalmem() / 2 ** 30),
        loadavgAtStart: loadStart.map((v) => round(v)),
        loadavgAtEnd: os.loadavg().map((v) => round(v)),
      },
      node: process.version,
      kubernetes: version.gitVersion,
      binaries: basename(dirname(state.binDir)),
      cluster: {
        dir: relative(repoRoot, state.dir),
        reused: clusterReused,
        kwokNodes: state.nodes.length,
      },
      sizes,
      topology,
      settings: {
        seconds: opts.seconds,
        minRequests: opts.minRequests,
        maxSeconds: opts.maxSeconds,
        connections: opts.connections,
        idleSeconds: opts.idleSeconds,
      },
      background,
      kgql: kgqlServer,
      ...result,
      goals: [] as ReturnType<typeof evaluateGoals>,
      failures,
    };
    report.goals = evaluateGoals(report);
    report.durationSeconds = Math.round((performance.now() - t0) / 1000);
    const stamp = report.time.replace(/[:.]/g, "-");
    const dir = new URL("../results/", import.meta.url);
    mkdirSync(dir, { recursive: true });
    const jsonFile = new URL(`./${stamp}-real-${sizes.pods}pods.json`, dir);
    writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
    const md = markdownReport(report);
    const mdFile = new URL(`./${stamp}-real-${sizes.pods}pods.md`, dir);
    writeFileSync(mdFile, md);
    console.log(`\n${md}`);
    log(`wrote ${relative(repoRoot, jsonFile.pathname)} and ${relative(repoRoot, mdFile.pathname)}`);
    if (opts.writeMd) {
      const file = `${repoRoot}/BENCHMARKS.md`;
      const updated = updateBenchmarksMd(
        readFileSync(file, "utf8"),
        layout.pods,
        md,
        relative(repoRoot, jsonFile.pathname),
      );
      if (updated === null)
        log(
          `BENCHMARKS.md has no section for ${layout.pods} pods (markers bench:real:${layout.pods}): left as is`,
        );
      else {
        writeFileSync(file, updated);
        // npm test's lint checks its formatting (biome formats markdown too).
        spawnSync(`${repoRoot}/node_modules/.bin/biome`, ["format", "--write", file], { stdio: "ignore" });
        log(`BENCHMARKS.md: the ${layout.pods}-pod section now shows this run`);
      }
    }
    if (failures.length) {
      log(`FAILED checks (${failures.length}):`);
      for (const f of failures) log(`  ${f}`);
    }
    return failures.length ? 1 : 0;
  } finally {
    for (const s of servers) await s.stop();
    api.close();
    if (opts.down) {
      const { ms } = await down({ dir: opts.clusterDir, log });
      log(`bench cluster stopped in ${(ms / 1000).toFixed(1)} s`);
    } else {
      log(
        `bench cluster left running (KGQL_CLUSTER_DIR=${relative(repoRoot, opts.clusterDir)} npm run cluster:down stops it)`,
      );
    }
  }
}

/**
 * bench/sync-child.ts: sync every pod from the cluster in a process of its own, then (with
 * `events`) apply that many watch events: this process patches a label of `events` pods (one
 * change each, so the label index changes on every event), 32 patches in flight, and tells the
 * child the highest resourceVersion they returned; the child measures until it has applied it.
 */
function syncChild(
  mode: string,
  kubeconfig: string,
  expected: number,
  api: KubeApi,
  events: number,
): Promise<Record<string, unknown>> {
  const child = fork(
    new URL("../sync-child.ts", import.meta.url),
    [mode, kubeconfig, String(expected), String(events)],
    {
      execArgv: ["--expose-gc", "--max-old-space-size=8192"],
    },
  );
  let producerPerSecond = 0;
  return new Promise((resolve, reject) => {
    child.on("message", (m: Record<string, unknown>) => {
      if (m.ready && events > 0) {
        patchPods(api, events)
          .then(({ targetRV, perSecond }) => {
            producerPerSecond = perSecond;
            child.send({ targetRV });
          })
          .catch((err) => {
            child.kill();
            reject(err);
          });
      }
      if (m.done) {
        const { done: _d, ready: _r, rv: _rv, ...figures } = m;
        resolve(events > 0 ? { ...figures, events, producerPerSecond } : figures);
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => code && reject(new Error(`${mode} sync child exited ${code}`)));
  });
}

/** Patches one label of `count` bench pods (the first pages of a list), 32 at a time. */
async function patchPods(api: KubeApi, count: number): Promise<{ targetRV: number; perSecond: number }> {
  const pods: { namespace: string; name: string }[] = [];
  let cont: string | undefined;
  do {
    const page = (
      await api.get("/api/v1/pods", {
        query: {
          labelSelector: `${BENCH_LABEL}=true`,
          limit: Math.min(500, count - pods.length),
          continue: cont,
        },
      })
    ).body as { items: KubeObject[]; metadata: { continue?: string } };
    for (const p of page.items) pods.push({ namespace: p.metadata.namespace!, name: p.metadata.name });
    cont = page.metadata.continue || undefined;
  } while (cont && pods.length < count);
  if (pods.length === 0) throw new Error("no bench pods to patch");
  let targetRV = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const p = pods[i % pods.length]!;
      const res = await api.patch(
        `/api/v1/namespaces/${p.namespace}/pods/${p.name}`,
        { metadata: { labels: { "kgql.bench/seq": String(i) } } },
        { patchType: "merge" },
      );
      targetRV = Math.max(targetRV, Number((res.body as KubeObject).metadata.resourceVersion));
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return { targetRV, perSecond: Math.round(count / ((performance.now() - t0) / 1000)) };
}

/** bench/fanout.ts's runFanout() on this kgql. */
async function fanout(
  kubeconfig: string,
  kgql: ServerProcess,
  opts: RealBenchOptions,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  log(`fan-out: ${opts.fanoutSubscribers} subscribers on this kgql (bench/fanout.ts)`);
  try {
    return (await runFanout({
      kubeconfig,
      gatewayUrl: kgql.url,
      gatewayPid: kgql.pid,
      subscribers: opts.fanoutSubscribers,
      idle: opts.fanoutIdle,
      log,
    })) as unknown as Record<string, unknown>;
  } catch (err) {
    log(`fan-out failed: ${(err as Error).message}`);
    return { error: (err as Error).message };
  }
}
