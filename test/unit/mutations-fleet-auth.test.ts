// Mutations with --auth kubernetes and several clusters (simulated reviews): each cluster writes
// as the user its own TokenReview returned, and a cluster where the caller's token is not valid
// refuses the write and sends nothing. It must never fall back to kgql's own credentials, nor to
// the user another cluster returned (a token is only valid in the cluster that issued it).
import assert from "node:assert/strict";
import type { OutgoingHttpHeaders } from "node:http";
import { after, before, describe, it } from "node:test";
import type { KubeClient } from "../../src/informers/client.ts";
import type { KubeObject } from "../../src/informers/types.ts";
import { type SandboxCluster, seedDemo } from "../../src/sandbox/index.ts";
import type { GatewayServer } from "../../src/server/index.ts";
import { gql, startKgql } from "../helpers/kgql.ts";
import { captureLog } from "../helpers/log.ts";
import { clientFor, type Reviews, startSandbox, withReviews } from "../helpers/sandbox.ts";

interface SentWrite {
  method: string;
  path: string;
  as: unknown;
}

/** Records each write's method, path and Impersonate-User header (the simulator ignores it). */
function recordingWrites(client: KubeClient, writes: SentWrite[]): KubeClient {
  const send = client.send.bind(client);
  client.send = ((method, path, opts = {}) => {
    if (method !== "GET")
      writes.push({
        method,
        path,
        as: (opts.headers as OutgoingHttpHeaders | undefined)?.["Impersonate-User"],
      });
    return send(method, path, opts);
  }) as KubeClient["send"];
  return client;
}

describe("mutations with --auth kubernetes and several clusters", () => {
  let east: SandboxCluster;
  let west: SandboxCluster;
  let kgql: GatewayServer;
  const eastWrites: SentWrite[] = [];
  const westWrites: SentWrite[] = [];
  const log = captureLog();
  // "alice-east" is a token east issued, unknown to west; "bob-both" is valid in both, and
  // stands for a different user in each.
  const eastReviews: Reviews = {
    user: (t) => ({ "alice-east": { username: "alice" }, "bob-both": { username: "bob@east" } })[t],
    allowed: () => true,
  };
  const westReviews: Reviews = {
    user: (t) => ({ "bob-both": { username: "bob@west" } })[t],
    allowed: () => true,
  };
  const deploymentOf = (sim: SandboxCluster): KubeObject => sim.list("deployments", "default")[0]!;
  const scale = (cluster: string, d: KubeObject, replicas: number) =>
    `mutation { scaleDeployment(cluster: "${cluster}", namespace: "default", name: "${d.metadata.name}", replicas: ${replicas}) { name replicas } }`;

  before(async () => {
    east = await startSandbox();
    west = await startSandbox();
    seedDemo(east, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1, seed: 1 });
    seedDemo(west, { namespaces: 1, nodes: 1, deploymentsPerNamespace: 1, replicas: 1, seed: 2 });
    kgql = await startKgql(undefined as never, {
      auth: "kubernetes",
      enableMutations: true,
      logger: log.logger,
      clusters: [
        {
          name: "east",
          client: recordingWrites(withReviews(await clientFor(east), eastReviews), eastWrites),
        },
        {
          name: "west",
          client: recordingWrites(withReviews(await clientFor(west), westReviews), westWrites),
        },
      ],
    });
    for (const g of kgql.clusters.all()) await g.factory.waitForCacheSync(5000);
  });
  after(async () => {
    await kgql?.close();
    await east?.stop();
    await west?.stop();
  });

  it("a cluster where the token is not valid refuses the write and sends nothing", async () => {
    const d = deploymentOf(west);
    const before = d.spec as { replicas: number };
    const res = await gql(kgql.url, scale("west", d, 5), undefined, { token: "alice-east" });
    assert.equal(res.data?.scaleDeployment ?? null, null);
    assert.equal(res.errors?.[0]?.extensions?.code, "UNAUTHENTICATED", JSON.stringify(res.errors));
    assert.match(res.errors![0]!.message, /west/);
    assert.deepEqual(westWrites, [], "nothing was sent to west");
    assert.equal((deploymentOf(west).spec as { replicas: number }).replicas, before.replicas);
  });

  it("each cluster writes as the user its own review returned", async () => {
    const e = await gql(kgql.url, scale("east", deploymentOf(east), 3), undefined, { token: "alice-east" });
    assert.equal(e.errors, undefined, JSON.stringify(e.errors));
    assert.equal(e.data.scaleDeployment.replicas, 3);
    // Only the cluster written is asked about the caller: west, where alice's token is unknown,
    // is not reviewed (nor listed as refusing her) for a mutation of east.
    assert.equal(e.extensions?.clusterAccess, undefined, JSON.stringify(e.extensions));
    assert.deepEqual(
      eastWrites.map((w) => w.as),
      ["alice"],
    );
    const audit = log.lines.filter((l) => l.audit === "mutation").at(-1);
    assert.equal(audit?.user, "alice");
    assert.equal(audit?.as, "impersonated");
    const w = await gql(kgql.url, scale("west", deploymentOf(west), 2), undefined, { token: "bob-both" });
    assert.equal(w.errors, undefined, JSON.stringify(w.errors));
    assert.deepEqual(
      westWrites.map((x) => x.as),
      ["bob@west"],
    );
  });
});
