// The topology page at 10,000 pods on the simulator, in Debian's headless Chromium: time to
// first paint and to the whole graph drawn live, then frame times while Deployments roll out
// (each rollout replaces 50 pods: a new ReplicaSet, 50 pods created, 50 terminating, then gone).
//
//   npm run bench:ui -- [--pods 10000] [--rollouts 40] [--interval-ms 250]
//
// Needs /usr/bin/chromium (apt-get install chromium) or KGQL_CHROMIUM. Not part of npm test.
import { parseArgs } from "node:util";
import { Churn } from "../src/sandbox/churn.ts";
import { SandboxCluster, seedDemo } from "../src/sandbox/index.ts";
import { startGatewayServer } from "../src/server/index.ts";
import { ensureUiBuilt, openBrowser, screenshot } from "../test/browser/chromium.ts";
import { clientFor } from "../test/helpers/sandbox.ts";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "10000" },
    rollouts: { type: "string", default: "40" },
    "interval-ms": { type: "string", default: "250" },
  },
});
/** What the page publishes about itself (src/ui/main.ts). */
interface TopoWindow {
  kgqlTopology?: {
    nodes: number;
    edges: number;
    pods: number;
    live: boolean;
    frames: number;
    frameWorkMs: number;
    maxFrameWorkMs: number;
  };
}

const REPLICAS = 50;
const NAMESPACES = 10;
const pods = Number(values.pods);
const rollouts = Number(values.rollouts);
const intervalMs = Number(values["interval-ms"]);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

