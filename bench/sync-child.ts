// Runs in its own process so heap figures are the informer's alone: syncs pods from a
// kubeconfig with kgql's informer or with @kubernetes/client-node's makeInformer, then reports
// sync time, peak and steady heap, and the rate at which watch events are applied.
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import v8 from "node:v8";
import * as k8s from "@kubernetes/client-node";
import { KubeClient } from "../src/informers/client.ts";
import { SharedInformer } from "../src/informers/shared-informer.ts";
import { kindByResource } from "../src/kinds.ts";

const [mode, kubeconfig, expectedText, eventsText, profileFile] = process.argv.slice(2);
const expected = Number(expectedText);
const events = Number(eventsText ?? 0);
const gc = (globalThis as { gc?: () => void }).gc!;

/**
 * With a profile file: a CPU profile of the event window, or of the sync when there are no
 * events (start-up excluded either way).
 */
let profiler: Session | undefined;
async function startProfile() {
  profiler = new Session();
  profiler.connect();
  await profiler.post("Profiler.enable");
  await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
  await profiler.post("Profiler.start");
}
if (profileFile && events === 0) await startProfile();

/** This process's peak resident set size so far (VmHWM), in MB. */
function peakRssMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** process.memoryUsage().heapUsed without its cost (that also reads the RSS from /proc). */
const heapUsed = () => v8.getHeapStatistics().used_heap_size;
let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, heapUsed());
}, 5);
gc();
const baseline = heapUsed();
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig!);
const start = performance.now();
const startCpu = process.cpuUsage();
let size: () => number;
/** When the first change after the sync arrived (start of the event-rate window). */
let firstEventAt = 0;
/** The process's CPU time (all threads, GC included) at that moment. */
let firstEventCpu: NodeJS.CpuUsage | undefined;
let synced = false;
/** The highest resourceVersion applied so far. */
let lastRV = 0;
/** Set while waiting for the parent's last update: resolves once it has been applied. */
let target = Number.POSITIVE_INFINITY;
let reached: (() => void) | undefined;
/** Called (synchronously) for every object the informer applied. */
const applied = (rv: string | undefined) => {
  if (synced && !firstEventAt) {
    firstEventAt = performance.now();
    firstEventCpu = process.cpuUsage();
  }
  const n = Number(rv ?? 0);
  if (n > lastRV) lastRV = n;
  if (lastRV >= target) reached?.();
};
if (mode === "kgql") {
  const informer = new SharedInformer({
    client: await KubeClient.fromKubeConfig(kc),
    resource: kindByResource("pods")!,
  });
  informer.addSyncListener((delta) => applied(delta.object.metadata.resourceVersion));
  informer.start();
  await informer.waitForSync();
  size = () => informer.store.size;
  lastRV = Math.max(lastRV, Number(informer.lastSyncResourceVersion));
} else {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, "/api/v1/pods", () => api.listPodForAllNamespaces());
  const track = (o: k8s.V1Pod) => applied(o.metadata?.resourceVersion);
  informer.on("add", track);
  informer.on("update", track);
  await informer.start();
  size = () => informer.list().length;
}
const syncMs = performance.now() - start;
// Client processing: this process's CPU time (all threads, GC included) during the sync; the
// wall time also includes the server producing the list and other processes' use of the cores.
const syncCpu = process.cpuUsage(startCpu);
synced = true;
peak = Math.max(peak, heapUsed());
gc();
const steady = heapUsed();
const result: Record<string, number | string> = {
  mode: mode!,
  objects: size(),
  syncMs: Math.round(syncMs),
  syncCpuMs: Math.round((syncCpu.user + syncCpu.system) / 1000),
  peakHeapMB: Math.round(peak / 1e5) / 10,
  steadyHeapMB: Math.round(steady / 1e5) / 10,
  bytesPerObject: Math.round((steady - baseline) / size()),
  peakRssMB: peakRssMB(),
};
if (size() !== expected) result.error = `expected ${expected} objects, got ${size()}`;
if (profileFile && events > 0) await startProfile();
process.send!({ ready: true, rv: lastRV, ...result });
if (events > 0) {
  // The parent now applies `events` updates; measure until the last one is in the cache.
  await new Promise<void>((resolve) =>
    process.once("message", (m: { targetRV: number }) => {
      target = m.targetRV;
      reached = resolve;
      if (lastRV >= target) resolve();
    }),
  );
  result.eventsPerSecond = Math.round(events / ((performance.now() - firstEventAt) / 1000));
  const cpu = process.cpuUsage(firstEventCpu);
  result.eventsPerCpuSecond = Math.round(events / ((cpu.user + cpu.system) / 1e6));
}
if (profiler) {
  const { profile } = await profiler.post("Profiler.stop");
  writeFileSync(profileFile!, JSON.stringify(profile));
}
clearInterval(sampler);
process.send!({ done: true, ...result });
process.exit(0);
