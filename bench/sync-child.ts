// Runs in its own process so heap figures are the informer's alone: syncs pods from a
// kubeconfig with kgql's informer or with @kubernetes/client-node's makeInformer, then reports
// sync time, peak and steady heap, and the rate at which watch events are applied.
import * as k8s from "@kubernetes/client-node";
import { KubeClient } from "../src/informers/client.ts";
import { SharedInformer } from "../src/informers/shared-informer.ts";
import { kindByResource } from "../src/kinds.ts";

const [mode, kubeconfig, expectedText, eventsText] = process.argv.slice(2);
const expected = Number(expectedText);
const events = Number(eventsText ?? 0);
const gc = (globalThis as { gc?: () => void }).gc!;

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().heapUsed);
}, 5);
gc();
const baseline = process.memoryUsage().heapUsed;
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig!);
const start = performance.now();
let size: () => number;
let rvOf: () => number;
/** When the first change after the sync arrived (start of the event-rate window). */
let firstEventAt = 0;
let synced = false;
const onEvent = () => {
  if (synced && !firstEventAt) firstEventAt = performance.now();
};
if (mode === "kgql") {
  const informer = new SharedInformer({
    client: await KubeClient.fromKubeConfig(kc),
    resource: kindByResource("pods")!,
  });
  informer.addSyncListener(onEvent);
  informer.start();
  await informer.waitForSync();
  size = () => informer.store.size;
  rvOf = () => Number(informer.lastSyncResourceVersion);
} else {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, "/api/v1/pods", () => api.listPodForAllNamespaces());
  let lastRV = 0;
  const track = (o: k8s.V1Pod) => {
    onEvent();
    lastRV = Math.max(lastRV, Number(o.metadata?.resourceVersion ?? 0));
  };
  informer.on("add", track);
  informer.on("update", track);
  await informer.start();
  size = () => informer.list().length;
  rvOf = () => lastRV;
}
const syncMs = performance.now() - start;
synced = true;
peak = Math.max(peak, process.memoryUsage().heapUsed);
gc();
const steady = process.memoryUsage().heapUsed;
const result: Record<string, number | string> = {
  mode: mode!,
  objects: size(),
  syncMs: Math.round(syncMs),
  peakHeapMB: Math.round(peak / 1e5) / 10,
  steadyHeapMB: Math.round(steady / 1e5) / 10,
  bytesPerObject: Math.round((steady - baseline) / size()),
};
if (size() !== expected) result.error = `expected ${expected} objects, got ${size()}`;
process.send!({ ready: true, rv: rvOf(), ...result });
if (events > 0) {
  // The parent now applies `events` updates; measure until the last one is in the cache.
  const target = await new Promise<number>((resolve) =>
    process.once("message", (m: { targetRV: number }) => resolve(m.targetRV)),
  );
  while (rvOf() < target) await new Promise((r) => setImmediate(r));
  result.eventsPerSecond = Math.round(events / ((performance.now() - firstEventAt) / 1000));
}
clearInterval(sampler);
process.send!({ done: true, ...result });
process.exit(0);
