// The fuzz families (test/helpers/fuzz-{http,wire,sse,ws}.ts) against a gateway on the real
// control plane, where the issue was seen, in a shorter pass (0.15 of the simulator's runs,
// about 270 requests and connections in all). Each family gets its own gateway and namespace
// of kwok pods; the checks between families compare kgql's answers with the apiserver's pods.
import { describe } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import {
  type ClusterInfo,
  getCluster,
  type Json,
  kwokPodSpec,
  NO_CLUSTER_REASON,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import type { FuzzTarget } from "../helpers/fuzz.ts";
import { fuzzHttp } from "../helpers/fuzz-http.ts";
import { fuzzSse } from "../helpers/fuzz-sse.ts";
import { fuzzWire } from "../helpers/fuzz-wire.ts";
import { fuzzWs } from "../helpers/fuzz-ws.ts";
import { startKgql } from "../helpers/kgql.ts";

const cluster = await getCluster();

/** A namespace with three kwok pods, and a gateway on the cluster that has them cached. */
async function clusterTarget(): Promise<FuzzTarget> {
  const c = cluster as ClusterInfo;
  const ns = await withNamespace("fuzz");
  const spec = await kwokPodSpec(c);
  const podsPath = `/api/v1/namespaces/${ns.name}/pods`;
  for (const name of ["fuzz-a", "fuzz-b", "fuzz-c"])
    await c.api.post(podsPath, { apiVersion: "v1", kind: "Pod", metadata: { name }, spec });
  const kgql = await startKgql(await KubeClient.fromFile(c.kubeconfig));
  const countQuery = `{ pods(namespace: "${ns.name}") { totalCount } }`;
  const pods = async () => ((await c.api.get(podsPath)).body.items as Json[]).length;
  try {
    await kgql.gateway.factory.waitForCacheSync(20_000);
    // The checks compare with the apiserver: start once kgql has caught up with it.
    await waitFor(
      async () => {
        const res = await fetch(kgql.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: countQuery }),
        });
        return ((await res.json()) as { data?: { pods: { totalCount: number } } }).data?.pods.totalCount;
      },
      { message: "kgql to see the namespace's 3 pods", until: (n) => n === 3, timeoutMs: 30_000 },
    );
  } catch (err) {
    await kgql.close();
    await ns.delete();
    throw err;
  }
  return {
    kgql,
    port: Number(new URL(kgql.url).port),
    countQuery,
    pods,
    deletePod: async () => {
      await c.api.delete(`${podsPath}/fuzz-a`, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
      });
      return "fuzz-a";
    },
    close: async () => {
      await kgql.close();
      await ns.delete();
    },
  };
}

describe("fuzz on the real control plane", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  fuzzHttp(clusterTarget, 0.15);
  fuzzWire(clusterTarget, 0.15);
  fuzzSse(clusterTarget, 0.15);
  fuzzWs(clusterTarget, 0.15);
});