ensureUiBuilt();
const sim = new SandboxCluster();
await sim.start();
const deploymentsPerNamespace = Math.max(1, Math.round(pods / NAMESPACES / REPLICAS));
seedDemo(sim, { namespaces: NAMESPACES, nodes: 20, deploymentsPerNamespace, replicas: REPLICAS });
const kgql = await startGatewayServer({ client: await clientFor(sim), port: 0 });
await kgql.gateway.factory.waitForCacheSync(60_000);
const livePods = () => sim.list("pods").filter((p) => !p.metadata.deletionTimestamp).length;
const expected = sim.list("pods").length;
const session = await openBrowser({ width: 1600, height: 1000 });
const page = session.page;
// Every frame's interval, and long tasks (the main thread busy for > 50 ms), from page start.
await page.addInitScript(() => {
  const w = window as unknown as { benchFrames: number[]; benchLong: number[] };
  w.benchFrames = [];
  w.benchLong = [];
  let last = performance.now();
  const tick = (t: number) => {
    w.benchFrames.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.benchLong.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
});

try {
  await page.goto(kgql.url.replace(/\/graphql$/, "/ui"));
  await page.waitForFunction(
    (n) => {
      const t = (window as unknown as TopoWindow).kgqlTopology;
      // Every pod in the model, and a layout of the whole graph drawn (not an earlier one's).
      return t?.live && t.pods === n && document.querySelectorAll("g[data-id]").length === t.nodes;
    },
    expected,
    { timeout: 120_000, polling: 50 },
  );
  const load = await page.evaluate(() => ({
    fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? 0,
    live: performance.now(),
    layoutMs: Number(document.body.dataset.layoutMs),
    nodes: (window as unknown as TopoWindow).kgqlTopology!.nodes,
    edges: (window as unknown as TopoWindow).kgqlTopology!.edges,
    svgElements: document.querySelectorAll("svg *").length,
    longTasks: (window as unknown as { benchLong: number[] }).benchLong.slice(),
  }));
  await screenshot(page, "bench-ui-10k");
  // Zoomed out, the whole graph (the page opens at the smallest readable scale).
  await page.mouse.move(800, 500);
  await page.mouse.wheel(0, 600);
  await screenshot(page, "bench-ui-10k-overview");

  // The rollouts: one every intervalMs, each one's terminating pods deleted at the next.
  await page.evaluate(() => {
    const w = window as unknown as {
      benchFrames: number[];
      benchLong: number[];
      kgqlTopology: { frames: number; frameWorkMs: number; maxFrameWorkMs: number };
    };
    w.benchFrames.length = 0;
    w.benchLong.length = 0;
  });
  const before = await page.evaluate(() => ({ ...(window as unknown as TopoWindow).kgqlTopology! }));
  const cdp = process.env.KGQL_BENCH_PROFILE ? await page.context().newCDPSession(page) : undefined;
  if (cdp) {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.start");
  }
  const churn = new Churn(sim, 11);
  const deployments = sim.list("deployments");
  const started = Date.now();
  for (let i = 0; i < rollouts; i++) {
    for (const p of sim.list("pods")) {
      if (p.metadata.deletionTimestamp) sim.delete("pods", p.metadata.namespace!, p.metadata.name);
    }
    const dep = deployments[(i * 7) % deployments.length]!;
    churn.rollout(sim.get("deployments", dep.metadata.namespace!, dep.metadata.name)!);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  for (const p of sim.list("pods")) {
    if (p.metadata.deletionTimestamp) sim.delete("pods", p.metadata.namespace!, p.metadata.name);
  }
  const rolloutSeconds = (Date.now() - started) / 1000;
  if (cdp) {
    // The page's hottest functions during the rollouts (self time), for finding what to speed up.
    const { profile } = await cdp.send("Profiler.stop");
    const self = new Map<string, number>();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples?.forEach((id, i) => {
      const f = byId.get(id)!.callFrame;
      const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").pop()}:${f.lineNumber}:${f.columnNumber}`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas?.[i] ?? 0));
    });
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
      console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
  const final = livePods();
  await page.waitForFunction((n) => (window as unknown as TopoWindow).kgqlTopology?.pods === n, final, {
    timeout: 60_000,
  });
  const during = await page.evaluate(() => {
    const w = window as unknown as { benchFrames: number[]; benchLong: number[] };
    return {
      frames: w.benchFrames.slice(),
      longTasks: w.benchLong.slice(),
      topo: { ...(window as unknown as TopoWindow).kgqlTopology! },
    };
  });
  await screenshot(page, "bench-ui-10k-after-rollouts");
  const frames = during.frames;
  const graphFrames = during.topo.frames - before.frames;
  const rows = [
    ["pods (cluster-wide view)", String(expected)],
    ["graph drawn", `${load.nodes} nodes, ${load.edges} edges, ${load.svgElements} SVG elements`],
    ["first contentful paint", ms(load.fcp)],
    ["every stream SYNCED, all pods in the model, laid out and drawn", ms(load.live)],
    ["  of which the dagre layout (in the worker)", ms(load.layoutMs)],
    [
      "long tasks (> 50 ms) during the load",
      `${load.longTasks.length}, longest ${ms(Math.max(0, ...load.longTasks))}`,
    ],
    [
      `rollouts: ${rollouts} Deployments x ${REPLICAS} pods in ${rolloutSeconds.toFixed(1)} s`,
      `${rollouts * REPLICAS * 2} pods created or deleted`,
    ],
    [
      "frame interval during the rollouts (p50 / p95 / p99 / max)",
      `${ms(pct(frames, 50))} / ${ms(pct(frames, 95))} / ${ms(pct(frames, 99))} / ${ms(Math.max(...frames))}`,
    ],
    ["frames over 50 ms", `${frames.filter((f) => f > 50).length} of ${frames.length}`],
    [
      "graph rebuild + draw per changed frame (mean / max)",
      `${ms((during.topo.frameWorkMs - before.frameWorkMs) / Math.max(1, graphFrames))} / ${ms(during.topo.maxFrameWorkMs)} over ${graphFrames} frames`,
    ],
    [
      "long tasks during the rollouts",
      `${during.longTasks.length}, longest ${ms(Math.max(0, ...during.longTasks))}`,
    ],
  ];
  console.log("| what | figure |\n| --- | --- |");
  for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
} finally {
  await session.close();
  await kgql.close();
  await sim.stop();
}
