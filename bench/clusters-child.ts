// Runs in its own process so that memory figures are kgql's alone: starts kgql's gateway over
// the clusters whose kubeconfigs it is given (as --cluster would), waits until every cluster's
// caches have synced, then reports the sync time and, after a GC, heap and RSS over the
// process's own baseline.
import v8 from "node:v8";
import { KubeClient } from "../src/informers/client.ts";
import { startGatewayServer } from "../src/server/index.ts";

const kubeconfigs = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc!;
const heapUsed = () => v8.getHeapStatistics().used_heap_size;
gc();
const baseline = { heap: heapUsed(), rss: process.memoryUsage().rss };
const start = performance.now();
const server = await startGatewayServer({
  port: 0,
  ui: false,
  clusters: await Promise.all(
    kubeconfigs.map(async (path, i) => ({ name: `c${i}`, client: await KubeClient.fromFile(path) })),
  ),
});
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 10);
const synced = await Promise.all(server.clusters.all().map((g) => g.factory.waitForCacheSync(120_000)));
const syncMs = performance.now() - start;
clearInterval(sampler);
if (synced.some((m) => [...m.values()].some((ok) => !ok))) throw new Error("a cluster did not sync");
const objects = server.clusters
  .all()
  .reduce((n, g) => n + g.factory.status().reduce((m, s) => m + s.objects, 0), 0);
const pods = server.clusters.all().reduce((n, g) => n + g.informer("Pod").store.size, 0);
gc();
const after = { heap: heapUsed(), rss: process.memoryUsage().rss };
process.send!({
  clusters: kubeconfigs.length,
  pods,
  objects,
  syncMs: Math.round(syncMs),
  heapMB: +((after.heap - baseline.heap) / 2 ** 20).toFixed(1),
  rssMB: +(after.rss / 2 ** 20).toFixed(1),
  peakRssMB: +(Math.max(peakRss, after.rss) / 2 ** 20).toFixed(1),
});
await server.close();
process.exit(0);
