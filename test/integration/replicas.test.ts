// Two kgql replicas on the same real control plane, as behind one Service: a podStream
// subscriber on replica A disconnects, pods change, and it resumes on replica B with
// `resumeFrom` set to the last resourceVersion A sent. B must send exactly the changes A's
// subscriber missed, then the live ones: the apiserver's own watch of the namespace, opened
// before any change, is the reference for "no gap, no duplicate".
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { KubeClient } from "../../src/informers/client.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import {
  type ClusterInfo,
  getCluster,
  NO_CLUSTER_REASON,
  type TestNamespace,
  waitFor,
  withNamespace,
} from "../helpers/cluster.ts";
import { type Collected, startKgql, subscribe } from "../helpers/kgql.ts";

const cluster = await getCluster();

const STREAM = `subscription ($ns: String, $initial: Boolean, $from: String) {
  podStream(namespace: $ns, initial: $initial, resumeFrom: $from) { type resourceVersion reason pod { name } }
}`;

interface Change {
  type: string;
  name: string;
  resourceVersion: string;
}

const changeOf = (e: { type: string; resourceVersion: string; pod?: { name: string } }): Change => ({
  type: e.type,
  name: e.pod?.name ?? "",
  resourceVersion: e.resourceVersion,
});
const isChange = (e: { type: string }) => ["ADDED", "MODIFIED", "DELETED"].includes(e.type);
const show = (changes: Change[]) => changes.map((c) => `${c.type} ${c.name}@${c.resourceVersion}`);

/** The apiserver's watch of a namespace's pods from a resourceVersion: the reference stream. */
function apiserverWatch(c: ClusterInfo, ns: string, from: string) {
  const seen: Change[] = [];
  let response: IncomingMessage | undefined;
  let lines: ReturnType<typeof createInterface> | undefined;
  const done = c.api
    .stream("GET", `/api/v1/namespaces/${ns}/pods`, {
      query: { watch: 1, resourceVersion: from, allowWatchBookmarks: false },
    })
    .then(async (res) => {
      response = res;
      lines = createInterface({ input: res });
      for await (const line of lines) {
        if (!line.trim()) continue;
        const ev = JSON.parse(line);
        assert.notEqual(ev.type, "ERROR", `the reference watch failed: ${line}`);
        seen.push({
          type: ev.type,
          name: ev.object.metadata.name,
          resourceVersion: ev.object.metadata.resourceVersion,
        });
      }
    })
    .catch(() => {});
  return {
    seen,
    async stop() {
      // Closing the reader ends the loop; destroying the response alone leaves it waiting.
      lines?.close();
      response?.destroy();
      await done;
    },
  };
}

describe("replicas behind one Service", { skip: cluster ? false : NO_CLUSTER_REASON }, () => {
  const c = cluster as ClusterInfo;
  let ns: TestNamespace;
  let replicaA: GatewayServer;
  let replicaB: GatewayServer;
  const pod = (name: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    // No node and no scheduler: the pod stays Pending, so only the test's own changes happen.
    spec: { containers: [{ name: "c", image: "registry.invalid/app:1" }] },
  });
  const podsPath = () => `/api/v1/namespaces/${ns.name}/pods`;
  const create = (name: string) => c.api.post(podsPath(), pod(name));
  const relabel = (name: string, value: string) =>
    c.api.patch(`${podsPath()}/${name}`, { metadata: { labels: { step: value } } }, { patchType: "merge" });
  const remove = (name: string) => c.api.delete(`${podsPath()}/${name}`, { gracePeriodSeconds: 0 });

  before(async () => {
    ns = await withNamespace("replicas");
    for (const name of ["p1", "p2", "p3"]) await create(name);
    // Two gateways, each with its own informers and watches, like two pods of the Deployment.
    const replica = async () => startKgql(await KubeClient.fromFile(c.kubeconfig));
    [replicaA, replicaB] = await Promise.all([replica(), replica()]);
    await Promise.all([replicaA, replicaB].map((r) => r.gateway.factory.waitForCacheSync(20_000)));
  });
  after(async () => {
    await Promise.all([replicaA?.close(), replicaB?.close()]);
    await ns?.delete();
  });

  it("a subscriber resuming on the other replica gets every missed change once, then live ones", async () => {
    const onA: Collected = subscribe("sse", replicaA.url, STREAM, { ns: ns.name, initial: true });
    let onB: Collected | undefined;
    let reference: ReturnType<typeof apiserverWatch> | undefined;
    try {
      await waitFor(() => onA.events.find((e) => e.type === "SYNCED"), {
        message: "A's initial state",
        until: Boolean,
      });
      const synced = onA.events.find((e) => e.type === "SYNCED")!;
      assert.deepEqual(
        onA.events
          .filter(isChange)
          .map((e) => e.pod.name)
          .sort(),
        ["p1", "p2", "p3"],
      );
      reference = apiserverWatch(c, ns.name, synced.resourceVersion);

      // Seen on A, then the subscriber's connection goes away.
      await create("p4");
      await relabel("p1", "a");
      await waitFor(() => onA.events.filter(isChange).length, {
        message: "A's live events",
        until: (n) => n === 5,
      });
      const seenOnA = onA.events.slice(onA.events.indexOf(synced) + 1).map(changeOf);
      onA.stop();
      const last = seenOnA.at(-1)!.resourceVersion;

      // Missed while disconnected.
      await create("p5");
      await relabel("p2", "b");
      await remove("p3");
      await relabel("p4", "c");

      onB = subscribe("ws", replicaB.url, STREAM, { ns: ns.name, from: last });
      await waitFor(() => onB!.events.find((e) => e.type === "SYNCED"), {
        message: "B's replay",
        until: Boolean,
      });
      // Live after the resume.
      await create("p6");
      await remove("p5");
      await waitFor(() => onB!.events.some((e) => e.type === "DELETED" && e.pod?.name === "p5"), {
        message: "B's live events",
        until: Boolean,
        timeoutMs: 10_000,
      }).catch((err) => {
        throw new Error(
          `${err.message}; B sent ${JSON.stringify(onB!.events)}, errors ${JSON.stringify(onB!.errors)}`,
        );
      });
      await waitFor(() => reference!.seen.some((e) => e.type === "DELETED" && e.name === "p5"), {
        message: "the apiserver's watch",
        until: Boolean,
      });

      assert.deepEqual(onB.errors, []);
      assert.ok(
        !onB.events.some((e) => e.type === "RESYNC"),
        `resumed, not resynced: ${JSON.stringify(onB.events)}`,
      );
      const seenOnB = onB.events.filter(isChange).map(changeOf);
      const truth = reference.seen;
      assert.deepEqual(show(seenOnA), show(truth.slice(0, 2)), "A sent what the apiserver saw, in order");
      assert.deepEqual(
        show(seenOnB),
        show(truth.slice(2)),
        "B sent exactly the rest: nothing missed, nothing twice",
      );
      // A pod's deletion is two changes: deletionTimestamp set (MODIFIED), then DELETED.
      assert.deepEqual(
        seenOnB.map((e) => `${e.type} ${e.name}`),
        [
          "ADDED p5",
          "MODIFIED p2",
          "MODIFIED p3",
          "DELETED p3",
          "MODIFIED p4",
          "ADDED p6",
          "MODIFIED p5",
          "DELETED p5",
        ],
      );
    } finally {
      onA.stop();
      onB?.stop();
      await reference?.stop();
    }
  });
});
