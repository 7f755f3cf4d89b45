// Subscription fan-out (not part of npm test):
//
//   node bench/fanout.ts [--subscribers 1000] [--idle 10000] [--events 100] [--rate 10]
//                        [--burst 300] [--transport both|ws|sse] [--documents 1] [--workers 2]
//                        [--pods 20] [--sim | --kubeconfig <path>] [--json <file>]
//                        [--profile <dir>] [--help]
//
// Starts kgql through its CLI as its own process (on the simulator by default; with
// --kubeconfig, on that cluster, where it creates and later deletes a namespace of pods), then
// opens N subscribers as real clients (graphql-ws's client over WebSocket and graphql-sse's
// client over SSE, alternating) in separate worker processes (this file again, with --worker).
// It changes pods at known times: each change writes its sequence number and its send time
// (epoch ms, sub-millisecond) into the pod's annotations, so every receiver computes the
// event-to-delivery latency of every delivery. Every delivery is checked (right pod for its
// sequence number, MODIFIED, resourceVersion increasing, each sequence number exactly once per
// subscriber); a wrong, missing or doubled delivery is reported and fails the run.
//
// Phases:
//   latency    --events changes at --rate per second to --subscribers subscribers: p50/p99.
//   throughput --burst changes as fast as the cluster takes them: deliveries/s, and deliveries
//              per CPU-second of the gateway process (/proc/<pid>/stat).
//   idle       --idle subscribers that receive nothing: the gateway's RSS and heap.
// Goals: p50 <= 10 ms and p99 <= 50 ms at 1,000 subscribers; >= 50k deliveries/s per core;
// 10k idle subscribers < 500 MB. The idle phase alone: --subscribers 0 --events 0 --burst 0
// (a goal a run did not measure is left undefined).
//
// runFanout() is exported for other benchmark orchestrators; it returns a JSON-able result.
import { type ChildProcess, execFileSync, fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import type { KubeObject } from "../src/informers/types.ts";
import type { SandboxCluster } from "../src/sandbox/index.ts";
import { checkedOptions, parseOptions, usageError } from "./lib/args.ts";
import { pct } from "./lib/load.ts";
import { rssMB, type ServerProcess, startKgql } from "./lib/procs.ts";

// ---- what the parent and the workers share ----

const SEQ = "kgql.bench/seq";
const SENT = "kgql.bench/sent";
const FIELD = "podStream";

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The subscription documents: variant k selects the same data under a different alias, so
 * --documents N gives N distinct selection sets with identical answers to check.
 */
function documentFor(variant: number): string {
  const alias = variant === 0 ? "" : `v${variant}: `;
  return `subscription Fanout($ns: String!) { ${FIELD}(namespace: $ns, initial: true) { type resourceVersion pod { ${alias}name namespace phase nodeName labels annotations } } }`;
}

type Transport = "ws" | "sse";

interface OpenCommand {
  cmd: "open";
  url: string;
  namespace: string;
  pods: number;
  /** Global index of this worker's first subscriber (transport and document alternate by index). */
  first: number;
  count: number;
  transports: Transport[];
  documents: number;
  /** Sequence numbers the run will use in all (sizes the per-subscriber bitmaps). */
  maxSeq: number;
  authorization?: string;
}

interface ExpectCommand {
  cmd: "expect";
  from: number;
  to: number;
}

interface PhaseReport {
  deliveries: number;
  latencies: Float64Array;
  missing: number;
  duplicates: number;
  wrong: number;
  firstAt: number;
  lastAt: number;
  errors: string[];
  disconnects: string[];
  complete: boolean;
  /** CPU seconds this client process used during the phase. */
  cpuSeconds: number;
}

// ---- the worker: real clients ----

interface Subscriber {
  transport: Transport;
  variant: number;
  ready: boolean;
  initialAdded: number;
  seen: Uint8Array;
  lastRv: bigint;
  phaseCount: number;
  stopped: boolean;
  stop(): void;
}

async function worker(): Promise<void> {
  const { createClient: createWsClient } = await import("graphql-ws");
  const { createClient: createSseClient } = await import("graphql-sse");
  const { default: WebSocket } = await import("ws");
  const subs: Subscriber[] = [];
  let spec: OpenCommand | undefined;
  let phase = { from: 0, to: 0 };
  let latencies = new Float64Array(1 << 16);
  let deliveries = 0;
  let duplicates = 0;
  let wrong = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuAtStart = process.cpuUsage();
  const errors: string[] = [];
  /**
   * Streams the server ended (e.g. a client process too busy to answer keep-alive pings in
   * time). Not errors by themselves: a subscriber that then misses deliveries counts as missing.
   */
  const disconnects: string[] = [];
  const fail = (msg: string) => {
    if (errors.length < 20) errors.push(msg);
  };

  type Payload = {
    type: string;
    resourceVersion: string;
    pod: { name?: string; namespace: string; annotations: Record<string, string> } & Record<string, unknown>;
  };

  const onEvent = (s: Subscriber, data: Record<string, Payload>) => {
    const at = now();
    const e = data[FIELD]!;
    const o = spec!;
    if (!s.ready) {
      if (e.type === "ADDED") s.initialAdded++;
      else if (e.type === "SYNCED") {
        s.ready = true;
        if (s.initialAdded !== o.pods) {
          wrong++;
          fail(`initial state had ${s.initialAdded} pods, expected ${o.pods}`);
        }
      } else {
        wrong++;
        fail(`unexpected ${e.type} before SYNCED`);
      }
      return;
    }
    const seq = Number(e.pod?.annotations?.[SEQ]);
    const sent = Number(e.pod?.annotations?.[SENT]);
    const name = s.variant === 0 ? e.pod?.name : e.pod?.[`v${s.variant}`];
    const rv = BigInt(e.resourceVersion);
    if (
      e.type !== "MODIFIED" ||
      !Number.isInteger(seq) ||
      seq < phase.from ||
      seq >= phase.to ||
      name !== `fan-${seq % o.pods}` ||
      e.pod.namespace !== o.namespace ||
      rv <= s.lastRv
    ) {
      wrong++;
      fail(`wrong delivery: ${JSON.stringify(e).slice(0, 300)}`);
      return;
    }
    s.lastRv = rv;
    if (s.seen[seq]) {
      duplicates++;
      fail(`seq ${seq} delivered twice`);
      return;
    }
    s.seen[seq] = 1;
    s.phaseCount++;
    if (deliveries === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[deliveries++] = at - sent;
    if (!firstAt) firstAt = at;
    lastAt = at;
  };

  const open = (index: number): Subscriber => {
    const o = spec!;
    const s: Subscriber = {
      transport: o.transports[index % o.transports.length]!,
      variant: index % o.documents,
      ready: false,
      initialAdded: 0,
      seen: new Uint8Array(o.maxSeq),
      lastRv: 0n,
      phaseCount: 0,
      stopped: false,
      stop: () => {},
    };
    const request = { query: documentFor(s.variant), variables: { ns: o.namespace } };
    const sink = {
      next: (v: { data?: Record<string, Payload> | null; errors?: unknown[] }) => {
        if (v.errors) fail(`errors: ${JSON.stringify(v.errors).slice(0, 300)}`);
        if (v.data) onEvent(s, v.data);
      },
      error: (e: unknown) => {
        // Errors after the subscriber was stopped (its connection closing) do not count.
        if (s.stopped) return;
        const c = e as { code?: number; reason?: string; message?: string };
        const what = c?.message ?? (c?.code !== undefined ? `closed ${c.code} ${c.reason ?? ""}` : String(e));
        disconnects.push(`${s.transport} stream ended: ${what}`);
      },
      complete: () => {},
    };
    const headers = o.authorization ? { authorization: o.authorization } : undefined;
    if (s.transport === "ws") {
      const client = createWsClient({
        url: o.url.replace(/^http/, "ws"),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: headers,
      });
      const unsubscribe = client.subscribe(request, sink as never);
      s.stop = () => {
        s.stopped = true;
        unsubscribe();
        void client.dispose();
      };
    } else {
      const client = createSseClient({ url: o.url, retryAttempts: 0, headers });
      const unsubscribe = client.subscribe(request, sink as never);
      s.stop = () => {
        s.stopped = true;
        unsubscribe();
        client.dispose();
      };
    }
    return s;
  };

  const until = async (cond: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return cond();
  };

  process.on("message", async (m: OpenCommand | ExpectCommand | { cmd: "collect" | "close" | "exit" }) => {
    if (m.cmd === "open") {
      spec = m;
      // Open in waves, so that thousands of handshakes do not all time out at once.
      for (let i = 0; i < m.count; i += 200) {
        const wave: Subscriber[] = [];
        for (let j = i; j < Math.min(m.count, i + 200); j++) wave.push(open(m.first + j));
        subs.push(...wave);
        await until(() => wave.every((s) => s.ready), 60_000);
      }
      const ready = await until(() => subs.every((s) => s.ready), 60_000);
      process.send!({
        cmd: "opened",
        ready: subs.filter((s) => s.ready).length,
        ok: ready,
        errors,
        disconnects: disconnects.splice(0),
      });
    } else if (m.cmd === "expect") {
      phase = { from: m.from, to: m.to };
      deliveries = 0;
      duplicates = 0;
      wrong = 0;
      firstAt = 0;
      lastAt = 0;
      errors.length = 0;
      for (const s of subs) s.phaseCount = 0;
      cpuAtStart = process.cpuUsage();
      process.send!({ cmd: "expecting" });
    } else if (m.cmd === "collect") {
      const want = phase.to - phase.from;
      const complete = await until(() => subs.every((s) => s.phaseCount >= want), 60_000);
      const missing = subs.reduce((n, s) => n + Math.max(0, want - s.phaseCount), 0);
      const report: PhaseReport = {
        deliveries,
        latencies: latencies.slice(0, deliveries),
        missing,
        duplicates,
        wrong,
        firstAt,
        lastAt,
        errors: [...errors],
        disconnects: disconnects.splice(0),
        complete,
        cpuSeconds: (() => {
          const u = process.cpuUsage(cpuAtStart);
          return (u.user + u.system) / 1e6;
        })(),
      };
      process.send!({ cmd: "report", report });
    } else if (m.cmd === "close") {
      for (const s of subs.splice(0)) s.stop();
      process.send!({ cmd: "closed" });
    } else if (m.cmd === "exit") {
      process.exit(0);
    }
  });
  process.send!({ cmd: "started" });
}

// ---- the cluster side: pods to change, on the simulator or through a kubeconfig ----

interface PodChanger {
  /** Creates the namespace and `pods` pods named fan-0 ... */
  setup(pods: number): Promise<void>;
  /** Writes seq and the send time into fan-(seq % pods)'s annotations. */
  change(seq: number, pods: number): Promise<void> | void;
  /** True when writes are cheap and synchronous (the in-process simulator). */
  readonly inProcess: boolean;
  cleanup(): Promise<void>;
}

function simChanger(sim: SandboxCluster, namespace: string): PodChanger {
  return {
    inProcess: true,
    async setup(pods) {
      sim.create("namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: namespace, uid: "", resourceVersion: "" },
      });
      // Realistic objects: the first seeded pod's spec and status, when there is one.
      const template = sim.list("pods")[0];
      for (let i = 0; i < pods; i++) sim.create("pods", fanoutPod(namespace, i, template));
    },
    change(seq, pods) {
      sim.patch("pods", namespace, `fan-${seq % pods}`, {
        metadata: { annotations: { [SEQ]: String(seq), [SENT]: now().toFixed(3) } },
      });
    },
    async cleanup() {},
  };
}

function fanoutPod(namespace: string, i: number, template?: KubeObject): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `fan-${i}`, namespace, labels: { app: "fanout" }, uid: "", resourceVersion: "" },
    spec: template?.spec ?? { containers: [{ name: "c", image: "registry.example/fanout:1" }] },
    status: template?.status ?? { phase: "Pending" },
  } as KubeObject;
}

/** Through the cluster's API with the kubeconfig's credentials (what a controller would do). */
async function apiChanger(kubeconfig: string, namespace: string): Promise<PodChanger> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const server = new URL(kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const agent =
    server.protocol === "https:"
      ? new https.Agent({
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          rejectUnauthorized: opts.rejectUnauthorized,
          keepAlive: true,
          maxSockets: 32,
        })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
  const call = (method: string, path: string, body?: unknown, type = "application/json") =>
    new Promise<number>((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const mod = server.protocol === "https:" ? https : http;
      const req = mod.request(
        new URL(path, server),
        {
          method,
          agent,
          headers: {
            ...(opts.headers as Record<string, string>),
            accept: "application/json",
            ...(payload ? { "content-type": type, "content-length": payload.length } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  const ok = async (what: string, status: Promise<number>, allowed: number[] = []) => {
    const s = await status;
    if ((s < 200 || s >= 300) && !allowed.includes(s)) throw new Error(`${what}: HTTP ${s}`);
  };
  return {
    inProcess: false,
    async setup(pods) {
      await ok(
        "create namespace",
        call("POST", "/api/v1/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: namespace },
        }),
        [409],
      );
      for (let i = 0; i < pods; i++)
        await ok(
          `create pod fan-${i}`,
          call("POST", `/api/v1/namespaces/${namespace}/pods`, fanoutPod(namespace, i)),
          [409],
        );
    },
    change: (seq, pods) =>
      ok(
        `patch pod fan-${seq % pods}`,
        call(
          "PATCH",
          `/api/v1/namespaces/${namespace}/pods/fan-${seq % pods}`,
          { metadata: { annotations: { [SEQ]: String(seq), [SENT]: now().toFixed(3) } } },
          "application/merge-patch+json",
        ),
      ),
    async cleanup() {
      // The pods first, at once (no kubelet needs to confirm unscheduled pods), then the namespace.
      await call("DELETE", `/api/v1/namespaces/${namespace}/pods?gracePeriodSeconds=0`).catch(() => 0);
      await call("DELETE", `/api/v1/namespaces/${namespace}`).catch(() => 0);
      agent.destroy();
    },
  };
}

// ---- the gateway process: start, CPU time and memory ----

/** kgql as its own process (bench/lib/procs.ts), with a CPU profile when asked. */
function startGateway(kubeconfig: string, profileDir?: string): Promise<ServerProcess> {
  return startKgql(kubeconfig, profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []);
}

let clockTicks: number | undefined;
/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/** The gateway's own view of its memory and subscriptions, from /metrics (prom-client). */
async function gatewayMetrics(
  url: string,
): Promise<{ heapMB?: number; rssMB?: number; subscriptions?: number }> {
  try {
    const text = await (await fetch(url.replace("/graphql", "/metrics"))).text();
    const read = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const mb = (v: number | undefined) => (v === undefined ? undefined : Math.round(v / 1e5) / 10);
    return {
      heapMB: mb(read("nodejs_heap_size_used_bytes")),
      rssMB: mb(read("process_resident_memory_bytes")),
      subscriptions: read("kgql_active_subscriptions"),
    };
  } catch {
    return {};
  }
}

// ---- the orchestration ----

export interface FanoutOptions {
  /** Subscribers for the latency and throughput phases (default 1000). */
  subscribers?: number;
  /** Idle subscribers for the memory phase (default 10000; 0 skips it). */
  idle?: number;
  /**
   * Changes in the latency phase (default 100), at `rate` per second (default 10: each change
   * is a burst of one delivery per subscriber, 10k deliveries/s at 1,000 subscribers).
   */
  events?: number;
  rate?: number;
  /** Changes in the throughput phase, applied as fast as the cluster takes them (default 300). */
  burst?: number;
  transport?: "both" | "ws" | "sse";
  /** Distinct subscription documents among the subscribers (default 1). */
  documents?: number;
  /** Client processes (default 2). */
  workers?: number;
  /** Pods changed in turn (default 20). */
  pods?: number;
  /** A cluster to run on (its namespace kgql-fanout is created and deleted); default: a simulator. */
  kubeconfig?: string;
  /** A simulator to run on (it must be started); default: a new one. */
  sim?: SandboxCluster;
  /** A kgql already serving that cluster; default: one started here. */
  gatewayUrl?: string;
  /** Its process id, for CPU time and RSS (only with gatewayUrl). */
  gatewayPid?: number;
  /** An Authorization header for the subscribers (a gateway run with --auth kubernetes). */
  authorization?: string;
  log?: (line: string) => void;
  /** Write a CPU profile of the gateway process (one started here) to this directory. */
  profileDir?: string;
}

export interface LatencySummary {
  deliveries: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface FanoutResult {
  time: string;
  machine: { cpus: number; model?: string; memoryGB: number };
  node: string;
  cluster: string;
  subscribers: number;
  transports: Transport[];
  documents: number;
  pods: number;
  openSeconds: number;
  latency: LatencySummary & {
    events: number;
    rate: number;
    gatewayCpuSeconds?: number;
    /** CPU the client processes used: on a small machine they compete with the gateway. */
    clientCpuSeconds: number;
    errors: number;
  };
  throughput: LatencySummary & {
    events: number;
    seconds: number;
    deliveriesPerSecond: number;
    gatewayCpuSeconds?: number;
    deliveriesPerCpuSecond?: number;
    clientCpuSeconds: number;
    errors: number;
  };
  idle?: {
    subscribers: number;
    baselineRssMB?: number;
    rssMB?: number;
    baselineHeapMB?: number;
    heapMB?: number;
    /** Measured on a gateway started for this phase (one started by runFanout). */
    freshGateway: boolean;
    kbPerSubscriber?: number;
  };
  goals: Record<string, boolean | undefined>;
  errors: string[];
  /** Streams the server ended outside the measured deliveries (see the worker). */
  disconnects: { count: number; examples: string[] };
}

interface Worker {
  child: ChildProcess;
  request<T>(msg: object, reply: string): Promise<T>;
}

function startWorker(): Promise<Worker> {
  const child = fork(new URL(import.meta.url), ["--worker"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  const request = <T>(msg: object, reply: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: { cmd: string }) => {
        if (m.cmd !== reply) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(m as T);
      };
      const onExit = (code: number) => reject(new Error(`fan-out worker exited with ${code}`));
      child.on("message", onMessage);
      child.once("exit", onExit);
      if (Object.keys(msg).length) child.send(msg);
    });
  const started = request({}, "started");
  return started.then(() => ({ child, request }));
}

const round2 = (v: number) => Math.round(v * 100) / 100;

function summarize(reports: PhaseReport[]): LatencySummary {
  const all = new Float64Array(reports.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of reports) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  all.sort();
  return {
    deliveries: all.length,
    p50: round2(pct(all, 50)),
    p90: round2(pct(all, 90)),
    p99: round2(pct(all, 99)),
    max: round2(all.length ? all[all.length - 1]! : Number.NaN),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFanout(opts: FanoutOptions = {}): Promise<FanoutResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const subscribers = opts.subscribers ?? 1000;
  const idle = opts.idle ?? 10_000;
  const events = opts.events ?? 100;
  const rate = opts.rate ?? 10;
  const burst = opts.burst ?? 300;
  const documents = Math.max(1, opts.documents ?? 1);
  const workerCount = Math.max(1, opts.workers ?? 2);
  const pods = opts.pods ?? 20;
  const transports: Transport[] =
    opts.transport === "ws" ? ["ws"] : opts.transport === "sse" ? ["sse"] : ["ws", "sse"];
  // Its own namespace per run on a real cluster: a deleted one can stay Terminating a while.
  const namespace = opts.kubeconfig && !opts.sim ? `kgql-fanout-${Date.now().toString(36)}` : "kgql-fanout";
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const errors: string[] = [];
  const disconnects: string[] = [];
  try {
    // The cluster.
    let kubeconfig = opts.kubeconfig;
    let changer: PodChanger;
    let cluster: string;
    if (opts.kubeconfig && !opts.sim) {
      changer = await apiChanger(opts.kubeconfig, namespace);
      cluster = `kubeconfig ${opts.kubeconfig}`;
    } else {
      let sim = opts.sim;
      if (!sim) {
        const { SandboxCluster, seedDemo } = await import("../src/sandbox/index.ts");
        sim = new SandboxCluster({ historyLimit: events + burst + 10_000 });
        await sim.start();
        seedDemo(sim, { namespaces: 3, nodes: 3, deploymentsPerNamespace: 4, replicas: 3 });
        const own = sim;
        cleanups.push(() => own.stop());
      }
      if (!kubeconfig) {
        kubeconfig = `${os.tmpdir()}/kgql-bench-fanout-${process.pid}.kubeconfig`;
        await sim.writeKubeconfig(kubeconfig);
      }
      changer = simChanger(sim, namespace);
      cluster = "simulator";
    }
    await changer.setup(pods);
    cleanups.push(() => changer.cleanup());

    // The gateway.
    let url = opts.gatewayUrl;
    let pid = opts.gatewayPid;
    let own: ServerProcess | undefined;
    if (!url) {
      const gw = await startGateway(kubeconfig!, opts.profileDir);
      own = gw;
      cleanups.push(() => gw.stop());
      url = gw.url;
      pid = gw.pid;
    }
    let baselineRss = rssMB(pid);
    let baseline = await gatewayMetrics(url);

    // The clients.
    const workers = await Promise.all(Array.from({ length: workerCount }, startWorker));
    cleanups.push(async () => {
      for (const w of workers) {
        w.child.send({ cmd: "exit" });
        await new Promise((r) => (w.child.exitCode !== null ? r(0) : w.child.once("exit", r)));
      }
    });
    const maxSeq = events + burst;
    const openAll = async (count: number) => {
      const t0 = performance.now();
      const per = Math.ceil(count / workerCount);
      const replies = await Promise.all(
        workers.map((w, i) =>
          w.request<{ ready: number; ok: boolean; errors: string[]; disconnects: string[] }>(
            {
              cmd: "open",
              url: url!,
              namespace,
              pods,
              first: i * per,
              count: Math.max(0, Math.min(per, count - i * per)),
              transports,
              documents,
              maxSeq,
              authorization: opts.authorization,
            } satisfies OpenCommand,
            "opened",
          ),
        ),
      );
      const ready = replies.reduce((n, r) => n + r.ready, 0);
      for (const r of replies) {
        errors.push(...r.errors);
        disconnects.push(...r.disconnects);
      }
      if (ready !== count) throw new Error(`only ${ready} of ${count} subscribers got their initial state`);
      return (performance.now() - t0) / 1000;
    };
    const closeAll = () => Promise.all(workers.map((w) => w.request({ cmd: "close" }, "closed")));
    const phase = async (from: number, to: number, apply: () => Promise<void>) => {
      await Promise.all(workers.map((w) => w.request({ cmd: "expect", from, to }, "expecting")));
      const cpu0 = cpuSeconds(pid);
      const t0 = now();
      await apply();
      const reports = (
        await Promise.all(
          workers.map((w) => w.request<{ report: PhaseReport }>({ cmd: "collect" }, "report")),
        )
      ).map((r) => r.report);
      const cpu1 = cpuSeconds(pid);
      const bad = reports.reduce((n, r) => n + r.missing + r.duplicates + r.wrong, 0);
      for (const r of reports) {
        errors.push(...r.errors);
        disconnects.push(...r.disconnects);
      }
      if (bad)
        errors.push(
          `phase ${from}..${to}: missing ${reports.reduce((n, r) => n + r.missing, 0)}, doubled ${reports.reduce((n, r) => n + r.duplicates, 0)}, wrong ${reports.reduce((n, r) => n + r.wrong, 0)}`,
        );
      const lastAt = Math.max(...reports.map((r) => r.lastAt));
      return {
        reports,
        bad,
        // lastAt is 0 when nothing was delivered (e.g. --subscribers 0 for the idle phase alone).
        seconds: lastAt > 0 ? (lastAt - t0) / 1000 : 0,
        cpu: cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined,
      };
    };

    log(`fan-out: opening ${subscribers} subscribers (${transports.join("+")}, ${documents} document(s))`);
    const openSeconds = await openAll(subscribers);
    log(`fan-out: ${subscribers} subscribers ready in ${openSeconds.toFixed(1)} s`);

    // Latency: a steady rate well inside the gateway's capacity.
    log(`fan-out: latency phase, ${events} changes at ${rate}/s`);
    const lat = await phase(0, events, async () => {
      const t0 = performance.now();
      for (let seq = 0; seq < events; seq++) {
        const wait = t0 + (seq * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        await changer.change(seq, pods);
      }
    });
    const latency = {
      events,
      rate,
      ...summarize(lat.reports),
      gatewayCpuSeconds: lat.cpu === undefined ? undefined : round2(lat.cpu),
      clientCpuSeconds: round2(lat.reports.reduce((n, r) => n + r.cpuSeconds, 0)),
      errors: lat.bad,
    };
    log(`fan-out: latency ${JSON.stringify(latency)}`);

    // Throughput: changes as fast as the cluster takes them.
    log(`fan-out: throughput phase, ${burst} changes`);
    const thr = await phase(events, events + burst, async () => {
      if (changer.inProcess) {
        // Yield now and then so that the simulator's watch stream is written out as it goes.
        for (let seq = events; seq < events + burst; seq++) {
          changer.change(seq, pods);
          if (seq % 10 === 9) await new Promise((r) => setImmediate(r));
        }
      } else {
        let next = events;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < events + burst) await changer.change(next++, pods);
          }),
        );
      }
    });
    const deliveries = thr.reports.reduce((n, r) => n + r.deliveries, 0);
    const throughput = {
      events: burst,
      ...summarize(thr.reports),
      seconds: round2(thr.seconds),
      deliveriesPerSecond: thr.seconds > 0 ? Math.round(deliveries / thr.seconds) : 0,
      gatewayCpuSeconds: thr.cpu === undefined ? undefined : round2(thr.cpu),
      deliveriesPerCpuSecond: thr.cpu ? Math.round(deliveries / thr.cpu) : undefined,
      clientCpuSeconds: round2(thr.reports.reduce((n, r) => n + r.cpuSeconds, 0)),
      errors: thr.bad,
    };
    log(`fan-out: throughput ${JSON.stringify(throughput)}`);
    await closeAll();

    // Idle: many subscribers that receive nothing.
    let idleResult: FanoutResult["idle"];
    if (idle > 0) {
      // On a gateway of its own, a fresh one: memory the bursts above left behind (V8 returns
      // freed heap to the system slowly) is not counted as the idle subscribers'.
      if (own) {
        await own.stop();
        const gw = await startGateway(kubeconfig!);
        own = gw;
        cleanups.push(() => gw.stop());
        url = gw.url;
        pid = gw.pid;
        await sleep(1000);
        baselineRss = rssMB(pid);
        baseline = await gatewayMetrics(url);
      }
      log(`fan-out: opening ${idle} idle subscribers${own ? " on a fresh gateway" : ""}`);
      await sleep(1000);
      const before = { rss: rssMB(pid), ...(await gatewayMetrics(url)) };
      const seconds = await openAll(idle);
      await sleep(3000);
      const m = await gatewayMetrics(url);
      const rss = rssMB(pid) ?? m.rssMB;
      idleResult = {
        subscribers: idle,
        baselineRssMB: baselineRss ?? baseline.rssMB,
        rssMB: rss,
        baselineHeapMB: baseline.heapMB,
        heapMB: m.heapMB,
        freshGateway: own !== undefined,
        kbPerSubscriber:
          rss !== undefined && before.rss !== undefined
            ? Math.round(((rss - before.rss) * 1024) / idle)
            : undefined,
      };
      if (m.subscriptions !== undefined && m.subscriptions < idle)
        errors.push(`the gateway reports ${m.subscriptions} open subscriptions, expected ${idle}`);
      log(`fan-out: ${idle} idle subscribers open in ${seconds.toFixed(1)} s: ${JSON.stringify(idleResult)}`);
      await closeAll();
    }

    const cpus = os.cpus();
    return {
      time: new Date().toISOString(),
      machine: { cpus: cpus.length, model: cpus[0]?.model, memoryGB: Math.round(os.totalmem() / 2 ** 30) },
      node: process.version,
      cluster,
      subscribers,
      transports,
      documents,
      pods,
      openSeconds: round2(openSeconds),
      latency,
      throughput,
      idle: idleResult,
      goals: {
        // Not measured without deliveries (--subscribers 0 or --events 0).
        "p50 <= 10 ms": latency.deliveries === 0 ? undefined : latency.p50 <= 10,
        "p99 <= 50 ms": latency.deliveries === 0 ? undefined : latency.p99 <= 50,
        ">= 50k deliveries/s per core":
          throughput.deliveriesPerCpuSecond === undefined
            ? undefined
            : throughput.deliveriesPerCpuSecond >= 50_000,
        "10k idle subscribers < 500 MB":
          idleResult?.rssMB === undefined || idle < 10_000 ? undefined : idleResult.rssMB < 500,
        "every delivery checked and right": latency.errors === 0 && throughput.errors === 0,
      },
      errors: [...new Set(errors)].slice(0, 50),
      disconnects: { count: disconnects.length, examples: [...new Set(disconnects)].slice(0, 5) },
    };
  } finally {
    for (const c of cleanups.reverse()) await c();
  }
}

// ---- the command line ----

const usage = `usage: node bench/fanout.ts [options]
  --subscribers N          subscribers of the latency and throughput phases (default 1000; 0: none)
  --idle N                 idle subscribers of the memory phase (default 10000; 0: skip it)
  --events N               changes in the latency phase (default 100; 0: none)
  --rate R                 ...at R per second (default 10; fractions allowed, > 0)
  --burst N                changes in the throughput phase, as fast as taken (default 300; 0: none)
  --transport both|ws|sse  the subscribers' transport (default both: alternating)
  --documents N            distinct subscription documents (default 1)
  --workers N              client processes (default 2)
  --pods N                 pods changed in turn (default 20)
  --sim                    on a simulator (the default; overrides --kubeconfig)
  --kubeconfig PATH        on that cluster instead (creates and deletes a namespace of pods)
  --json FILE              also write the result to FILE
  --profile DIR            write a CPU profile of the gateway process into DIR
  --help                   this text
The idle phase alone: --subscribers 0 --events 0 --burst 0.`;

if (process.argv.includes("--worker")) {
  await worker();
} else if (import.meta.main) {
  const { values } = parseOptions(usage, {
    options: {
      subscribers: { type: "string", default: "1000" },
      idle: { type: "string", default: "10000" },
      events: { type: "string", default: "100" },
      rate: { type: "string", default: "10" },
      burst: { type: "string", default: "300" },
      transport: { type: "string", default: "both" },
      documents: { type: "string", default: "1" },
      workers: { type: "string", default: "2" },
      pods: { type: "string", default: "20" },
      sim: { type: "boolean", default: false },
      kubeconfig: { type: "string" },
      json: { type: "string" },
      profile: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  if (!["both", "ws", "sse"].includes(values.transport))
    usageError(`--transport must be both, ws or sse, not "${values.transport}"`, usage);
  // Every value checked before the simulator, the gateway or a worker starts.
  const opt = checkedOptions(values, usage);
  const options: FanoutOptions = {
    subscribers: opt.int("subscribers", 0), // 0: the idle phase alone
    idle: opt.int("idle", 0), // 0: no idle phase
    events: opt.int("events", 0),
    rate: opt.number("rate", 0, true), // changes are spaced 1000/rate ms apart
    burst: opt.int("burst", 0),
    transport: values.transport as FanoutOptions["transport"],
    documents: opt.int("documents", 1),
    workers: opt.int("workers", 1),
    pods: opt.int("pods", 1), // change k goes to pod k % pods
    kubeconfig: values.sim ? undefined : values.kubeconfig,
    profileDir: values.profile,
  };
  const result = await runFanout(options);
  const text = JSON.stringify(result, null, 2);
  if (values.json) writeFileSync(values.json, text);
  console.log(text);
  process.exit(result.goals["every delivery checked and right"] && result.errors.length === 0 ? 0 : 1);
}
